/**
 * Which image a build with a given input fingerprint made, for build avoidance
 * (src/queue/build-fingerprint.ts, docs/build-lifecycle.md). Kept in Redis, so every
 * worker of a fleet finds the images every other worker built; a worker's own memory
 * would miss them.
 *
 * Keys: `{prefix}:build-fingerprint:{namespace}:{fingerprint}` → JSON of the
 * {@link ReusableImage}. Only Complete builds that pushed an image are recorded; a
 * mapping lives {@link FINGERPRINT_TTL_SECONDS} after its last use, and is dropped as
 * soon as a worker finds its image gone from the registry.
 */
import type { Redis } from 'ioredis';

/** The image a Complete build pushed, as another build with the same inputs reuses it. */
export interface ReusableImage {
  /** The build that made it (its namespace is the key's). */
  build: string;
  /** The manifest digest the registry stored (`sha256:…`). */
  digest: string;
  /** The registry as pushed to (`127.0.0.1:5000`). */
  registry: string;
  /** `namespace/name` in the registry. */
  repository: string;
}

export interface BuildFingerprints {
  /** The image recorded for this namespace and fingerprint, if any (its lifetime starts again). */
  lookUp(namespace: string, fingerprint: string): Promise<ReusableImage | undefined>;
  /** Records the image a Complete build made from these inputs; a newer build's replaces an older one's. */
  record(namespace: string, fingerprint: string, image: ReusableImage): Promise<void>;
  /** Drops the mapping when it still names `digest` (its image is gone from the registry). */
  forget(namespace: string, fingerprint: string, digest: string): Promise<void>;
}

/** How long a mapping is kept after it was last recorded or reused. */
export const FINGERPRINT_TTL_SECONDS = 30 * 24 * 3600;

// Deletes only the mapping that still names the digest found gone: a newer build may
// have recorded another image under the same fingerprint meanwhile.
const FORGET = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, image = pcall(cjson.decode, v)
if (not ok) or type(image) ~= 'table' or image.digest == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

function parseImage(raw: string | null): ReusableImage | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<ReusableImage>;
    if (
      typeof v.build === 'string' &&
      typeof v.digest === 'string' &&
      typeof v.registry === 'string' &&
      typeof v.repository === 'string'
    )
      return { build: v.build, digest: v.digest, registry: v.registry, repository: v.repository };
  } catch {
    // a value that is not ours: treated as no mapping, and overwritten by the next build
  }
  return undefined;
}

export class RedisBuildFingerprints implements BuildFingerprints {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(namespace: string, fingerprint: string): string {
    return `${this.prefix}:build-fingerprint:${namespace}:${fingerprint}`;
  }

  async lookUp(namespace: string, fingerprint: string): Promise<ReusableImage | undefined> {
    // GETEX (Redis 6.2): read and start the lifetime again in one command.
    const raw = await this.redis.getex(this.key(namespace, fingerprint), 'EX', FINGERPRINT_TTL_SECONDS);
    return parseImage(raw ?? null);
  }

  async record(namespace: string, fingerprint: string, image: ReusableImage): Promise<void> {
    const { build, digest, registry, repository } = image;
    await this.redis.set(
      this.key(namespace, fingerprint),
      JSON.stringify({ build, digest, registry, repository, recorded: new Date().toISOString() }),
      'EX',
      FINGERPRINT_TTL_SECONDS,
    );
  }

  async forget(namespace: string, fingerprint: string, digest: string): Promise<void> {
    await this.redis.eval(FORGET, 1, this.key(namespace, fingerprint), digest);
  }
}
