/**
 * Binary build inputs (`instantiatebinary`, `start-build --from-dir`): the uploaded
 * archive waits in Redis until a worker, on any machine, takes it.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Largest archive `instantiatebinary` accepts. */
export const MAX_BINARY_BYTES = 100 * 1024 * 1024;

export interface BinaryInputStore {
  /** Stores an upload; returns its id. Unclaimed uploads expire after a day. */
  putBinary(data: Buffer): Promise<string>;
  /** The upload, or undefined when it expired or was never stored. */
  getBinary(id: string): Promise<Buffer | undefined>;
  deleteBinary(id: string): Promise<void>;
}

export class RedisBinaryInputStore implements BinaryInputStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(id: string): string {
    return `${this.prefix}:binary:${id}`;
  }

  async putBinary(data: Buffer): Promise<string> {
    const id = randomUUID();
    await this.redis.set(this.key(id), data, 'EX', 86400);
    return id;
  }

  async getBinary(id: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.key(id))) ?? undefined;
  }

  async deleteBinary(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
