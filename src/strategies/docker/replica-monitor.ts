/**
 * The local target's kubelet, in one loop: lists the replica containers (by label), runs
 * their readiness and liveness probes on their periods, restarts a replica whose liveness
 * fails, and writes readiness and host ports to Redis for the router and rollouts. It also
 * keeps each ReplicationController's `status` counts current.
 *
 * Every process with the Docker target runs one, but only the holder of a Redis lease
 * probes (a lost leader is replaced within `leaseMs`), so there is one opinion of
 * readiness. A new leader starts from the states in Redis, so a Slipway restart does not
 * take ready replicas out of the router while their probes run again.
 */
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Probe } from '../../core/deploy-types.js';
import type { Logger } from '../../core/logger.js';
import { RecurringFailure } from '../../core/recurring-failure.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { ReplicationController } from '../target.js';
import { REPLICATION_CONTROLLER } from './docker-target.js';
import { PROBE_DEFAULTS, runProbe } from './probes.js';
import { deadline } from './reconciler.js';
import { DOCKER_LABELS, replicaCondition, type ReplicaProbes } from './replicas.js';
import type { ReplicaState, ReplicaStateStore } from './replica-state.js';

interface ProbeTrack {
  successes: number;
  failures: number;
  last: number;
  running: boolean;
}

interface Tracked {
  state: ReplicaState;
  readiness: ProbeTrack;
  liveness: ProbeTrack;
  startedAt: number;
  written: string;
  /** Counts toward its revision's `replicas` (running, or coming back under its restart policy). */
  live: boolean;
}

const RENEW_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export interface ReplicaMonitorOptions {
  docker: Docker;
  redis: Redis;
  prefix: string;
  states: ReplicaStateStore;
  store: ResourceStore;
  logger: Logger;
  tickMs?: number;
  leaseMs?: number;
}

export class ReplicaMonitor {
  private readonly id = randomUUID();
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private leader = false;
  private lastStatusSync = 0;
  private readonly tickMs: number;
  private readonly leaseMs: number;
  /** What the current tick is doing (logged when it fails or stalls). */
  private phase = 'idle';
  /** A tick fails 4 times a second while the engine or Redis is away: logged as one outage. */
  private readonly tickFailures: RecurringFailure;

  constructor(private readonly options: ReplicaMonitorOptions) {
    this.tickMs = options.tickMs ?? 250;
    this.leaseMs = options.leaseMs ?? 3000;
    this.tickFailures = new RecurringFailure(options.logger, { what: 'replica monitor tick' });
  }

  private get leaseKey(): string {
    return `${this.options.prefix}:deploy:monitor-lease`;
  }

