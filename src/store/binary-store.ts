/**
 * Binary build inputs (`instantiatebinary`, `start-build --from-dir`): the uploaded
 * archive waits in Redis until a worker, on any machine, takes it. Each namespace may
 * have at most a quota of bytes waiting: uploads are held in memory by Redis, and any
 * holder of a token could otherwise fill it.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ForbiddenError } from '../core/errors.js';

/** Largest archive `instantiatebinary` accepts. */
export const MAX_BINARY_BYTES = 100 * 1024 * 1024;

/** An upload no build has read yet waits this long (a build may queue behind others). */
export const UNCLAIMED_TTL_SECONDS = 86400;

/**
 * Once a build has read its upload, it is kept only this long (the build deletes it after
 * unpacking; this bounds what a worker that died in between leaves behind).
 */
export const CONSUMED_TTL_SECONDS = 600;

/** Default per-namespace quota when none is configured (the config's default). */
export const DEFAULT_UPLOAD_QUOTA_BYTES = 512 * 1024 * 1024;

export interface BinaryInputStore {
  /**
   * Stores an upload for a build in `namespace`; returns its id. Throws ForbiddenError when
   * the namespace's waiting uploads and this one would pass the quota.
   */
  putBinary(namespace: string, data: Buffer): Promise<string>;
  /** Throws the quota's ForbiddenError now when `bytes` more would not fit (before reading a body). */
  checkRoom(namespace: string, bytes: number): Promise<void>;
  /** Bytes of uploads waiting in `namespace`. */
  usage(namespace: string): Promise<number>;
  /** The upload, or undefined when it expired or was never stored; reading it starts its short TTL. */
  getBinary(id: string): Promise<Buffer | undefined>;
  deleteBinary(id: string): Promise<void>;
}

const MiB = 1024 * 1024;
const human = (n: number): string => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`);

// Entries of the usage hash (KEYS[1]) are "size:expiresAtMs"; expired ones are dropped
// while counting, so the accounting heals itself when Redis expires an upload nobody took.
// Both scripts start by summing the live entries into `used`.
const SUM_LIVE_UPLOADS = (nowArg: string): string => `
local now = tonumber(${nowArg})
local used = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local size, expires = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if size == nil or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  else
    used = used + tonumber(size)
  end
end
`;

// KEYS: usage hash, data key. ARGV: field, size, now (ms), ttl (s), limit, data.
const PUT_SCRIPT = `${SUM_LIVE_UPLOADS('ARGV[3]')}
local size = tonumber(ARGV[2])
if used + size > tonumber(ARGV[5]) then return {0, used} end
local ttl = tonumber(ARGV[4])
redis.call('SET', KEYS[2], ARGV[6], 'EX', ttl)
redis.call('HSET', KEYS[1], ARGV[1], size .. ':' .. (now + ttl * 1000))
redis.call('EXPIRE', KEYS[1], ttl)
return {1, used + size}
`;

// KEYS: usage hash. ARGV: now (ms).
const USAGE_SCRIPT = `${SUM_LIVE_UPLOADS('ARGV[1]')}
return used
`;

function quotaError(namespace: string, used: number, size: number, limit: number): ForbiddenError {
  return new ForbiddenError(
    `upload quota exceeded in namespace "${namespace}": ${human(used)} of uploads wait for builds, ` +
      `this upload of ${human(size)} would pass the limit of ${human(limit)} ` +
      `(used ${used}, limit ${limit} bytes); wait for queued binary builds to start, or raise SLIPWAY_UPLOAD_QUOTA_BYTES`,
  );
}

export class RedisBinaryInputStore implements BinaryInputStore {
  private readonly quotaBytes: number;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
    options: { quotaBytes?: number } = {},
  ) {
    this.quotaBytes = options.quotaBytes ?? DEFAULT_UPLOAD_QUOTA_BYTES;
  }

  private key(id: string): string {
    return `${this.prefix}:binary:${id}`;
  }

  private usageKey(namespace: string): string {
    return `${this.prefix}:binary-usage:${namespace}`;
  }

  /** Ids are `{namespace}/{uuid}` (namespaces hold no "/"); ids of earlier versions have no namespace. */
  private split(id: string): { namespace?: string; field: string } {
    const at = id.indexOf('/');
    return at < 0 ? { field: id } : { namespace: id.slice(0, at), field: id.slice(at + 1) };
  }

  async usage(namespace: string): Promise<number> {
    return Number(await this.redis.eval(USAGE_SCRIPT, 1, this.usageKey(namespace), String(Date.now())));
  }

  async checkRoom(namespace: string, bytes: number): Promise<void> {
    const used = await this.usage(namespace);
    if (used + bytes > this.quotaBytes) throw quotaError(namespace, used, bytes, this.quotaBytes);
  }

  async putBinary(namespace: string, data: Buffer): Promise<string> {
    const field = randomUUID();
    const id = `${namespace}/${field}`;
    // Counting and storing in one script: two uploads at once cannot both slip under the quota.
    const [stored, used] = (await this.redis.eval(
      PUT_SCRIPT,
      2,
      this.usageKey(namespace),
      this.key(id),
      field,
      String(data.length),
      String(Date.now()),
      String(UNCLAIMED_TTL_SECONDS),
      String(this.quotaBytes),
      data,
    )) as [number, number];
    if (!stored) throw quotaError(namespace, used, data.length, this.quotaBytes);
    return id;
  }

  async getBinary(id: string): Promise<Buffer | undefined> {
    const data = (await this.redis.getBuffer(this.key(id))) ?? undefined;
    if (!data) return undefined;
    await this.redis.expire(this.key(id), CONSUMED_TTL_SECONDS);
    const { namespace, field } = this.split(id);
    if (namespace) {
      await this.redis.hset(
        this.usageKey(namespace),
        field,
        `${data.length}:${Date.now() + CONSUMED_TTL_SECONDS * 1000}`,
      );
    }
    return data;
  }

  async deleteBinary(id: string): Promise<void> {
    const { namespace, field } = this.split(id);
    const tx = this.redis.multi().del(this.key(id));
    if (namespace) tx.hdel(this.usageKey(namespace), field);
    await tx.exec();
  }
}
