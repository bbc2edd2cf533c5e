/**
 * The Kubernetes-style REST surface over the store:
 * `/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]` and `/api/v1/…` for core kinds.
 * Status is server-owned: a PUT keeps the stored status (OpenShift's status subresource),
 * except that `status.cancelled: true` on a Build cancels it, as `oc cancel-build` does.
 */
import { Router, type Request } from 'express';
import { InputError, MethodNotAllowedError, NotFoundError } from '../core/errors.js';
import { redactSourceUri } from '../core/redact.js';
import { apiVersionOf, lookupPlural, type KindInfo, type Resource } from '../core/resource.js';
import { validateResource } from '../core/validation.js';
import { quoteInput } from '../core/untrusted-input.js';
import type { ResourceStore } from '../store/resource-store.js';

export interface ResourceHooks {
  afterCreate?(info: KindInfo, obj: Resource): Promise<void>;
  /** Called with the requested object before a replace; may act on it (cancel) and return what to store. */
  beforeReplace?(info: KindInfo, requested: Resource, current: Resource): Promise<Resource>;
  beforeDelete?(info: KindInfo, obj: Resource): Promise<void>;
  afterDelete?(info: KindInfo, obj: Resource): Promise<void>;
}

const SERVER_OWNED_STATUS = new Set(['BuildConfig', 'Build', 'ImageStream', 'DeploymentConfig']);

function kindFor(req: Request): KindInfo {
  const p = req.params as Record<string, string>;
  const info = lookupPlural(p.group ?? '', p.version ?? '', p.plural ?? '');
  if (!info) {
    throw new NotFoundError(
      `the server could not find the requested resource: ${p.group ? `${p.group}/` : ''}${p.version}/${p.plural}`,
    );
  }
  return info;
}

function bodyObject(req: Request): Resource {
  const body: unknown = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InputError('the request body must be a JSON or YAML object', { code: 400 });
  }
  return body as Resource;
}

