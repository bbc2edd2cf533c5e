/**
 * The local target's ReplicationController loop: keeps every revision at the replica count
 * recorded on it in the store (`spec.replicas`, written by rollouts and scales), replacing
 * replicas that exited past their restart policy (`docker kill`, `docker stop`, a create
 * that never started) or were removed (`docker rm -f`).
 *
 * It hears the engine's `die`/`destroy`/`oom` events for Slipway's replicas, so a loss is
 * repaired within about two seconds, and it resyncs everything on an interval in case an
 * event was missed (the event stream drops while the engine restarts). Every process with
 * the Docker target runs one; the revision lease in Redis (`RevisionLeases`) lets exactly
 * one of them act on a revision at a time, and rollouts take the same lease for each scale
 * step, so the reconciler never counts containers in the middle of one.
 */
import type Docker from 'dockerode';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { RecurringFailure } from '../../core/recurring-failure.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { ReplicationController } from '../target.js';
import { REPLICATION_CONTROLLER, type DockerTarget } from './docker-target.js';
import { DOCKER_LABELS, REPLICA_TIMINGS } from './replicas.js';

export interface ReplicaReconcilerOptions {
  docker: Docker;
  target: DockerTarget;
  store: ResourceStore;
  logger: Logger;
  /** Full resync period; events make most repairs faster than this. */
  resyncMs?: number;
}

/**
 * Rejects when `work` has not settled within `ms`. The engine's API has no timeouts of its
 * own: a call caught by an engine restart can stay unanswered, and a loop awaiting it would
 * stop for good. The abandoned call is left to settle (or not) on its own.
 */
export function deadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** Longest a resync or one revision's repair may take before the loop goes on without it. */
const PASS_DEADLINE_MS = 60_000;

interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export class ReplicaReconciler {
  private readonly resyncMs: number;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private events: NodeJS.ReadableStream | undefined;
  private eventRetry: NodeJS.Timeout | undefined;
  /** Revisions with a repair already scheduled from an event (`ns/revision` → timer). */
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  /** Resyncs fail every few seconds while the engine is away: logged as one outage. */
  private readonly resyncFailures: RecurringFailure;

  constructor(private readonly options: ReplicaReconcilerOptions) {
    this.resyncMs = options.resyncMs ?? 3000;
    this.resyncFailures = new RecurringFailure(options.logger, { what: 'replica reconciler resync' });
  }

  start(): void {
    this.stopped = false;
    this.listen();
    const loop = (): void => {
      this.timer = setTimeout(() => {
        void this.boundedResync().finally(() => {
          if (!this.stopped) loop();
        });
      }, this.resyncMs);
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.eventRetry) clearTimeout(this.eventRetry);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    (this.events as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    this.abort.abort(new Error('replica reconciler stopped'));
    await Promise.allSettled([...this.running]);
  }

  /**
   * Checks every revision that should have replicas against the engine's containers and
   * repairs those that differ. One container listing for all of them: the resync is cheap
   * when nothing is wrong, and takes no lease then.
   */
  async resync(): Promise<void> {
    const { docker, store } = this.options;
    const [rcs, containers] = await Promise.all([
      store.list(REPLICATION_CONTROLLER) as Promise<ReplicationController[]>,
      docker.listContainers({ all: true, filters: { label: [`${DOCKER_LABELS.managed}=replica`] } }),
    ]);
    const running = new Map<string, number>();
    const notRunning = new Set<string>();
    for (const c of containers) {
      const key = `${c.Labels[DOCKER_LABELS.namespace]}/${c.Labels[DOCKER_LABELS.revision]}`;
      if (c.State === 'running') running.set(key, (running.get(key) ?? 0) + 1);
      else notRunning.add(key);
    }
    for (const rc of rcs) {
      if (this.stopped) return;
      const key = `${rc.metadata.namespace}/${rc.metadata.name}`;
      // Equal counts with nothing stopped: healthy without a closer look. Anything else gets
      // the careful check under the lease (restarting replicas included).
      if ((running.get(key) ?? 0) === rc.spec.replicas && !notRunning.has(key)) continue;
      await this.heal(rc.metadata.namespace!, rc.metadata.name);
    }
  }

  /** A resync under the pass deadline; its failures are logged as one outage, never thrown. */
  private boundedResync(): Promise<void> {
    return this.track(deadline(this.resync(), PASS_DEADLINE_MS, 'replica reconciler resync')).then(
      () => this.resyncFailures.succeeded(),
      (err: unknown) => this.resyncFailures.failed(err),
    );
  }

  private async heal(namespace: string, revision: string): Promise<void> {
    const outcome = await this.options.target.healRevision(namespace, revision, this.abort.signal);
    // An exit that may still become a restart: look again once it has settled.
    if (outcome === 'settling') this.schedule(namespace, revision, REPLICA_TIMINGS.settleMs);
  }

  private schedule(namespace: string, revision: string, delayMs: number): void {
    const key = `${namespace}/${revision}`;
    if (this.stopped || this.pending.has(key)) return;
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key);
        void this.track(deadline(this.heal(namespace, revision), PASS_DEADLINE_MS, `repair of ${key}`)).catch(
          (err: unknown) =>
            this.options.logger.warn(
              { revision: key, err: errorMessage(err) },
              'replica reconciler: repair failed',
            ),
        );
      }, delayMs),
    );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p)).catch(() => undefined);
    return p;
  }

  /** Follows the engine's events for replicas; reconnects (and resyncs) when the stream ends. */
  private listen(): void {
    if (this.stopped) return;
    const reconnect = (): void => {
      if (this.stopped || this.eventRetry) return;
      this.events = undefined;
      this.eventRetry = setTimeout(() => {
        this.eventRetry = undefined;
        this.listen();
      }, 1000);
    };
    this.options.docker
      .getEvents({
        filters: {
          type: ['container'],
          event: ['die', 'destroy', 'oom'],
          label: [`${DOCKER_LABELS.managed}=replica`],
        },
      })
      .then((stream) => {
        if (this.stopped) {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          return;
        }
        this.events = stream;
        // Events missed while disconnected (an engine restart) are made up by a resync.
        void this.boundedResync();
        let buffered = '';
        stream.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) this.onEvent(line);
        });
        stream.on('error', reconnect);
        stream.on('end', reconnect);
        stream.on('close', reconnect);
      })
      .catch(reconnect);
  }

  private onEvent(line: string): void {
    let event: DockerEvent;
    try {
      event = JSON.parse(line) as DockerEvent;
    } catch {
      return;
    }
    const attrs = event.Actor?.Attributes ?? {};
    const namespace = attrs[DOCKER_LABELS.namespace];
    const revision = attrs[DOCKER_LABELS.revision];
    if (!namespace || !revision) return;
    // After the exit settles, so a restart under the policy is not mistaken for a death.
    this.schedule(namespace, revision, REPLICA_TIMINGS.settleMs + 100);
  }
}