  start(): void {
    const loop = (): void => {
      // Bounded: an engine call caught by an engine restart may never answer, and an unbounded
      // tick would stop the monitor (and every readiness and status update) for good.
      this.ticking = deadline(this.tick(), Math.max(10_000, this.leaseMs * 3), 'replica monitor tick')
        .then(
          () => this.tickFailures.succeeded(),
          (err: unknown) => this.tickFailures.failed(err, { phase: this.phase }),
        )
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.ticking;
    if (this.leader)
      await this.options.redis
        .eval(
          `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`,
          1,
          this.leaseKey,
          this.id,
        )
        .catch(() => undefined);
    this.leader = false;
  }

  private async holdLease(): Promise<boolean> {
    const { redis } = this.options;
    if (this.leader) {
      const renewed = (await redis.eval(
        RENEW_SCRIPT,
        1,
        this.leaseKey,
        this.id,
        String(this.leaseMs),
      )) as number;
      if (renewed === 1) return true;
    }
    const got = await redis.set(this.leaseKey, this.id, 'PX', this.leaseMs, 'NX');
    return got === 'OK';
  }

  private async tick(): Promise<void> {
    const wasLeader = this.leader;
    this.phase = 'lease';
    this.leader = await this.holdLease();
    if (!this.leader) {
      this.tracked.clear();
      return;
    }
    const { docker, states } = this.options;
    this.phase = 'list containers';
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${DOCKER_LABELS.managed}=replica`] },
    });
    const stored =
      !wasLeader || this.tracked.size === 0
        ? new Map((await states.list()).map((s) => [s.id, s]))
        : new Map<string, ReplicaState>();
    const now = Date.now();
    const seen = new Set<string>();
    const probes: Promise<void>[] = [];
    for (const c of containers) {
      seen.add(c.Id);
      let t = this.tracked.get(c.Id);
      if (!t) {
        const prior = stored.get(c.Id);
        t = {
          state: prior ?? {
            id: c.Id,
            name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
            namespace: c.Labels[DOCKER_LABELS.namespace] ?? '',
            deploymentConfig: c.Labels[DOCKER_LABELS.deploymentConfig] ?? '',
            revision: c.Labels[DOCKER_LABELS.revision] ?? '',
            podLabels: JSON.parse(c.Labels[DOCKER_LABELS.podLabels] ?? '{}') as Record<string, string>,
            ports: {},
            portNames: JSON.parse(c.Labels[DOCKER_LABELS.portNames] ?? '{}') as Record<string, number>,
            running: false,
            ready: false,
            restarts: 0,
            updated: 0,
          },
          // A re-adopted ready replica counts as past its threshold: no flap on takeover.
          readiness: { successes: prior?.ready ? 1e6 : 0, failures: 0, last: 0, running: false },
          liveness: { successes: 0, failures: 0, last: 0, running: false },
          startedAt: c.Created * 1000,
          written: '',
          live: true,
        };
        this.tracked.set(c.Id, t);
      }
      const s = t.state;
      s.running = c.State === 'running';
      // An exited replica is dead or about to be replaced by the reconciler: not counted.
      t.live = replicaCondition(c, now) === 'live';
      s.ports = Object.fromEntries(
        c.Ports.filter(
          (p) => p.PublicPort && p.Type === 'tcp' && (p.IP === '127.0.0.1' || p.IP === '0.0.0.0' || !p.IP),
        ).map((p) => [String(p.PrivatePort), p.PublicPort]),
      );
      const configured = JSON.parse(c.Labels[DOCKER_LABELS.probes] ?? '{}') as ReplicaProbes;
      if (!s.running) {
        this.setReady(t, false, `container is ${c.State}: ${c.Status}`, now);
        t.readiness.successes = 0;
        continue;
      }
      if (!configured.readiness) this.setReady(t, true, undefined, now);
      else if (this.due(t.readiness, configured.readiness, t.startedAt, now))
        probes.push(this.probeReadiness(t, configured.readiness));
      if (configured.liveness && this.due(t.liveness, configured.liveness, t.startedAt, now))
        probes.push(this.probeLiveness(t, c, configured.liveness));
    }
    this.phase = 'probes';
    await Promise.all(probes);
    this.phase = 'write states';
    for (const id of [...this.tracked.keys()]) if (!seen.has(id)) this.tracked.delete(id);
    const gone = [...stored.keys()].filter((id) => !seen.has(id));
    const known = await states.list();
    for (const s of known) if (!seen.has(s.id)) gone.push(s.id);
    await states.remove([...new Set(gone)]);
    const changed: ReplicaState[] = [];
    for (const t of this.tracked.values()) {
      const { updated: _ignored, ...rest } = t.state;
      const json = JSON.stringify(rest);
      // Rewrite at least every 5 s so `updated` shows the monitor is alive.
      if (json !== t.written || now - t.state.updated > 5000) {
        t.state.updated = now;
        t.written = json;
        changed.push(t.state);
      }
    }
    await states.put(changed);
    if (now - this.lastStatusSync > 2000) {
      this.lastStatusSync = now;
      this.phase = 'revision status';
      await this.syncRevisionStatus();
    }
    this.phase = 'idle';
  }

  private due(track: ProbeTrack, probe: Probe, startedAt: number, now: number): boolean {
    if (track.running) return false;
    if (now < startedAt + (probe.initialDelaySeconds ?? PROBE_DEFAULTS.initialDelaySeconds) * 1000)
      return false;
    return now - track.last >= (probe.periodSeconds ?? PROBE_DEFAULTS.periodSeconds) * 1000;
  }

  private setReady(t: Tracked, ready: boolean, message: string | undefined, now: number): void {
    if (ready && !t.state.ready) t.state.readySince = now;
    if (!ready) delete t.state.readySince;
    t.state.ready = ready;
    if (message === undefined) delete t.state.message;
    else t.state.message = message;
  }

  private async probeReadiness(t: Tracked, probe: Probe): Promise<void> {
    t.readiness.running = true;
    t.readiness.last = Date.now();
    try {
      const outcome = await runProbe(probe, {
        docker: this.options.docker,
        containerId: t.state.id,
        ports: t.state.ports,
        portNames: t.state.portNames,
      });
      const now = Date.now();
      if (outcome.ok) {
        t.readiness.successes++;
        t.readiness.failures = 0;
        if (t.readiness.successes >= (probe.successThreshold ?? PROBE_DEFAULTS.successThreshold))
          this.setReady(t, true, undefined, now);
      } else {
        t.readiness.failures++;
        t.readiness.successes = 0;
        // Not yet ready stays not ready; a ready replica drops out after failureThreshold misses.
        const drop =
          !t.state.ready ||
          t.readiness.failures >= (probe.failureThreshold ?? PROBE_DEFAULTS.failureThreshold);
        this.setReady(t, drop ? false : t.state.ready, `readiness probe failed: ${outcome.message}`, now);
      }
    } finally {
      t.readiness.running = false;
    }
  }

  private async probeLiveness(t: Tracked, c: Docker.ContainerInfo, probe: Probe): Promise<void> {
    t.liveness.running = true;
    t.liveness.last = Date.now();
    try {
      const outcome = await runProbe(probe, {
        docker: this.options.docker,
        containerId: t.state.id,
        ports: t.state.ports,
        portNames: t.state.portNames,
      });
      if (outcome.ok) {
        t.liveness.failures = 0;
        return;
      }
      t.liveness.failures++;
      if (t.liveness.failures < (probe.failureThreshold ?? PROBE_DEFAULTS.failureThreshold)) return;
      this.options.logger.info(
        { replica: t.state.name },
        `liveness probe failed (${outcome.message}); restarting`,
      );
      t.state.restarts++;
      this.setReady(t, false, `liveness probe failed: ${outcome.message}; restarted`, Date.now());
      t.readiness.successes = 0;
      t.liveness.failures = 0;
      t.startedAt = Date.now();
      await this.options.docker
        .getContainer(c.Id)
        .restart()
        .catch((err: unknown) => this.options.logger.warn({ err, replica: t.state.name }, 'restart failed'));
    } finally {
      t.liveness.running = false;
    }
  }

  /** Writes live counts into each ReplicationController's status when they change. */
  private async syncRevisionStatus(): Promise<void> {
    const { store, states } = this.options;
    const [rcs, draining] = await Promise.all([
      store.list(REPLICATION_CONTROLLER) as Promise<ReplicationController[]>,
      states.draining(),
    ]);
    const now = Date.now();
    for (const rc of rcs) {
      const mine = [...this.tracked.values()].filter(
        (t) =>
          t.state.namespace === rc.metadata.namespace &&
          t.state.revision === rc.metadata.name &&
          t.live &&
          !draining.has(t.state.id),
      );
      const ready = mine.filter((t) => t.state.running && t.state.ready);
      const minReadyMs = (rc.spec.minReadySeconds ?? 0) * 1000;
      const status = {
        replicas: mine.length,
        readyReplicas: ready.length,
        availableReplicas: ready.filter((t) => (t.state.readySince ?? now) <= now - minReadyMs).length,
        observedGeneration: rc.metadata.generation ?? 1,
      };
      const cur = rc.status ?? {};
      if (
        cur.replicas === status.replicas &&
        cur.readyReplicas === status.readyReplicas &&
        cur.availableReplicas === status.availableReplicas
      )
        continue;
      await store
        .update(REPLICATION_CONTROLLER, rc.metadata.namespace!, rc.metadata.name, (obj) => ({
          ...obj,
          status,
        }))
        .catch((err: unknown) =>
          this.options.logger.debug({ err, revision: rc.metadata.name }, 'revision status not written'),
        ); // deleted meanwhile, most likely
    }
  }
}
