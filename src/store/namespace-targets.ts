/**
 * Which deploy target each namespace rolls out to, shared by every Slipway process of a
 * fleet through Redis. A fleet may mix processes that have a Kubernetes cluster with
 * processes that only have their local Docker engine; the record is what keeps a
 * DeploymentConfig meant for the cluster off a Docker host (and the reverse). See
 * docs/mixed-fleets.md.
 *
 * One Redis hash `{prefix}:namespace-targets`, field = namespace, value = the kind.
 */
import type { Redis } from 'ioredis';
import { InputError } from '../core/errors.js';

/** The kinds of deploy target a process can have (src/strategies/targets.ts picks one). */
export const DEPLOY_TARGET_KINDS = ['docker', 'kubernetes'] as const;
export type DeployTargetKind = (typeof DEPLOY_TARGET_KINDS)[number];

export function isDeployTargetKind(value: unknown): value is DeployTargetKind {
  return typeof value === 'string' && (DEPLOY_TARGET_KINDS as readonly string[]).includes(value);
}

/** Checks a kind given by a user; `field` is where it came from, for the 422. */
export function parseDeployTargetKind(value: unknown, field = 'kind'): DeployTargetKind {
  if (isDeployTargetKind(value)) return value;
  throw new InputError(
    `${field}: Unsupported value: ${JSON.stringify(value)}: supported values: "docker", "kubernetes"`,
    { causes: [{ field, message: 'must be docker or kubernetes' }] },
  );
}

export interface NamespaceTargets {
  /** The kind recorded for the namespace, undefined when none is. */
  get(namespace: string): Promise<DeployTargetKind | undefined>;
  /**
   * Records `kind` when the namespace has none yet, atomically (two processes claiming at
   * once get one winner); answers the kind recorded afterwards, this one or an earlier one.
   */
  claim(namespace: string, kind: DeployTargetKind): Promise<DeployTargetKind>;
  /** Records `kind`, replacing whatever was recorded (an explicit declaration). */
  set(namespace: string, kind: DeployTargetKind): Promise<void>;
}

export class RedisNamespaceTargets implements NamespaceTargets {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix = 'slipway',
  ) {
    this.key = `${prefix}:namespace-targets`;
  }

  async get(namespace: string): Promise<DeployTargetKind | undefined> {
    const value = await this.redis.hget(this.key, namespace);
    // A value this version does not know (written by a newer one) is not ours to act on.
    return value === null ? undefined : isDeployTargetKind(value) ? value : undefined;
  }

  async claim(namespace: string, kind: DeployTargetKind): Promise<DeployTargetKind> {
    // HSETNX is one atomic command: of two processes claiming at once, one writes.
    await this.redis.hsetnx(this.key, namespace, kind);
    return (await this.get(namespace)) ?? kind;
  }

  async set(namespace: string, kind: DeployTargetKind): Promise<void> {
    await this.redis.hset(this.key, namespace, kind);
  }
}

/** What a process decides about a namespace, given its own kind and the record. */
export type TargetDecision =
  | { act: true; claimed: boolean }
  /** `recorded` is undefined when the namespace stays unrecorded (this process may not claim it). */
  | { act: false; recorded: DeployTargetKind | undefined };

/**
 * Pure: whether a process with target `own` acts on a namespace whose record was
 * `before` (before claiming) and is `after` (after claiming). It acts only when the
 * record is its own kind; `claimed` says that this process just made the record.
 */
export function decideTarget(input: {
  own: DeployTargetKind;
  before: DeployTargetKind | undefined;
  after: DeployTargetKind;
}): TargetDecision {
  if (input.after !== input.own) return { act: false, recorded: input.after };
  return { act: true, claimed: input.before === undefined };
}

/** The BullMQ queue of rollouts for one kind of target: a worker takes only its own kind's. */
export function rolloutQueueName(kind: DeployTargetKind): string {
  return `rollouts-${kind}`;
}

/**
 * Pure: the kind of queue a rollout of a namespace goes to — its record's, or, in a
 * namespace with none (a fleet of one kind that never recorded it), the enqueuing
 * process's own.
 */
export function rolloutQueueKind(input: {
  recorded: DeployTargetKind | undefined;
  own: DeployTargetKind;
}): DeployTargetKind {
  return input.recorded ?? input.own;
}