/** Checks apiVersion/kind/namespace/name of a request body against the URL. */
function checkIdentity(info: KindInfo, obj: Resource, ns: string, name?: string): Resource {
  if (obj.kind !== undefined && obj.kind !== info.kind) {
    throw new InputError(`kind ${quoteInput(obj.kind)} does not match the URL's resource "${info.plural}"`, {
      code: 400,
      causes: [{ field: 'kind', message: `must be ${info.kind}` }],
    });
  }
  const meta = (obj.metadata ?? {}) as Resource['metadata'];
  if (meta.namespace !== undefined && meta.namespace !== ns) {
    throw new InputError(
      `metadata.namespace ${quoteInput(meta.namespace)} does not match the namespace in the URL, "${ns}"`,
      {
        code: 400,
        causes: [{ field: 'metadata.namespace', message: `must be ${ns}` }],
      },
    );
  }
  if (name !== undefined && meta.name !== undefined && meta.name !== name) {
    throw new InputError(
      `metadata.name ${quoteInput(meta.name)} does not match the name in the URL, "${name}"`,
      {
        code: 400,
        causes: [{ field: 'metadata.name', message: `must be ${name}` }],
      },
    );
  }
  return {
    ...obj,
    apiVersion: apiVersionOf(info),
    kind: info.kind,
    metadata: { ...meta, name: meta.name ?? name ?? '', namespace: ns },
  };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function resourceRouter(options: {
  store: ResourceStore;
  hooks: ResourceHooks;
  allowFileSources: boolean;
  allowHostPaths?: readonly string[];
}): Router {
  const { store, hooks } = options;
  const router = Router();
  const validate = (info: KindInfo, obj: Resource): Resource =>
    validateResource(info, obj, {
      allowFileSources: options.allowFileSources,
      allowHostPaths: options.allowHostPaths ?? [],
    });

  for (const base of ['/api/:version', '/apis/:group/:version']) {
    router.get(`${base}/:plural`, async (req, res) => {
      const info = kindFor(req);
      const items = await store.list(info, undefined, req.query.labelSelector as string | undefined);
      res.json({
        kind: `${info.kind}List`,
        apiVersion: apiVersionOf(info),
        metadata: {},
        items: items.map(redactSourceUri),
      });
    });

    router.get(`${base}/namespaces/:ns/:plural`, async (req, res) => {
      const info = kindFor(req);
      const items = await store.list(info, req.params.ns, req.query.labelSelector as string | undefined);
      res.json({
        kind: `${info.kind}List`,
        apiVersion: apiVersionOf(info),
        metadata: {},
        items: items.map(redactSourceUri),
      });
    });

    router.post(`${base}/namespaces/:ns/:plural`, async (req, res) => {
      const info = kindFor(req);
      const obj = validate(info, checkIdentity(info, bodyObject(req), req.params.ns!));
      const created = await store.create(info, obj);
      await hooks.afterCreate?.(info, created);
      res.status(201).json((await store.get(info, req.params.ns!, created.metadata.name)) ?? created);
    });

    router.get(`${base}/namespaces/:ns/:plural/:name`, async (req, res) => {
      const info = kindFor(req);
      const obj = await store.get(info, req.params.ns!, req.params.name!);
      if (!obj)
        throw new NotFoundError(
          `${info.plural}${info.group ? `.${info.group}` : ''} "${req.params.name}" not found`,
        );
      // A BuildConfig stored before credentials in URIs were refused is shown without them.
      res.json(redactSourceUri(obj));
    });

    const replace = async (
      info: KindInfo,
      ns: string,
      name: string,
      requested: Resource,
    ): Promise<Resource> => {
      const current = await store.get(info, ns, name);
      if (!current)
        throw new NotFoundError(`${info.plural}${info.group ? `.${info.group}` : ''} "${name}" not found`);
      let obj = validate(info, requested);
      if (SERVER_OWNED_STATUS.has(info.kind)) obj = { ...obj, status: current.status ?? {} };
      if (hooks.beforeReplace)
        obj = await hooks.beforeReplace(info, { ...requested, status: requested.status ?? {} }, { ...obj });
      return store.replace(info, obj);
    };

    router.put(`${base}/namespaces/:ns/:plural/:name`, async (req, res) => {
      const info = kindFor(req);
      const obj = checkIdentity(info, bodyObject(req), req.params.ns!, req.params.name);
      res.json(await replace(info, req.params.ns!, req.params.name!, obj));
    });

    router.patch(`${base}/namespaces/:ns/:plural/:name`, async (req, res) => {
      const info = kindFor(req);
      const type = req.headers['content-type'] ?? '';
      if (!/merge-patch\+json|application\/json/.test(type)) {
        throw new InputError('PATCH takes application/merge-patch+json', { code: 400 });
      }
      const current = await store.get(info, req.params.ns!, req.params.name!);
      if (!current)
        throw new NotFoundError(
          `${info.plural}${info.group ? `.${info.group}` : ''} "${req.params.name}" not found`,
        );
      const patched = mergePatch(current, bodyObject(req)) as Resource;
      const obj = checkIdentity(info, patched, req.params.ns!, req.params.name);
      res.json(await replace(info, req.params.ns!, req.params.name!, obj));
    });

    router.delete(`${base}/namespaces/:ns/:plural/:name`, async (req, res) => {
      const info = kindFor(req);
      const current = await store.get(info, req.params.ns!, req.params.name!);
      if (!current)
        throw new NotFoundError(
          `${info.plural}${info.group ? `.${info.group}` : ''} "${req.params.name}" not found`,
        );
      await hooks.beforeDelete?.(info, current);
      const deleted = await store.delete(info, req.params.ns!, req.params.name!);
      await hooks.afterDelete?.(info, deleted);
      res.json({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: {
          name: deleted.metadata.name,
          group: info.group,
          kind: info.plural,
          uid: deleted.metadata.uid,
        },
      });
    });

    router.all(`${base}/namespaces/:ns/:plural`, () => {
      throw new MethodNotAllowedError('use GET or POST on a collection');
    });
  }
  return router;
}
