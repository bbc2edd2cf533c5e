/**
 * Bearer-token authentication for the API. Tokens are kept as SHA-256 hashes in Redis
 * (so every server sharing a Redis knows the tokens `slipway up` made) plus the one in
 * SLIPWAY_ADMIN_TOKEN; comparison is of hashes, in constant time. A token's scope says
 * whose it is: `admin` (the cluster admin), `user:{name}` (checked against the user's
 * roles in each project), `deployer:{ns}/{dc}` (a Custom strategy's deployer).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';
import type { ProjectRole } from '../core/roles.js';
import { authorizeUser, requestAttributes, type Decision, type RequestAttributes } from './authorization.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `slw_${randomBytes(24).toString('base64url')}`;
}

interface TokenEntry {
  scope: string;
  /** Epoch milliseconds; 0 for a token that does not expire. */
  expires: number;
}

/**
 * Tokens in Redis. Lasting tokens (the admin's, from `slipway up`) are fields of one hash;
 * short-lived ones (a Custom deployer's) are keys of their own with a Redis TTL, so Redis
 * removes each when it expires, each with an index key of the same TTL naming its scope,
 * so the end of a rollout finds and revokes every token its deployer was given.
 */
export class TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
    private readonly adminToken?: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:tokens`;
  }

  private tokenKey(hash: string): string {
    return `${this.prefix}:token:${hash}`;
  }

  private scopeKey(scope: string, hash: string): string {
    return `${this.prefix}:token-scope:${scope}:${hash}`;
  }

  /** Remembers a token (hashed); `ttlSeconds` makes it short-lived (scoped deploy tokens). */
  async add(token: string, scope = 'admin', ttlSeconds?: number): Promise<void> {
    const hash = hashToken(token);
    if (!ttlSeconds) {
      await this.redis.hset(this.key, hash, JSON.stringify({ scope, expires: 0 } satisfies TokenEntry));
      return;
    }
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    const entry: TokenEntry = { scope, expires: Date.now() + ttl * 1000 };
    await this.redis
      .multi()
      .set(this.tokenKey(hash), JSON.stringify(entry), 'EX', ttl)
      .set(this.scopeKey(scope, hash), '1', 'EX', ttl)
      .exec();
  }

  /** The token's scope, or undefined when it is not known, was revoked or has expired. */
  async verify(token: string): Promise<string | undefined> {
    const hash = hashToken(token);
    if (this.adminToken && timingSafeEqual(Buffer.from(hash), Buffer.from(hashToken(this.adminToken))))
      return 'admin';
    // The lookup is by hash: knowing a stored hash is of no use without the token.
    const lasting = await this.redis.hget(this.key, hash);
    const raw = lasting ?? (await this.redis.get(this.tokenKey(hash)));
    if (!raw) return undefined;
    const { scope, expires } = JSON.parse(raw) as TokenEntry;
    if (expires && expires <= Date.now()) {
      // Checked on use as well as by the keys' TTL: an expired token is gone once seen.
      await this.redis
        .multi()
        .hdel(this.key, hash)
        .del(this.tokenKey(hash), this.scopeKey(scope, hash))
        .exec();
      return undefined;
    }
    return scope;
  }

  /** Forgets one token. */
  async revoke(token: string): Promise<void> {
    const hash = hashToken(token);
    const raw = await this.redis.get(this.tokenKey(hash));
    const scope = raw ? (JSON.parse(raw) as TokenEntry).scope : undefined;
    const tx = this.redis.multi().hdel(this.key, hash).del(this.tokenKey(hash));
    if (scope) tx.del(this.scopeKey(scope, hash));
    await tx.exec();
  }

  /** Revokes every short-lived token issued with `scope` (a rollout's deployer tokens); returns how many. */
  async revokeScope(scope: string): Promise<number> {
    const pattern = `${this.prefix}:token-scope:${scope.replace(/[*?[\]\\]/g, '\\$&')}:*`;
    let revoked = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const tokenKeys = keys.map((k) => this.tokenKey(k.slice(k.lastIndexOf(':') + 1)));
      revoked += await this.redis.del(...tokenKeys);
      await this.redis.del(...keys);
    } while (cursor !== '0');
    return revoked;
  }

  /**
   * Removes expired tokens kept in the lasting hash (written with an expiry by earlier
   * versions, which Redis cannot expire field by field); returns how many.
   */
  async purgeExpired(): Promise<number> {
    const all = await this.redis.hgetall(this.key);
    const now = Date.now();
    const expired = Object.entries(all)
      .filter(([, raw]) => {
        try {
          const { expires } = JSON.parse(raw) as TokenEntry;
          return Boolean(expires) && expires <= now;
        } catch {
          return false;
        }
      })
      .map(([hash]) => hash);
    if (expired.length > 0) await this.redis.hdel(this.key, ...expired);
    return expired.length;
  }
}

/** The DeploymentConfig a `deployer:{ns}/{dc}` scope is limited to; undefined for other scopes. */
export function deployerScopeOf(scope: unknown): { namespace: string; name: string } | undefined {
  if (typeof scope !== 'string') return undefined;
  const m = /^deployer:([^/]+)\/(.+)$/.exec(scope);
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}

const VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/**
 * Kubernetes' words for a refused request: `replicationcontrollers "web-1" is forbidden:
 * … cannot get resource "replicationcontrollers" in the namespace "demo"`.
 */
export function forbiddenMessage(scope: string, method: string, path: string): string {
  const m = /^\/apis?\/(?:[^/]+\/)?v[^/]*\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
    path,
  );
  if (!m) return `Forbidden: this token (scope "${scope}") may not ${method} ${path}`;
  const [, ns, resource, name, sub] = m;
  const verb =
    !name && (method === 'GET' || method === 'HEAD') ? 'list' : (VERBS[method] ?? method.toLowerCase());
  const what = sub ? `${resource}/${sub}` : resource;
  return `${resource}${name ? ` "${name}"` : ''} is forbidden: a token with scope "${scope}" cannot ${verb} resource "${what}" in the namespace "${ns}"`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * What a scoped token may do. `deployer:{ns}/{dc}` (a Custom strategy's token) reads its
 * DeploymentConfig, asks for deploy steps of it, and reads and scales that config's
 * revisions (`{dc}-{N}`), nothing else. Users' scopes are checked against their roles
 * (requireToken); other scopes are not restricted here.
 */
export function scopeAllows(scope: string, method: string, path: string): boolean {
  const m = /^deployer:([^/]+)\/(.+)$/.exec(scope);
  if (!m) return true;
  const ns = escape(m[1]!);
  const dc = escape(m[2]!);
  const read = method === 'GET' || method === 'HEAD';
  if (
    read &&
    new RegExp(`^/apis/apps\\.openshift\\.io/v1/namespaces/${ns}/deploymentconfigs/${dc}(/log)?$`).test(path)
  )
    return true;
  if (
    method === 'POST' &&
    new RegExp(`^/apis/apps\\.openshift\\.io/v1/namespaces/${ns}/deploymentconfigs/${dc}/deploy$`).test(path)
  )
    return true;
  // The list is let through here and narrowed by its route to this config's revisions
  // (src/api/deployments.ts): other configs' revisions carry their env in encoded configs.
  if (read && new RegExp(`^/api/v1/namespaces/${ns}/replicationcontrollers$`).test(path)) return true;
  const revision = new RegExp(`^/api/v1/namespaces/${ns}/replicationcontrollers/${dc}-\\d+(/scale)?$`);
  return revision.test(path) && (read || (method === 'PUT' && path.endsWith('/scale')));
}

/** The user a `user:{name}` scope (a token issued to a user) stands for; undefined for other scopes. */
export function userOfScope(scope: unknown): string | undefined {
  if (typeof scope !== 'string' || !scope.startsWith('user:')) return undefined;
  return scope.slice('user:'.length) || undefined;
}

/** Where a user's role in a project comes from (their RoleBindings, src/store/access.ts). */
export interface RoleSource {
  roleOf(user: string, namespace: string): Promise<ProjectRole | undefined>;
}

/**
 * The decision for a user's request, read as Kubernetes' authorizer reads it: against the
 * user's role in the project the request names (src/api/authorization.ts). The API's own
 * check and the access reviews the web UI asks (which buttons to offer) both come here,
 * so the page can never offer what the server would refuse, nor hide what it allows.
 */
export async function decideForUser(
  roles: RoleSource,
  user: string,
  attrs: RequestAttributes,
): Promise<Decision> {
  const project =
    attrs.namespace ??
    (attrs.group === 'project.openshift.io' && attrs.resource === 'projects' ? attrs.name : undefined);
  const role = project === undefined ? undefined : await roles.roleOf(user, project);
  return authorizeUser(user, attrs, role);
}

/** What a user's token may do with this request; the refusal's message, or undefined. */
async function userAllowed(
  roles: RoleSource,
  user: string,
  req: { method: string; path: string; query: Record<string, unknown> },
): Promise<string | undefined> {
  const attrs = requestAttributes(req.method, req.path, req.query);
  if (!attrs) return `Forbidden: User "${user}" may not ${req.method} ${req.path}`;
  const decision = await decideForUser(roles, user, attrs);
  return decision.allowed ? undefined : decision.message;
}

export function requireToken(tokens: TokenStore, roles?: RoleSource): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new UnauthorizedError('Unauthorized: send "Authorization: Bearer TOKEN"'));
    tokens
      .verify(match[1]!)
      .then(async (scope) => {
        if (!scope) return next(new UnauthorizedError('Unauthorized: the bearer token is not valid'));
        if (!scopeAllows(scope, req.method, req.path)) {
          return next(new ForbiddenError(forbiddenMessage(scope, req.method, req.path)));
        }
        const user = userOfScope(scope);
        // Only the three kinds of token exist; anything else (an empty user name) may do nothing.
        if (scope !== 'admin' && user === undefined && !deployerScopeOf(scope))
          return next(new ForbiddenError(`Forbidden: a token with scope "${scope}" may do nothing`));
        if (user !== undefined) {
          // A user's token without a way to read roles may do nothing: never everything.
          const refused = roles
            ? await userAllowed(
                roles,
                user,
                req as unknown as { method: string; path: string; query: Record<string, unknown> },
              )
            : `Forbidden: User "${user}" has no roles on this server`;
          if (refused) return next(new ForbiddenError(refused));
        }
        res.locals.scope = scope;
        next();
      })
      .catch(next);
  };
}
