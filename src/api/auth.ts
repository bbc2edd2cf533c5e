/**
 * Bearer-token authentication for the API. Tokens are kept as SHA-256 hashes in Redis
 * (so every server sharing a Redis knows the tokens `slipway up` made) plus the one in
 * SLIPWAY_ADMIN_TOKEN; comparison is of hashes, in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { UnauthorizedError } from '../core/errors.js';

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
    if (this.adminToken && timingSafeEqual(Buffer.from(hash), Buffer.from(hashToken(this.adminToken)))) return 'admin';
    // The lookup is by hash: knowing a stored hash is of no use without the token.
    const entry = await this.redis.hget(this.key, hash);
    if (!entry) return undefined;
    const { scope, expires } = JSON.parse(entry) as { scope: string; expires: number };
    if (expires && expires < Date.now()) return undefined;
    return scope;
  }
}

export function requireToken(tokens: TokenStore): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new UnauthorizedError('Unauthorized: send "Authorization: Bearer TOKEN"'));
    tokens.verify(match[1]!).then((scope) => {
      if (!scope) return next(new UnauthorizedError('Unauthorized: the bearer token is not valid'));
      res.locals.scope = scope;
      next();
    }, next);
  };
}
