/**
 * Projects, users and their tokens, with OpenShift's paths:
 *
 *   GET    /apis/project.openshift.io/v1/projects            the projects the caller has a role in
 *   GET    /apis/project.openshift.io/v1/projects/NAME
 *   DELETE /apis/project.openshift.io/v1/projects/NAME       everything in it goes
 *   POST   /apis/project.openshift.io/v1/projectrequests     the requester becomes its admin
 *   GET    /apis/user.openshift.io/v1/users/~                who the token belongs to
 *   GET|POST /apis/user.openshift.io/v1/users, GET|DELETE …/users/NAME   (cluster admin)
 *   POST|DELETE /apis/slipway.dev/v1/users/NAME/tokens       issue (printed once) or revoke all
 *   POST   /apis/authorization.k8s.io/v1/selfsubjectaccessreviews   may I? (the web UI's buttons)
 *
 * Who may call what is decided before these routes run (src/api/auth.ts); a route only
 * narrows what a user sees (the project list).
 */
import { Router, type Response } from 'express';
import { InputError, NotFoundError } from '../core/errors.js';
import { KINDS, lookupKind, type KindInfo, type Resource } from '../core/resource.js';
import type { AccessStore } from '../store/access.js';
import { ROLE_BINDING } from '../store/access.js';
import type { ResourceStore } from '../store/resource-store.js';
import { decideForUser, generateToken, userOfScope, type TokenStore } from './auth.js';
import type { RequestAttributes } from './authorization.js';
import { requestBody } from './body.js';
import type { NamespaceTeardown } from './project-deletion.js';
import type { ResourceHooks } from './resources.js';

/** The name the cluster admin's token answers to, as OpenShift's `system:admin`. */
export const CLUSTER_ADMIN = 'system:admin';

const IMAGE_STREAM = lookupKind('image.openshift.io/v1', 'ImageStream')!;

const DAY = 24 * 3600;
/** A user token lives a day unless asked otherwise, and at most a year. */
export const TOKEN_DEFAULT_SECONDS = DAY;
export const TOKEN_MAX_SECONDS = 365 * DAY;

export interface AccessRoutesDeps {
  access: AccessStore;
  store: ResourceStore;
  tokens: TokenStore;
  hooks: ResourceHooks;
  /** What deleting a project does beyond its objects (jobs, replicas, images, Redis keys). */
  teardown?: NamespaceTeardown;
}

function list(kind: string, apiVersion: string, items: Resource[]): Record<string, unknown> {
  return { kind: `${kind}List`, apiVersion, metadata: {}, items };
}

const REVIEW_FIELDS = ['namespace', 'verb', 'group', 'resource', 'subresource', 'name'] as const;
const REVIEW_VERBS = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);

/**
 * A SelfSubjectAccessReview's `spec.resourceAttributes` as the authorizer reads a request;
 * a 400 naming the field when one is missing or not a short string.
 */
function reviewAttributes(o: Record<string, unknown>): RequestAttributes {
  const spec = o.spec as { resourceAttributes?: unknown } | undefined;
  const ra = spec?.resourceAttributes;
  if (!ra || typeof ra !== 'object' || Array.isArray(ra))
    throw new InputError(
      'spec.resourceAttributes is required: the verb, resource and namespace to ask about',
      {
        code: 400,
        causes: [{ field: 'spec.resourceAttributes', message: 'Required value' }],
      },
    );
  const given = ra as Record<string, unknown>;
  const attrs: Record<string, string> = {};
  for (const f of REVIEW_FIELDS) {
    const v = given[f];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || v.length > 253)
      throw new InputError(`spec.resourceAttributes.${f} must be a string of at most 253 characters`, {
        code: 400,
        causes: [{ field: `spec.resourceAttributes.${f}`, message: 'must be a string' }],
      });
    attrs[f] = v;
  }
  const { verb, resource } = attrs;
  if (!verb || !REVIEW_VERBS.has(verb))
    throw new InputError(`spec.resourceAttributes.verb must be one of ${[...REVIEW_VERBS].join(', ')}`, {
      code: 400,
      causes: [{ field: 'spec.resourceAttributes.verb', message: 'Unsupported value' }],
    });
  if (!resource)
    throw new InputError('spec.resourceAttributes.resource is required', {
      code: 400,
      causes: [{ field: 'spec.resourceAttributes.resource', message: 'Required value' }],
    });
  return { ...attrs, verb, resource, group: attrs.group ?? '' };
}

