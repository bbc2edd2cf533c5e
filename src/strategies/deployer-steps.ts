/**
 * The channel between a deployer pod's `POST …/deploymentconfigs/{name}/deploy` (served by
 * whichever API server it reached) and the worker running that rollout: a Redis list of
 * step requests per revision and a reply key per request. Slipway's stand-in for
 * OpenShift's `openshift-deploy` binary inside the deployer image.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConflictError, errorMessage } from '../core/errors.js';
import { DeploymentFailure } from './strategy.js';

interface StepRequest {
  id: string;
  until?: number;
}

interface StepReply {
  ok: boolean;
  message?: string;
}

export class DeployerSteps {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'slipway',
  ) {}

  private key(kind: string, ns: string, rc: string): string {
    return `${this.prefix}:deploy:steps:${kind}:${ns}/${rc}`;
  }

  /**
   * Runs a step of the rollout of `rc` on the worker serving it and resolves when it is
   * done; a ConflictError when no deployer of that revision is running, a
   * DeploymentFailure when the step failed.
   */
  async request(namespace: string, rc: string, until: number | undefined, timeoutMs: number): Promise<void> {
    if (!(await this.redis.exists(this.key('serving', namespace, rc)))) {
      throw new ConflictError(
        `no deployer of ${namespace}/${rc} is running: deploy steps are for a Rolling or Recreate strategy with customParams`,
      );
    }
    const request: StepRequest = { id: randomUUID(), ...(until === undefined ? {} : { until }) };
    const replyKey = this.key(`reply:${request.id}`, namespace, rc);
    await this.redis.rpush(this.key('requests', namespace, rc), JSON.stringify(request));
    // A blocking pop holds its connection: one of its own per request.
    const conn = this.redis.duplicate();
    try {
      const popped = await conn.blpop(replyKey, Math.max(1, Math.ceil(timeoutMs / 1000)));
      if (!popped)
        throw new DeploymentFailure(
          'ProgressDeadlineExceeded',
          `the deploy step of ${rc} did not finish in ${Math.round(timeoutMs / 1000)}s`,
        );
      const reply = JSON.parse(popped[1]) as StepReply;
      if (!reply.ok)
        throw new DeploymentFailure('RolloutFailed', reply.message ?? `the deploy step of ${rc} failed`);
    } finally {
      conn.disconnect();
    }
  }

  /** Worker side: answers step requests for `rc` with `step` until the returned stop is called. */
  serve(
    namespace: string,
    rc: string,
    step: (until: number | undefined) => Promise<void>,
  ): () => Promise<void> {
    const servingKey = this.key('serving', namespace, rc);
    const requestsKey = this.key('requests', namespace, rc);
    const conn = this.redis.duplicate();
    let stopped = false;
    const mark = (): Promise<unknown> => this.redis.set(servingKey, '1', 'PX', 5000);
    const heartbeat = setInterval(() => void mark().catch(() => undefined), 2000);
    const loop = (async () => {
      await mark();
      while (!stopped) {
        const popped = await conn.blpop(requestsKey, 1).catch(() => null);
        if (!popped) continue;
        const request = JSON.parse(popped[1]) as StepRequest;
        let reply: StepReply;
        try {
          await step(request.until);
          reply = { ok: true };
        } catch (err) {
          reply = { ok: false, message: errorMessage(err) };
        }
        const replyKey = this.key(`reply:${request.id}`, namespace, rc);
        await this.redis.multi().rpush(replyKey, JSON.stringify(reply)).expire(replyKey, 300).exec();
      }
    })();
    return async () => {
      stopped = true;
      clearInterval(heartbeat);
      await loop.catch(() => undefined);
      conn.disconnect();
      await this.redis.del(servingKey, requestsKey);
    };
  }
}
