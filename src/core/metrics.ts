/**
 * Prometheus metrics, served at /metrics (docs/metrics.md).
 *
 * Two kinds. A process's own (`slipway_process_*`, HTTP requests it served) live in
 * prom-client's memory, as usual. The fleet's (builds, stages, rollouts, webhook
 * deliveries, queue waits) describe work that any worker or server of the fleet may have
 * done, so they are counted in Redis (src/store/fleet-metrics.ts) and read back at scrape
 * time: every server answers the same numbers whichever process ran the work.
 *
 * Recording is fire-and-forget: `inc()` and `observe()` hand increments to the process's
 * fleet store (`useFleetMetrics`, set by the runtime) and return; a lost write
 * never fails a build or a delivery.
 */
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { BuildStatus } from './build-types.js';
import type { Resource } from './resource.js';

/** What /metrics serves: this process's own metrics, and the fleet's (registered below). */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'slipway_process_' });

export const httpRequests = new Counter({
  name: 'slipway_http_requests_total',
  help: 'HTTP requests served by this process, by method, route and status code',
  labelNames: ['method', 'route', 'code'] as const,
  registers: [metricsRegistry],
});

// ---------------------------------------------------------------------------------------
// Fleet metrics: definitions, storage interface, pure encoding.

/** One increment of one field of a fleet metric's hash. */
export interface FleetIncrement {
  metric: string;
  field: string;
  by: number;
  /** A fractional amount (a histogram's sum): HINCRBYFLOAT rather than HINCRBY. */
  float?: boolean;
}

/** Where fleet metrics are counted: one hash per metric, shared by the whole fleet. */
export interface FleetMetricsStore {
  /** Adds increments without waiting; never throws (a failed write is logged and lost). */
  add(increments: readonly FleetIncrement[]): void;
  /** Every field of one metric's hash, as stored. */
  read(metric: string): Promise<Record<string, string>>;
  /**
   * Whether reads can be answered now, told without a round trip. While false, a scrape
   * leaves the fleet series out (and says so in `slipway_fleet_metrics_up`) instead of
   * waiting on a Redis that is not there.
   */
  available?(): boolean;
}

export interface FleetMetricDef<L extends string = string> {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  labelNames: readonly L[];
  /** Upper bounds of a histogram's buckets, in seconds, ascending (+Inf is implied). */
  buckets?: readonly number[];
}

/** Label values longer than this are cut: a series name is no place for a paragraph. */
const MAX_LABEL_VALUE = 128;

function labelValues<L extends string>(def: FleetMetricDef<L>, labels: Partial<Record<L, string>>): string[] {
  return def.labelNames.map((n) => String(labels[n] ?? '').slice(0, MAX_LABEL_VALUE));
}

/** A counter's field: its label values in `labelNames` order, as a JSON array. */
export function seriesField<L extends string>(
  def: FleetMetricDef<L>,
  labels: Partial<Record<L, string>>,
): string {
  return JSON.stringify(labelValues(def, labels));
}

/**
 * The increments one observation makes: its bucket (the smallest upper bound not below
 * the value, or `+Inf`), the sum and the count. Buckets are stored non-cumulative, one
 * HINCRBY per observation, and added up when read.
 */
export function histogramIncrements<L extends string>(
  def: FleetMetricDef<L>,
  labels: Partial<Record<L, string>>,
  value: number,
): FleetIncrement[] {
  const series = seriesField(def, labels);
  const le = def.buckets?.find((b) => value <= b);
  return [
    { metric: def.name, field: `${series} le=${le === undefined ? '+Inf' : String(le)}`, by: 1 },
    { metric: def.name, field: `${series} sum`, by: value, float: true },
    { metric: def.name, field: `${series} count`, by: 1 },
  ];
}

