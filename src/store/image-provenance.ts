/**
 * Which BuildConfig produced an image, for the ImageChange loop guard. A build's push
 * reaches Slipway twice: from the worker that pushed it, which knows its BuildConfig,
 * and from the registry's notification, which does not (the registry only sees a
 * `docker push`). The worker marks the tag before it pushes and the digest after, so
 * whichever report arrives first can tell a build's own output from a user's push.
 *
 * Keys (`{prefix}:provenance:…`):
 * - `pushing:{registry}/{repository}:{tag}` → `namespace/buildconfig`, while a build pushes
 *   there. The registry notifies only after the manifest is stored, so the mark is
 *   always there before the notification, whatever the order of the two reports.
 * - `digest:{registry}/{repository}@{digest}` → `namespace/buildconfig`, after the push.
 *
 * A user's push to the same tag while a build is pushing there is taken for the build's:
 * the loop guard then skips it, the safe side of a rare race.
 */
import type { Redis } from 'ioredis';

/** The BuildConfig that produced an image (namespace and name). */
export interface ProducerKey {
  namespace: string;
  name: string;
}

export interface ImageLocation {
  /** The registry as the pusher addressed it (`127.0.0.1:5000`). */
  registry: string;
  /** `namespace/stream`. */
  repository: string;
  tag: string;
}

export interface ImageProvenance {
  /** Before a build pushes to a tag: an image landing there meanwhile is `producedBy`'s. */
  markPushing(location: ImageLocation, producedBy: ProducerKey): Promise<void>;
  /** After the push: the digest is `producedBy`'s; the tag's mark is dropped. */
  markPushed(location: ImageLocation & { digest: string }, producedBy: ProducerKey): Promise<void>;
  /** The BuildConfig whose build pushed this image, or undefined when no build did. */
  producerOf(location: ImageLocation & { digest: string }): Promise<ProducerKey | undefined>;
}

/**
 * How long a push mark lives: longer than any push with its retries. A worker that dies
 * mid-push leaves the mark behind for at most this long.
 */
export const PUSHING_TTL_SECONDS = 3600;
/** How long a digest stays attributed: the registry retries a notification for hours at most. */
export const PUSHED_TTL_SECONDS = 7 * 24 * 3600;

function parseKey(value: string | null): ProducerKey | undefined {
  if (!value) return undefined;
  const slash = value.indexOf('/');
  if (slash <= 0) return undefined;
  return { namespace: value.slice(0, slash), name: value.slice(slash + 1) };
}

export class RedisImageProvenance implements ImageProvenance {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private tagKey(l: ImageLocation): string {
    return `${this.prefix}:provenance:pushing:${l.registry}/${l.repository}:${l.tag}`;
  }

  private digestKey(l: ImageLocation & { digest: string }): string {
    return `${this.prefix}:provenance:digest:${l.registry}/${l.repository}@${l.digest}`;
  }

  async markPushing(location: ImageLocation, producedBy: ProducerKey): Promise<void> {
    await this.redis.set(
      this.tagKey(location),
      `${producedBy.namespace}/${producedBy.name}`,
      'EX',
      PUSHING_TTL_SECONDS,
    );
  }

  async markPushed(location: ImageLocation & { digest: string }, producedBy: ProducerKey): Promise<void> {
    // The digest mark first: a notification read between the two commands still finds one.
    await this.redis
      .multi()
      .set(this.digestKey(location), `${producedBy.namespace}/${producedBy.name}`, 'EX', PUSHED_TTL_SECONDS)
      .del(this.tagKey(location))
      .exec();
  }

  async producerOf(location: ImageLocation & { digest: string }): Promise<ProducerKey | undefined> {
    const [byDigest, byTag] = await this.redis.mget(this.digestKey(location), this.tagKey(location));
    return parseKey(byDigest ?? null) ?? parseKey(byTag ?? null);
  }
}
