/**
 * Bearer-token authentication for the API. Tokens are kept as SHA-256 hashes in Redis
 * (so every server sharing a Redis knows the tokens `slipway up` made) plus the one in
 * SLIPWAY_ADMIN_TOKEN; comparison is of hashes, in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { ForbiddenError, UnauthorizedError } from '../core/errors.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function generateToken(): string {
  return `slw_${randomBytes(24).toString('base64url')}`;
}

export class TokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
    private readonly adminToken?: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:tokens`;
  }

  /** Remembers a token (hashed); `ttlSeconds` makes it short-lived (scoped deploy tokens). */
  async add(token: string, scope = 'admin', ttlSeconds?: number): Promise<void> {
    const value = JSON.stringify({ scope, expires: ttlSeconds ? Date.now() + ttlSeconds * 1000 : 0 });
    await this.redis.hset(this.key, hashToken(token), value);
  }

  /** The token's scope, or undefined when it is not known or has expired. */
  async verify(token: string): Promise<string | undefined> {
    const hash = hashToken(token);
    if (this.adminToken && timingSafeEqual(Buffer.from(hash), Buffer.from(hashToken(this.adminToken))))
      return 'admin';
    // The lookup is by hash: knowing a stored hash is of no use without the token.
    const entry = await this.redis.hget(this.key, hash);
    if (!entry) return undefined;
    const { scope, expires } = JSON.parse(entry) as { scope: string; expires: number };
    if (expires && expires < Date.now()) return undefined;
    return scope;
  }
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * What a scoped token may do. `deployer:{ns}/{dc}` (a Custom strategy's token) reads its
 * DeploymentConfig, asks for deploy steps of it, and reads and scales that config's
 * revisions (`{dc}-{N}`), nothing else. Other scopes are not restricted here.
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
  if (read && new RegExp(`^/api/v1/namespaces/${ns}/replicationcontrollers$`).test(path)) return true;
  const revision = new RegExp(`^/api/v1/namespaces/${ns}/replicationcontrollers/${dc}-\\d+(/scale)?$`);
  return revision.test(path) && (read || (method === 'PUT' && path.endsWith('/scale')));
}

export function requireToken(tokens: TokenStore): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new UnauthorizedError('Unauthorized: send "Authorization: Bearer TOKEN"'));
    tokens.verify(match[1]!).then((scope) => {
      if (!scope) return next(new UnauthorizedError('Unauthorized: the bearer token is not valid'));
      if (!scopeAllows(scope, req.method, req.path)) {
        return next(
          new ForbiddenError(`Forbidden: this token (scope "${scope}") may not ${req.method} ${req.path}`),
        );
      }
      res.locals.scope = scope;
      next();
    }, next);
  };
}
