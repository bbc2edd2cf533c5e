/**
 * Who may do what: the decision, without I/O. A request is described by its path and
 * method (the Kubernetes verb, resource, subresource, API group and namespace); a user's
 * roles are what their RoleBindings grant per project. The three roles are OpenShift's
 * default ClusterRoles, as a team uses them:
 *
 *   admin  everything in the project, RoleBindings included
 *   edit   everything but RoleBindings and ResourceQuotas (which it reads)
 *   view   reads, without Secrets, and nothing that starts work (builds, rollouts)
 *
 * A user with no role in a project is refused everything in it, with the same 403 whether
 * or not the project exists, so a refusal says nothing of another team's objects.
 */

import type { ProjectRole } from '../core/roles.js';

export interface RequestAttributes {
  /** Kubernetes' verb: get, list, watch, create, update, patch, delete. */
  verb: string;
  /** `buildconfigs`, `projects`… */
  resource: string;
  subresource?: string;
  /** API group: '' for the core group. */
  group: string;
  namespace?: string;
  name?: string;
}

const METHOD_VERBS: Record<string, string> = {
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** Reads a request path as Kubernetes' authorizer does; undefined when it is not an API path. */
export function requestAttributes(
  method: string,
  path: string,
  query: Record<string, unknown> = {},
): RequestAttributes | undefined {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(path);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const parts = (m[4] ?? '').split('/').filter(Boolean).map(decodeSegment);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts.splice(0, 2);
  } else if (parts[0] === 'namespaces' && parts.length === 2) {
    // GET /api/v1/namespaces/NS: the namespace itself
    return {
      verb: readVerb(true, query),
      resource: 'namespaces',
      group,
      name: parts[1]!,
      namespace: parts[1]!,
    };
  }
  const [resource = '', name, subresource] = parts;
  const read = method === 'GET' || method === 'HEAD';
  const verb = read ? readVerb(name !== undefined, query) : (METHOD_VERBS[method] ?? method.toLowerCase());
  return {
    verb,
    resource,
    group,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    ...(subresource === undefined ? {} : { subresource }),
  };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function readVerb(named: boolean, query: Record<string, unknown>): string {
  if (query.watch === 'true' || query.watch === '1' || query.follow === 'true')
    return named ? 'get' : 'watch';
  return named ? 'get' : 'list';
}

const READ_VERBS = new Set(['get', 'list', 'watch']);

/** Whether `role` in the request's project allows it. */
export function roleAllows(role: ProjectRole, a: RequestAttributes): boolean {
  if (role === 'admin') return true;
  // A project's admin sets its quotas; edit and view read them (docs/quotas.md).
  if (a.resource === 'resourcequotas') return READ_VERBS.has(a.verb);
  if (a.resource === 'rolebindings') return false;
  if (role === 'edit') return true;
  // view: reads (build and rollout logs, the event stream) but no Secrets, and nothing started
  return a.resource !== 'secrets' && READ_VERBS.has(a.verb);
}

/** Paths outside any project that every signed-in user may use. */
export function userMayUseClusterPath(a: RequestAttributes): boolean {
  if (a.group === 'project.openshift.io' && a.resource === 'projects' && a.verb === 'list') return true;
  if (a.group === 'project.openshift.io' && a.resource === 'projectrequests' && a.verb === 'create')
    return true;
  if (a.group === 'user.openshift.io' && a.resource === 'users' && a.name === '~' && a.verb === 'get')
    return true;
  if (a.group === 'slipway.dev' && a.resource === 'serverinfo' && a.verb === 'get') return true;
  // "May I…?" (kubectl auth can-i, the web UI's buttons): the answer is about the caller only.
  if (
    a.group === 'authorization.k8s.io' &&
    a.resource === 'selfsubjectaccessreviews' &&
    a.verb === 'create' &&
    a.name === undefined
  )
    return true;
  return false;
}

export type Decision = { allowed: true } | { allowed: false; message: string };

/**
 * The decision for a user. `roleIn` is the user's role in the request's project (from
 * their RoleBindings); a project itself (`projects/NAME`) is read with any role and
 * deleted by its admins.
 */
export function authorizeUser(user: string, a: RequestAttributes, roleIn: ProjectRole | undefined): Decision {
  const projectItself =
    a.group === 'project.openshift.io' && a.resource === 'projects' && a.name !== undefined;
  if (projectItself) {
    if (roleIn && READ_VERBS.has(a.verb)) return { allowed: true };
    if (roleIn === 'admin' && a.verb === 'delete') return { allowed: true };
    return { allowed: false, message: forbidden(user, a, a.name) };
  }
  if (a.namespace === undefined) {
    return userMayUseClusterPath(a) ? { allowed: true } : { allowed: false, message: forbidden(user, a) };
  }
  if (roleIn && roleAllows(roleIn, a)) return { allowed: true };
  return { allowed: false, message: forbidden(user, a, a.namespace) };
}

/**
 * Kubernetes' wording: `buildconfigs.build.openshift.io "web" is forbidden: User "alice"
 * cannot create resource "buildconfigs" in API group "build.openshift.io" in the namespace "b"`.
 */
export function forbidden(user: string, a: RequestAttributes, namespace?: string): string {
  const qualified = a.group ? `${a.resource}.${a.group}` : a.resource;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = namespace !== undefined ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  return `${qualified}${a.name ? ` "${a.name}"` : ''} is forbidden: User "${user}" cannot ${a.verb} resource "${resource}" in API group "${a.group}"${where}`;
}
