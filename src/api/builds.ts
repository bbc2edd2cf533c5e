/** Build verbs beyond CRUD: instantiate, log (followable), cancel. */
import express, { Router } from 'express';
import { z } from 'zod';
import { buildTriggerCause, envVar, sourceRevision, type BuildStatus } from '../core/build-types.js';
import { isTerminal } from '../core/build-phase.js';
import { InputError, NotFoundError } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import { quoteInput } from '../core/untrusted-input.js';
import type { BuildQueue } from '../queue/build-queue.js';
import { cancelBuild } from '../queue/cancel.js';
import { BUILD, type BuildRequest } from '../queue/instantiate.js';
import { MAX_BINARY_BYTES, type BinaryInputStore } from '../store/binary-store.js';
import type { BuildLogStore } from '../store/build-logs.js';
import type { ResourceStore } from '../store/resource-store.js';

const BASE = '/apis/build.openshift.io/v1/namespaces/:ns';

/** An env or build-arg name, as the API server checks them (OpenShift's IsEnvVarName). */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const envList = z.array(
  envVar.extend({ name: z.string().regex(ENV_NAME, 'must be a valid environment variable name') }),
  { error: 'must be a list of {name, value}' },
);

/** OpenShift's BuildRequest as instantiate takes it; anything else is a 400 naming the field. */
const buildRequestBody = z.looseObject(
  {
    kind: z.literal('BuildRequest', { error: 'must be BuildRequest' }).optional(),
    apiVersion: z.string().optional(),
    metadata: z.looseObject({ name: z.string().optional() }).optional(),
    revision: sourceRevision.optional(),
    triggeredBy: z.array(buildTriggerCause).optional(),
    env: envList.optional(),
    from: z
      .looseObject({ kind: z.string().optional(), name: z.string(), namespace: z.string().optional() })
      .optional(),
    triggeredByImage: z.looseObject({ name: z.string().optional() }).optional(),
    dockerStrategyOptions: z
      .looseObject({ buildArgs: envList.optional(), noCache: z.boolean().optional() })
      .optional(),
    sourceStrategyOptions: z.looseObject({ incremental: z.boolean().optional() }).optional(),
    binary: z.unknown().optional(),
  },
  { error: 'a BuildRequest must be an object' },
);

function parseBuildRequest(body: unknown): z.infer<typeof buildRequestBody> {
  const result = buildRequestBody.safeParse(body);
  if (result.success) return result.data;
  const causes = result.error.issues.map((issue) => ({
    field: issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '')
      .replace(/\.\[/g, '['),
    message: issue.message,
  }));
  const where = causes[0]!.field;
  // As Kubernetes answers: a body of the wrong shape (a field of the wrong type, the wrong
  // kind) is a 400 BadRequest; well-formed values that fail a rule are a 422 Invalid.
  const malformed = result.error.issues.some((i) => i.code === 'invalid_type' || i.path[0] === 'kind');
  throw new InputError(`the BuildRequest is invalid: ${where ? `${where}: ` : ''}${causes[0]!.message}`, {
    code: malformed ? 400 : 422,
    causes: causes.filter((c) => c.field !== ''),
  });
}

export interface BuildRoutesDeps {
  store: ResourceStore;
  queue: BuildQueue;
  logs: BuildLogStore;
  binaries: BinaryInputStore;
  instantiate: (namespace: string, buildConfig: string, request: BuildRequest) => Promise<Resource>;
}

export function buildRouter(deps: BuildRoutesDeps): Router {
  const { store, logs } = deps;
  const router = Router();

  router.post(`${BASE}/buildconfigs/:name/instantiate`, async (req, res) => {
    const body = parseBuildRequest(req.body ?? {});
    if (body.metadata?.name !== undefined && body.metadata.name !== req.params.name) {
      throw new InputError(
        `metadata.name ${quoteInput(body.metadata.name)} does not match the BuildConfig in the URL`,
        {
          code: 400,
          causes: [{ field: 'metadata.name', message: `must be ${req.params.name}` }],
        },
      );
    }
    const commit = body.revision?.git?.commit;
    if (commit !== undefined && !/^[0-9a-f]{4,40}$/i.test(commit)) {
      throw new InputError(`revision.git.commit "${commit}" is not a commit id`, {
        causes: [{ field: 'revision.git.commit', message: 'must be a hexadecimal commit id' }],
      });
    }
    // Only instantiatebinary may attach an upload.
    const { binary: _ignored, kind: _kind, apiVersion: _apiVersion, metadata: _metadata, ...request } = body;
    // The schema's optional fields are absent, never undefined, in what it returns.
    const build = await deps.instantiate(req.params.ns!, req.params.name!, request as BuildRequest);
    res.status(201).json(build);
  });

  // OpenShift's binary builds: the body is the source (a tar, optionally gzipped), or one file with ?asFile=NAME.
  router.post(
    `${BASE}/buildconfigs/:name/instantiatebinary`,
    // An upload the namespace's quota has no room for is refused before its body is read.
    async (req, _res, next) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      await deps.binaries.checkRoom(req.params.ns!, Number.isFinite(declared) && declared > 0 ? declared : 1);
      next();
    },
    express.raw({ type: () => true, limit: MAX_BINARY_BYTES }),
    async (req, res) => {
      const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (data.length === 0)
        throw new InputError('instantiatebinary needs the archive (or file) as the request body', {
          code: 400,
        });
      const asFile =
        typeof req.query.asFile === 'string' && req.query.asFile !== '' ? req.query.asFile : undefined;
      if (asFile !== undefined && (asFile.includes('/') || asFile === '..')) {
        throw new InputError(`asFile "${asFile}" must be a plain file name`, {
          causes: [{ field: 'asFile', message: 'no "/" allowed' }],
        });
      }
      const commit =
        typeof req.query['revision.commit'] === 'string' ? req.query['revision.commit'] : undefined;
      const blobId = await deps.binaries.putBinary(req.params.ns!, data);
      const request: BuildRequest = { binary: asFile ? { blobId, asFile } : { blobId } };
      if (commit) request.revision = { git: { commit } };
      try {
        res.status(201).json(await deps.instantiate(req.params.ns!, req.params.name!, request));
      } catch (err) {
        await deps.binaries.deleteBinary(blobId);
        throw err;
      }
    },
  );

  router.post(`${BASE}/builds/:name/cancel`, async (req, res) => {
    const build = await store.get(BUILD, req.params.ns!, req.params.name!);
    if (!build) throw new NotFoundError(`builds.build.openshift.io "${req.params.name}" not found`);
    res.json(
      await cancelBuild({
        store,
        queue: deps.queue,
        logs,
        namespace: req.params.ns!,
        name: req.params.name!,
      }),
    );
  });

  router.get(`${BASE}/builds/:name/log`, async (req, res) => {
    const ns = req.params.ns!;
    const name = req.params.name!;
    const build = await store.get(BUILD, ns, name);
    if (!build) throw new NotFoundError(`builds.build.openshift.io "${name}" not found`);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const follow = req.query.follow === 'true' || req.query.follow === '1';
    if (!follow || isTerminal((build.status as BuildStatus | undefined)?.phase)) {
      const { lines } = await logs.readLog(ns, name);
      res.end(lines.length ? `${lines.join('\n')}\n` : '');
      return;
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.flushHeaders();
    for await (const line of logs.followLog(ns, name, abort.signal)) {
      if (!res.write(`${line}\n`)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });

  return router;
}
