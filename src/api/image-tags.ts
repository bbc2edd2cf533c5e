/**
 * `POST /apis/image.openshift.io/v1/namespaces/NS/imagestreamtags`: points a tag at an
 * image another tag already has, as `oc tag` does — the ImageStreamTag body names the
 * destination (`metadata.name: stream:tag`) and the source (`tag.from`: an ImageStreamTag,
 * an ImageStreamImage `stream@sha256:…`, or a DockerImage by digest). The destination's
 * history gets the image and its ImageChange triggers fire as they would for a push.
 */
import { Router } from 'express';
import { InputError } from '../core/errors.js';
import { DNS1123_SUBDOMAIN, type Resource } from '../core/resource.js';
import { quoteInput } from '../core/untrusted-input.js';
import { requestBody } from './body.js';
import { IMAGE_STREAM, recordImageStreamTag, resolveImageReference } from '../registry/image-streams.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { ImageChangeOutcome } from '../triggers/image-change-dispatch.js';
import type { ImageStreamTagUpdate } from '../triggers/image-change.js';

export const IMAGE_STREAM_TAGS = '/apis/image.openshift.io/v1/namespaces/:ns/imagestreamtags';

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_REFERENCE = /^[^@\s]+@(sha256:[a-f0-9]{64})$/;

export interface ImageTagRoutesDeps {
  store: ResourceStore;
  registry: string;
  dispatchImageChange: (update: ImageStreamTagUpdate & { registry?: string }) => Promise<ImageChangeOutcome>;
}

function invalid(field: string, message: string): InputError {
  return new InputError(`ImageStreamTag is invalid: ${field}: ${message}`, { causes: [{ field, message }] });
}

/** `stream:tag` → its parts, each checked; throws naming the field. */
function destination(name: unknown): { stream: string; tag: string } {
  if (typeof name !== 'string') throw invalid('metadata.name', 'Required value: stream:tag');
  const idx = name.lastIndexOf(':');
  const stream = idx > 0 ? name.slice(0, idx) : '';
  const tag = idx > 0 ? name.slice(idx + 1) : '';
  if (!DNS1123_SUBDOMAIN.test(stream) || !TAG.test(tag))
    throw invalid('metadata.name', `${quoteInput(name)} is not STREAM:TAG`);
  return { stream, tag };
}

export function imageTagRouter(deps: ImageTagRoutesDeps): Router {
  const router = Router();
  router.post(IMAGE_STREAM_TAGS, async (req, res) => {
    const ns = req.params.ns!;
    const body = requestBody(req.body, 'ImageStreamTag', { required: true });
    const { stream, tag } = destination((body.metadata as { name?: unknown } | undefined)?.name);
    const from = (body.tag as { from?: { kind?: unknown; name?: unknown; namespace?: unknown } } | undefined)
      ?.from;
    if (!from || typeof from.name !== 'string' || !from.name)
      throw invalid('tag.from.name', 'Required value: the image to tag');
    const kind = from.kind ?? 'ImageStreamTag';
    if (kind !== 'ImageStreamTag' && kind !== 'ImageStreamImage' && kind !== 'DockerImage')
      throw invalid('tag.from.kind', 'must be ImageStreamTag, ImageStreamImage or DockerImage');
    // A source in another project would be read with this project's permission: refused.
    if (from.namespace !== undefined && from.namespace !== ns)
      throw invalid('tag.from.namespace', `must be this project ("${ns}"); tag from another project there`);

    let reference: string;
    try {
      reference = await resolveImageReference(deps.store, { kind, name: from.name }, ns);
    } catch (err) {
      throw invalid('tag.from.name', (err as Error).message);
    }
    const digest = DIGEST_REFERENCE.exec(reference)?.[1];
    if (!digest)
      throw invalid('tag.from.name', `${quoteInput(reference)} is not a reference by digest (NAME@sha256:…)`);

    const repository = `${deps.registry}/${ns}/${stream}`;
    if (!(await deps.store.get(IMAGE_STREAM, ns, stream))) {
      await deps.store
        .create(IMAGE_STREAM, {
          apiVersion: 'image.openshift.io/v1',
          kind: 'ImageStream',
          metadata: { name: stream, namespace: ns },
          spec: { lookupPolicy: { local: false } },
          status: { dockerImageRepository: repository },
        } as Resource)
        .catch((err: unknown) => {
          if (!(err instanceof Error && err.name === 'AlreadyExistsError')) throw err;
        });
    }
    await recordImageStreamTag({
      store: deps.store,
      namespace: ns,
      name: stream,
      tag,
      digest,
      repository,
      reference,
    });
    const outcome = await deps.dispatchImageChange({
      namespace: ns,
      stream,
      tag,
      image: digest,
      dockerImageReference: reference,
      external: true,
    });
    res.status(201).json({
      kind: 'ImageStreamTag',
      apiVersion: 'image.openshift.io/v1',
      metadata: { name: `${stream}:${tag}`, namespace: ns },
      tag: { name: tag, from: { kind, name: from.name } },
      image: { metadata: { name: digest }, dockerImageReference: reference },
      triggered: { builds: outcome.builds, deployments: outcome.deployments },
    });
  });
  return router;
}