function metadataName(o: Record<string, unknown>): string {
  const name = (o.metadata as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || !name)
    throw new InputError('metadata.name is required', {
      causes: [{ field: 'metadata.name', message: 'Required value' }],
    });
  return name;
}

function optionalString(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 1024)
    throw new InputError(`${field} must be a string of at most 1024 characters`, {
      code: 400,
      causes: [{ field, message: 'must be a string' }],
    });
  return v;
}

/** Objects deleted first go first: configs before what they made, bindings last (the admin keeps access while it runs). */
const DELETION_ORDER = [
  'DeploymentConfig',
  'BuildConfig',
  'Build',
  'Route',
  'Service',
  'ImageStream',
  'Template',
  'Secret',
];

export function accessRouter(deps: AccessRoutesDeps): Router {
  const { access, store, tokens, hooks, teardown } = deps;
  const router = Router();
  const scopeOf = (res: Response): string => String(res.locals.scope ?? '');

  router.get('/apis/user.openshift.io/v1/users/~', async (_req, res) => {
    const user = userOfScope(scopeOf(res));
    if (user === undefined) {
      res.json({
        kind: 'User',
        apiVersion: 'user.openshift.io/v1',
        metadata: { name: scopeOf(res) === 'admin' ? CLUSTER_ADMIN : scopeOf(res) },
        groups: ['system:cluster-admins'],
      });
      return;
    }
    const found = await access.getUser(user);
    if (!found) throw new NotFoundError(`users.user.openshift.io "${user}" not found`);
    res.json(found);
  });

  // Kubernetes' "may I?": the answer is the same decision the request itself would meet.
  router.post('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', async (req, res) => {
    const o = requestBody(req.body, 'SelfSubjectAccessReview', { required: true });
    const attrs = reviewAttributes(o);
    const user = userOfScope(scopeOf(res));
    const decision =
      user === undefined ? ({ allowed: true } as const) : await decideForUser(access, user, attrs);
    res.status(201).json({
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: {},
      spec: { resourceAttributes: { ...attrs } },
      status: decision.allowed
        ? { allowed: true }
        : { allowed: false, denied: true, reason: decision.message },
    });
  });

  router.get('/apis/user.openshift.io/v1/users', async (_req, res) => {
    res.json(list('User', 'user.openshift.io/v1', await access.listUsers()));
  });

  router.post('/apis/user.openshift.io/v1/users', async (req, res) => {
    const o = requestBody(req.body, 'User', { required: true });
    res.status(201).json(await access.createUser(metadataName(o), optionalString(o, 'fullName')));
  });

  router.get('/apis/user.openshift.io/v1/users/:name', async (req, res) => {
    const user = await access.getUser(req.params.name!);
    if (!user) throw new NotFoundError(`users.user.openshift.io "${req.params.name}" not found`);
    res.json(user);
  });

  router.delete('/apis/user.openshift.io/v1/users/:name', async (req, res) => {
    const user = await access.deleteUser(req.params.name!);
    // Their tokens stop working at once; their RoleBindings stay, as in OpenShift.
    await tokens.revokeScope(`user:${req.params.name}`);
    res.json(user);
  });

  router.post('/apis/slipway.dev/v1/users/:name/tokens', async (req, res) => {
    const name = req.params.name!;
    if (!(await access.getUser(name))) throw new NotFoundError(`users.user.openshift.io "${name}" not found`);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const seconds = b.expiresInSeconds ?? TOKEN_DEFAULT_SECONDS;
    if (
      typeof seconds !== 'number' ||
      !Number.isInteger(seconds) ||
      seconds < 1 ||
      seconds > TOKEN_MAX_SECONDS
    )
      throw new InputError(`expiresInSeconds must be a whole number from 1 to ${TOKEN_MAX_SECONDS}`, {
        code: 400,
        causes: [{ field: 'expiresInSeconds', message: `must be 1 to ${TOKEN_MAX_SECONDS}` }],
      });
    const token = generateToken();
    await tokens.add(token, `user:${name}`, seconds);
    res.status(201).json({
      kind: 'UserToken',
      apiVersion: 'slipway.dev/v1',
      user: name,
      token,
      expiresAt: new Date(Date.now() + seconds * 1000).toISOString(),
    });
  });

  router.delete('/apis/slipway.dev/v1/users/:name/tokens', async (req, res) => {
    const revoked = await tokens.revokeScope(`user:${req.params.name}`);
    res.json({ kind: 'Status', apiVersion: 'v1', status: 'Success', details: { revoked } });
  });

  router.get('/apis/project.openshift.io/v1/projects', async (_req, res) => {
    const user = userOfScope(scopeOf(res));
    const all = await access.listProjects();
    const visible =
      user === undefined
        ? all
        : (
            await Promise.all(
              all.map(async (p) => ((await access.roleOf(user, p.metadata.name)) ? p : undefined)),
            )
          ).filter((p): p is Resource => p !== undefined);
    res.json(list('Project', 'project.openshift.io/v1', visible));
  });

  router.get('/apis/project.openshift.io/v1/projects/:name', async (req, res) => {
    const project = await access.getProject(req.params.name!);
    if (!project) throw new NotFoundError(`projects.project.openshift.io "${req.params.name}" not found`);
    res.json(project);
  });

  router.post('/apis/project.openshift.io/v1/projectrequests', async (req, res) => {
    const o = requestBody(req.body, 'ProjectRequest', { required: true });
    const name = metadataName(o);
    const user = userOfScope(scopeOf(res));
    const displayName = optionalString(o, 'displayName');
    const description = optionalString(o, 'description');
    const project = await access.createProject(name, {
      ...(displayName ? { displayName } : {}),
      ...(description ? { description } : {}),
      requester: user ?? CLUSTER_ADMIN,
    });
    // A project deleted a moment ago under this name: its namespace takes objects again.
    await teardown?.reopen(name);
    if (user !== undefined) {
      // The requester administers what they asked for (OpenShift's project request template).
      await store.create(ROLE_BINDING, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'admin', namespace: name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      });
    }
    res.status(201).json(project);
  });

  router.delete('/apis/project.openshift.io/v1/projects/:name', async (req, res) => {
    const name = req.params.name!;
    if (!(await access.getProject(name)))
      throw new NotFoundError(`projects.project.openshift.io "${name}" not found`);
    await teardown?.begin(name);
    const project = await access.markTerminating(name);
    if (!project) throw new NotFoundError(`projects.project.openshift.io "${name}" not found`);
    const imageStreams = (await store.list(IMAGE_STREAM, name)).map((is) => is.metadata.name);
    await deleteNamespaceObjects(store, hooks, name);
    await teardown?.finish(name, imageStreams);
    await access.removeProject(name);
    res.json({ kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, kind: 'projects' } });
  });

  return router;
}

/**
 * Deletes every stored object of a namespace as single deletes through the API would:
 * running builds are cancelled and logs dropped (the build hooks), DeploymentConfigs take
 * their revisions and replicas with them (the controller), RoleBindings go last.
 */
export async function deleteNamespaceObjects(
  store: ResourceStore,
  hooks: ResourceHooks,
  namespace: string,
): Promise<void> {
  const order = (k: KindInfo): number => {
    if (k.kind === 'RoleBinding') return 1000;
    const i = DELETION_ORDER.indexOf(k.kind);
    return i < 0 ? 500 : i;
  };
  // Revisions are the controller's to remove with their DeploymentConfig.
  const kinds = KINDS.filter((k) => k.kind !== 'ReplicationController').sort((a, b) => order(a) - order(b));
  for (const info of kinds) {
    for (const obj of await store.list(info, namespace)) {
      await hooks.beforeDelete?.(info, obj);
      const deleted = await store.delete(info, namespace, obj.metadata.name).catch(() => undefined);
      if (deleted) await hooks.afterDelete?.(info, deleted);
    }
  }
}