/** One series value as prom-client's Registry formats it. */
export interface SeriesValue {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

function parseSeries(def: FleetMetricDef, json: string): Record<string, string> | undefined {
  let values: unknown;
  try {
    values = JSON.parse(json);
  } catch {
    return undefined;
  }
  // A field written with other label names (an older version) is left out, not misread.
  if (!Array.isArray(values) || values.length !== def.labelNames.length) return undefined;
  const labels: Record<string, string> = {};
  def.labelNames.forEach((n, i) => (labels[n] = String(values[i])));
  return labels;
}

/** A counter's hash as Prometheus series. */
export function counterSeries(def: FleetMetricDef, hash: Record<string, string>): SeriesValue[] {
  const out: SeriesValue[] = [];
  for (const [field, raw] of Object.entries(hash)) {
    const labels = parseSeries(def, field);
    const value = Number(raw);
    if (labels && Number.isFinite(value)) out.push({ labels, value });
  }
  return out;
}

/**
 * A histogram's hash as Prometheus series: cumulative `_bucket` counts for every bound
 * (the definition's, plus any stored under bounds an older version used), `_sum` and
 * `_count`.
 */
export function histogramSeries(def: FleetMetricDef, hash: Record<string, string>): SeriesValue[] {
  const series = new Map<
    string,
    { labels: Record<string, string>; buckets: Map<number, number>; sum: number; count: number }
  >();
  for (const [field, raw] of Object.entries(hash)) {
    const space = field.lastIndexOf(' ');
    if (space < 0) continue;
    const key = field.slice(0, space);
    const part = field.slice(space + 1);
    const value = Number(raw);
    if (!Number.isFinite(value)) continue;
    let s = series.get(key);
    if (!s) {
      const labels = parseSeries(def, key);
      if (!labels) continue;
      s = { labels, buckets: new Map(), sum: 0, count: 0 };
      series.set(key, s);
    }
    if (part === 'sum') s.sum = value;
    else if (part === 'count') s.count = value;
    else if (part.startsWith('le=')) {
      const bound = part === 'le=+Inf' ? Infinity : Number(part.slice(3));
      if (!Number.isNaN(bound)) s.buckets.set(bound, (s.buckets.get(bound) ?? 0) + value);
    }
  }
  const out: SeriesValue[] = [];
  for (const s of series.values()) {
    const bounds = [...new Set([...(def.buckets ?? []), ...s.buckets.keys()])]
      .filter((b) => b !== Infinity)
      .sort((a, b) => a - b);
    let cumulative = 0;
    for (const bound of bounds) {
      cumulative += s.buckets.get(bound) ?? 0;
      out.push({ metricName: `${def.name}_bucket`, labels: { ...s.labels, le: bound }, value: cumulative });
    }
    // +Inf is every observation, whatever the stored buckets say.
    out.push({ metricName: `${def.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
    out.push({ metricName: `${def.name}_sum`, labels: s.labels, value: s.sum });
    out.push({ metricName: `${def.name}_count`, labels: s.labels, value: s.count });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The process's fleet store and the recorders that write to it.

/** The fleet store of a process with no Redis (unit tests): counts kept in memory. */
export class MemoryFleetMetrics implements FleetMetricsStore {
  private readonly hashes = new Map<string, Map<string, number>>();

  add(increments: readonly FleetIncrement[]): void {
    for (const inc of increments) {
      let hash = this.hashes.get(inc.metric);
      if (!hash) this.hashes.set(inc.metric, (hash = new Map()));
      hash.set(inc.field, (hash.get(inc.field) ?? 0) + inc.by);
    }
  }

  read(metric: string): Promise<Record<string, string>> {
    const hash = this.hashes.get(metric) ?? new Map<string, number>();
    return Promise.resolve(Object.fromEntries([...hash].map(([k, v]) => [k, String(v)])));
  }
}

let fleetStore: FleetMetricsStore = new MemoryFleetMetrics();
let queueJobSource: (() => Promise<QueueJobCounts[]>) | undefined;

/** What a process's fleet metrics are counted in and its queue gauge read from. */
export interface FleetMetricsSources {
  store: FleetMetricsStore;
  /** Job counts of the queues, read at scrape time; without it the queue gauge is empty. */
  queueJobs?: () => Promise<QueueJobCounts[]>;
}

/**
 * Makes `sources` where this process's fleet metrics are counted and read (the runtime,
 * with Redis); returns a function that puts the previous ones back (the runtime closing).
 * Process-wide like prom-client's default registry, so the recording calls in the build,
 * rollout and webhook paths need nothing passed down to them, and /metrics needs no
 * wiring of its own.
 */
export function useFleetMetrics(sources: FleetMetricsSources): () => void {
  const previous = { store: fleetStore, queueJobs: queueJobSource };
  fleetStore = sources.store;
  queueJobSource = sources.queueJobs;
  return () => {
    if (fleetStore !== sources.store) return;
    fleetStore = previous.store;
    queueJobSource = previous.queueJobs;
  };
}

export class FleetCounter<L extends string> {
  constructor(readonly def: FleetMetricDef<L>) {}

  inc(labels: Record<L, string>, by = 1): void {
    fleetStore.add([{ metric: this.def.name, field: seriesField(this.def, labels), by }]);
  }
}

export class FleetHistogram<L extends string> {
  constructor(readonly def: FleetMetricDef<L>) {}

  observe(labels: Record<L, string>, value: number): void {
    if (!Number.isFinite(value) || value < 0) return;
    fleetStore.add(histogramIncrements(this.def, labels, value));
  }
}

export const buildsFinished = new FleetCounter({
  name: 'slipway_builds_finished_total',
  help: 'Builds that reached an end phase, by phase, reason and strategy (whole fleet)',
  type: 'counter',
  labelNames: ['phase', 'reason', 'strategy'] as const,
});

export const buildDuration = new FleetHistogram({
  name: 'slipway_build_duration_seconds',
  help: 'Wall time of builds from start (claimed by a worker) to end phase (whole fleet)',
  type: 'histogram',
  labelNames: ['phase', 'strategy'] as const,
  buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
});

export const buildStageDuration = new FleetHistogram({
  name: 'slipway_build_stage_duration_seconds',
  help: 'Wall time of each stage of a build (status.stages: FetchInputs, PullImages, Build, PushImage), by stage (whole fleet)',
  type: 'histogram',
  labelNames: ['stage'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
});

export const rolloutsFinished = new FleetCounter({
  name: 'slipway_rollouts_finished_total',
  help: 'Rollouts that ended, by result (Complete, Failed, Cancelled) and strategy (whole fleet)',
  type: 'counter',
  labelNames: ['result', 'strategy'] as const,
});

export const webhookDeliveries = new FleetCounter({
  name: 'slipway_webhook_deliveries_total',
  help: 'Webhook deliveries received, by source and outcome (whole fleet)',
  type: 'counter',
  labelNames: ['source', 'outcome'] as const,
});

export const pushesRouted = new FleetCounter({
  name: 'slipway_pushes_routed_total',
  help: 'Recorded org/App pushes routed by workers, by outcome: built, ignored, rejected (not a valid push), retry, abandoned (whole fleet)',
  type: 'counter',
  labelNames: ['outcome'] as const,
});

export const queueWait = new FleetHistogram({
  name: 'slipway_queue_wait_seconds',
  help: 'Time from a job being queued to a worker first taking it, by queue (whole fleet)',
  type: 'histogram',
  labelNames: ['queue'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
});

/** The gauge read from BullMQ at scrape time (no Redis hash of its own). */
export const QUEUE_JOBS = {
  name: 'slipway_queue_jobs',
  help: 'Jobs in each queue by state: waiting, prioritized, delayed (run policy, retries), active',
  labelNames: ['queue', 'state'] as const,
};

/** 1 when the fleet series could be read at this scrape, 0 when they are left out (Redis down). */
export const FLEET_METRICS_UP = {
  name: 'slipway_fleet_metrics_up',
  help: 'Whether this scrape could read the fleet metrics from Redis (0: they are left out)',
};

/** The job states `slipway_queue_jobs` reports. */
export const QUEUE_JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active'] as const;

export const FLEET_METRICS: readonly FleetMetricDef[] = [
  buildsFinished.def,
  buildDuration.def,
  buildStageDuration.def,
  rolloutsFinished.def,
  webhookDeliveries.def,
  pushesRouted.def,
  queueWait.def,
];

/**
 * Counts a build that reached its end phase, with its duration and each stage's. Called
 * once per build, by whoever ended it (the worker, or the API cancelling a queued build).
 */
export function recordBuildEnd(build: Resource): void {
  const status = (build.status ?? {}) as BuildStatus;
  if (!status.completionTimestamp || !status.phase) return;
  const strategy = (build.spec as { strategy?: { type?: string } } | undefined)?.strategy?.type ?? 'unknown';
  buildsFinished.inc({ phase: status.phase, reason: status.reason ?? '', strategy });
  if (status.duration !== undefined)
    buildDuration.observe({ phase: status.phase, strategy }, status.duration / 1e9);
  for (const stage of status.stages ?? []) {
    if (typeof stage.name === 'string' && typeof stage.durationMilliseconds === 'number')
      buildStageDuration.observe({ stage: stage.name }, stage.durationMilliseconds / 1000);
  }
}

/** What of a BullMQ job the queue wait is read from. */
export interface StartedJob {
  queueName: string;
  timestamp: number;
  processedOn?: number | undefined;
  attemptsStarted: number;
  opts: { delay?: number | undefined };
}

/**
 * Observes how long a job waited for a worker, on its first start only: a job put back
 * by its run policy or a retry is not waiting for capacity, and is not counted again.
 */
export function recordQueueWait(job: StartedJob): void {
  if (job.attemptsStarted > 1 || job.processedOn === undefined) return;
  const ready = job.timestamp + (job.opts.delay ?? 0);
  queueWait.observe({ queue: job.queueName }, Math.max(0, job.processedOn - ready) / 1000);
}

// ---------------------------------------------------------------------------------------
// Reading: a registry whose fleet metrics are read from the store at each scrape.

export interface QueueJobCounts {
  queue: string;
  counts: Partial<Record<string, number>>;
}

/** A metric prom-client's Registry can format: it asks only for name, type and get(). */
interface ScrapedMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: SeriesValue[] }>;
  reset(): void;
}

function scraped(
  def: { name: string; help: string; type: ScrapedMetric['type'] },
  values: () => Promise<SeriesValue[]>,
): ScrapedMetric {
  return {
    name: def.name,
    help: def.help,
    type: def.type,
    aggregator: 'sum',
    get: async () => ({ ...def, aggregator: 'sum', values: await values() }),
    // Counted in Redis: a registry reset here must not pretend to clear the fleet's counts.
    reset: () => undefined,
  };
}

/**
 * Registers the fleet metrics on `registry`, read from `sources()` at every scrape: the
 * counters and histograms from its store, the queue gauge from its queueJobs.
 */
export function registerFleetMetrics(registry: Registry, sources: () => FleetMetricsSources): void {
  const register = (m: ScrapedMetric): void =>
    // prom-client's Registry formats any object with name, type and get(); its types only
    // name its own classes, which cannot be filled from stored bucket counts.
    registry.registerMetric(m as unknown as Metric);
  const up = (): boolean => sources().store.available?.() !== false;
  register(
    scraped({ ...FLEET_METRICS_UP, type: 'gauge' }, () =>
      Promise.resolve([{ labels: {}, value: up() ? 1 : 0 }]),
    ),
  );
  for (const def of FLEET_METRICS) {
    register(
      scraped(def, async () => {
        if (!up()) return [];
        const hash = await sources().store.read(def.name);
        return def.type === 'counter' ? counterSeries(def, hash) : histogramSeries(def, hash);
      }),
    );
  }
  register(
    scraped({ ...QUEUE_JOBS, type: 'gauge' }, async () => {
      // The queues live in the same Redis; BullMQ's connections would wait for it forever.
      const queueJobs = sources().queueJobs;
      if (!queueJobs || !up()) return [];
      return (await queueJobs()).flatMap(({ queue, counts }) =>
        QUEUE_JOB_STATES.map((state) => ({ labels: { queue, state }, value: counts[state] ?? 0 })),
      );
    }),
  );
}

// /metrics serves one registry: the process's own metrics and the fleet's.
registerFleetMetrics(metricsRegistry, () => ({
  store: fleetStore,
  ...(queueJobSource ? { queueJobs: queueJobSource } : {}),
}));
