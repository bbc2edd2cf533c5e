/**
 * Registers Slipway's S2I builder images as ImageStreams in namespace `openshift`
 * (`nodejs`, `python`, `static`), as OpenShift ships its builders, so a BuildConfig's
 * `sourceStrategy.from: {kind: ImageStreamTag, namespace: openshift, name: nodejs:latest}`
 * works unchanged. The images are pushed to the internal registry so workers on other
 * machines can pull them.
 */
import type Docker from 'dockerode';
import { errorMessage } from '../core/errors.js';
import type { ResourceStore } from '../store/resource-store.js';
import { IMAGE_STREAM, recordImageStreamTag } from './image-streams.js';
import { pushImage } from './push.js';

export const BUILDER_IMAGES = [
  { stream: 'nodejs', local: 'slipway/s2i-nodejs:latest', display: 'Node.js (Debian nodejs + npm)' },
  { stream: 'python', local: 'slipway/s2i-python:latest', display: 'Python 3 (Debian python3 + venv)' },
  { stream: 'static', local: 'slipway/s2i-static:latest', display: 'Static files over HTTP on 8080' },
] as const;

export const BUILDER_NAMESPACE = 'openshift';

export interface RegisterBuilderOptions {
  docker: Docker;
  store: ResourceStore;
  registry: string;
  log: (line: string) => void;
}

/** Pushes each builder image the engine has and records it on `openshift/{stream}:latest`; returns what it registered. */
export async function registerBuilderImages(options: RegisterBuilderOptions): Promise<string[]> {
  const { docker, store, registry, log } = options;
  const done: string[] = [];
  for (const b of BUILDER_IMAGES) {
    let imageId: string;
    try {
      imageId = (await docker.getImage(b.local).inspect()).Id;
    } catch {
      log(`builder image ${b.local} is not on this engine; run scripts/build-builder-images.sh to make it`);
      continue;
    }
    const repository = `${registry}/${BUILDER_NAMESPACE}/${b.stream}`;
    try {
      const digest = await pushImage({
        docker,
        image: imageId,
        reference: `${repository}:latest`,
        attempts: 2,
        retryDelayMs: 500,
        log: () => undefined,
        signal: new AbortController().signal,
      });
      if (!(await store.get(IMAGE_STREAM, BUILDER_NAMESPACE, b.stream))) {
        await store.create(IMAGE_STREAM, {
          apiVersion: 'image.openshift.io/v1',
          kind: 'ImageStream',
          metadata: {
            name: b.stream,
            namespace: BUILDER_NAMESPACE,
            annotations: {
              'openshift.io/display-name': b.display,
              'openshift.io/provider-display-name': 'Slipway',
            },
          },
          spec: { tags: [{ name: 'latest', annotations: { tags: `builder,${b.stream}` } }] },
        });
      }
      await recordImageStreamTag({
        store,
        namespace: BUILDER_NAMESPACE,
        name: b.stream,
        tag: 'latest',
        digest,
        repository,
      });
      done.push(`${BUILDER_NAMESPACE}/${b.stream}:latest`);
    } catch (err) {
      log(`could not register builder image ${b.local}: ${errorMessage(err)}`);
    }
  }
  return done;
}
