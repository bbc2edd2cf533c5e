/**
 * The fleet metrics' pure parts (src/core/metrics.ts): how observations become hash
 * increments and hashes become Prometheus series, what a build's end records, when a
 * queue wait counts, how a rollout's end is read (src/strategies/rollout-worker.ts), and
 * the Grafana dashboard in docs/ (valid JSON, valid PromQL, only metrics that exist).
 * No Redis: the memory store stands in for it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parser } from '@prometheus-io/lezer-promql';
import { Registry } from 'prom-client';
import type { Resource } from '../../src/core/resource.js';
import {
  FLEET_METRICS,
  MemoryFleetMetrics,
  QUEUE_JOBS,
  buildStageDuration,
  counterSeries,
  histogramIncrements,
  histogramSeries,
  metricsRegistry,
  recordBuildEnd,
  recordQueueWait,
  registerFleetMetrics,
  useFleetMetrics,
  webhookDeliveries,
  type FleetIncrement,
} from '../../src/core/metrics.js';
import { rolloutEnd } from '../../src/strategies/rollout-worker.js';
import { REVISION_ANNOTATIONS, type ReplicationController } from '../../src/strategies/target.js';

/** Runs `fn` with a fresh memory store as the process's fleet store; returns its text exposition. */
async function scrape(
  fn: () => void,
  queueJobs?: () => Promise<{ queue: string; counts: Record<string, number> }[]>,
): Promise<string> {
  const store = new MemoryFleetMetrics();
  const release = useFleetMetrics({ store, ...(queueJobs ? { queueJobs } : {}) });
  try {
    fn();
    const registry = new Registry();
    registerFleetMetrics(registry, () => ({ store, ...(queueJobs ? { queueJobs } : {}) }));
    return await registry.metrics();
  } finally {
    release();
  }
}

/** The store's hash after `increments`. */
async function hashOf(metric: string, increments: FleetIncrement[]): Promise<Record<string, string>> {
  const store = new MemoryFleetMetrics();
  store.add(increments);
  return store.read(metric);
}

describe('histograms stored as bucket counts', () => {
  const def = buildStageDuration.def;

  it('puts an observation in the smallest bucket not below it, or +Inf', () => {
    const fields = (v: number): string[] =>
      histogramIncrements(def, { stage: 'Build' }, v).map((i) => i.field);
    expect(fields(0.3)).toEqual(['["Build"] le=0.5', '["Build"] sum', '["Build"] count']);
    expect(fields(0.5)[0]).toBe('["Build"] le=0.5');
    expect(fields(99999)[0]).toBe('["Build"] le=+Inf');
  });

  it('reads back cumulative buckets, sum and count', async () => {
    const incs = [0.3, 4, 4, 99999].flatMap((v) => histogramIncrements(def, { stage: 'Build' }, v));
    const series = histogramSeries(def, await hashOf(def.name, incs));
    const bucket = (le: number | string): number | undefined =>
      series.find((s) => s.metricName === `${def.name}_bucket` && s.labels.le === le)?.value;
    expect(bucket(0.1)).toBe(0);
    expect(bucket(0.5)).toBe(1);
    expect(bucket(2)).toBe(1);
    expect(bucket(5)).toBe(3);
    expect(bucket(1800)).toBe(3);
    expect(bucket('+Inf')).toBe(4);
    expect(series.find((s) => s.metricName === `${def.name}_sum`)?.value).toBeCloseTo(100007.3);
    expect(series.find((s) => s.metricName === `${def.name}_count`)?.value).toBe(4);
    // Every bound of the definition is reported, in order, then +Inf.
    const les = series.filter((s) => s.metricName === `${def.name}_bucket`).map((s) => s.labels.le);
    expect(les).toEqual([...def.buckets!, '+Inf']);
  });

  it('keeps counts stored under a bound the definition no longer has', async () => {
    const hash = { '["Build"] le=3': '2', '["Build"] count': '2', '["Build"] sum': '5' };
    const series = histogramSeries(def, hash);
    const les = series
      .filter((s) => s.metricName === `${def.name}_bucket`)
      .map((s) => [s.labels.le, s.value]);
    expect(les).toContainEqual([2, 0]);
    expect(les).toContainEqual([3, 2]);
    expect(les).toContainEqual([5, 2]);
  });

  it('skips fields written with other label names, and values that are not numbers', () => {
    const def2 = webhookDeliveries.def;
    const series = counterSeries(def2, {
      '["github","accepted"]': '3',
      '["github"]': '9',
      'not json': '1',
      '["generic","rejected"]': 'NaN',
    });
    expect(series).toEqual([{ labels: { source: 'github', outcome: 'accepted' }, value: 3 }]);
  });
});

const build = (status: Record<string, unknown>, strategy = 'Docker'): Resource => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: { name: 'web-1', namespace: 'ns' },
  spec: { strategy: { type: strategy } },
  status,
});

describe('what a build records when it ends', () => {
  it('counts the end phase and reason, the duration and every stage', async () => {
    const text = await scrape(() =>
      recordBuildEnd(
        build({
          phase: 'Failed',
          reason: 'DockerBuildFailed',
          completionTimestamp: '2026-11-28T22:00:07Z',
          duration: 7e9,
          stages: [
            { name: 'FetchInputs', startTime: 'x', durationMilliseconds: 1200, steps: [] },
            { name: 'Build', startTime: 'x', durationMilliseconds: 5000, steps: [] },
          ],
        }),
      ),
    );
    expect(text).toContain(
      'slipway_builds_finished_total{phase="Failed",reason="DockerBuildFailed",strategy="Docker"} 1',
    );
    expect(text).toContain('slipway_build_duration_seconds_count{phase="Failed",strategy="Docker"} 1');
    expect(text).toContain(
      'slipway_build_duration_seconds_bucket{phase="Failed",strategy="Docker",le="10"} 1',
    );
    expect(text).toContain(
      'slipway_build_duration_seconds_bucket{phase="Failed",strategy="Docker",le="5"} 0',
    );
    expect(text).toContain('slipway_build_stage_duration_seconds_sum{stage="FetchInputs"} 1.2');
    expect(text).toContain('slipway_build_stage_duration_seconds_count{stage="Build"} 1');
  });

  it('records nothing for a build that has not ended', async () => {
    const text = await scrape(() => recordBuildEnd(build({ phase: 'Running', startTimestamp: 'x' })));
    expect(text).not.toMatch(/^slipway_builds_finished_total\{/m);
  });

  it('counts a build cancelled before it started, without a duration', async () => {
    const text = await scrape(() =>
      recordBuildEnd(
        build({ phase: 'Cancelled', reason: 'CancelledBuild', completionTimestamp: 'x' }, 'Source'),
      ),
    );
    expect(text).toContain(
      'slipway_builds_finished_total{phase="Cancelled",reason="CancelledBuild",strategy="Source"} 1',
    );
    expect(text).not.toMatch(/^slipway_build_duration_seconds_count\{/m);
  });

  it('escapes label values and cuts long ones', async () => {
    const text = await scrape(() => {
      webhookDeliveries.inc({ source: 'a"b\\c\nd', outcome: 'x'.repeat(500) });
    });
    expect(text).toContain(
      `slipway_webhook_deliveries_total{source="a\\"b\\\\c\\nd",outcome="${'x'.repeat(128)}"} 1`,
    );
  });
});

describe('a store that cannot be read now', () => {
  it('leaves the fleet series out, without reading, and says so', async () => {
    const store = new MemoryFleetMetrics();
    store.add([{ metric: 'slipway_builds_finished_total', field: '["Complete","","Docker"]', by: 1 }]);
    let reads = 0;
    let queueReads = 0;
    const down = {
      add: (incs: readonly FleetIncrement[]) => store.add(incs),
      read: (metric: string) => (reads++, store.read(metric)),
      available: () => false,
    };
    const registry = new Registry();
    registerFleetMetrics(registry, () => ({
      store: down,
      queueJobs: async () => (queueReads++, []),
    }));
    const text = await registry.metrics();
    expect(text).toContain('slipway_fleet_metrics_up 0');
    expect(text).not.toMatch(/^slipway_builds_finished_total\{/m);
    expect({ reads, queueReads }).toEqual({ reads: 0, queueReads: 0 });
    down.available = () => true;
    const back = await registry.metrics();
    expect(back).toContain('slipway_fleet_metrics_up 1');
    expect(back).toContain('slipway_builds_finished_total{phase="Complete",reason="",strategy="Docker"} 1');
  });
});

describe('queue wait', () => {
  const job = (attemptsStarted: number, delay?: number) => ({
    queueName: 'builds',
    timestamp: 10_000,
    processedOn: 12_500,
    attemptsStarted,
    opts: delay === undefined ? {} : { delay },
  });

  it('counts the first start only, from when the job became ready', async () => {
    const text = await scrape(() => {
      recordQueueWait(job(1));
      recordQueueWait(job(2)); // put back by its run policy: not waiting for a worker
      recordQueueWait(job(1, 2000));
    });
    expect(text).toContain('slipway_queue_wait_seconds_count{queue="builds"} 2');
    expect(text).toContain('slipway_queue_wait_seconds_sum{queue="builds"} 3');
    expect(text).toContain('slipway_queue_wait_seconds_bucket{queue="builds",le="0.5"} 1');
  });

  it('reports queue depth by queue and state from the queue source', async () => {
    const text = await scrape(
      () => undefined,
      async () => [{ queue: 'builds', counts: { waiting: 2, active: 1 } }],
    );
    expect(text).toContain('slipway_queue_jobs{queue="builds",state="waiting"} 2');
    expect(text).toContain('slipway_queue_jobs{queue="builds",state="active"} 1');
    expect(text).toContain('slipway_queue_jobs{queue="builds",state="delayed"} 0');
  });
});

function revision(
  phase: string,
  extra: Record<string, string> = {},
  strategy = 'Recreate',
): ReplicationController {
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: {
      name: 'web-2',
      namespace: 'ns',
      annotations: {
        [REVISION_ANNOTATIONS.phase]: phase,
        [REVISION_ANNOTATIONS.encodedConfig]: JSON.stringify({ spec: { strategy: { type: strategy } } }),
        ...extra,
      },
    },
    spec: { replicas: 1, selector: {}, template: { spec: { containers: [] } } as never },
  };
}

describe('the end of a rollout', () => {
  it('is counted when this run took the revision from active to an end phase', () => {
    expect(rolloutEnd(revision('Running'), revision('Complete'))).toEqual({
      result: 'Complete',
      strategy: 'Recreate',
    });
    expect(
      rolloutEnd(revision('New'), revision('Failed', { [REVISION_ANNOTATIONS.failureReason]: 'HookFailed' })),
    ).toEqual({
      result: 'Failed',
      strategy: 'Recreate',
    });
    expect(
      rolloutEnd(
        revision('Pending'),
        revision('Failed', { [REVISION_ANNOTATIONS.failureReason]: 'RolloutCancelled' }),
      ),
    ).toEqual({ result: 'Cancelled', strategy: 'Recreate' });
  });

  it('is not counted again by a repeated job, nor while it runs or when the revision is gone', () => {
    expect(rolloutEnd(revision('Complete'), revision('Complete'))).toBeUndefined();
    expect(rolloutEnd(revision('Running'), revision('Running'))).toBeUndefined();
    expect(rolloutEnd(undefined, revision('Complete'))).toBeUndefined();
    expect(rolloutEnd(revision('Running'), undefined)).toBeUndefined();
  });
});

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync('docs/grafana-dashboard.json', 'utf8')) as {
    title: string;
    uid: string;
    panels: { type: string; title: string; targets?: { expr: string; refId: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );

  /** Every series name /metrics can serve: counters and gauges as named, histograms with their suffixes. */
  function servedNames(): Set<string> {
    const names = new Set<string>([QUEUE_JOBS.name]);
    for (const m of metricsRegistry.getMetricsAsArray()) {
      names.add(m.name);
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    }
    return names;
  }

  /** Metric names in a PromQL expression, from the Prometheus grammar; throws on a syntax error. */
  function metricNames(expr: string): string[] {
    // Grafana's interval variables are replaced before Prometheus sees the query.
    const promql = expr.replace(/\$__(rate_interval|range|interval)/g, '5m');
    const names: string[] = [];
    const errors: number[] = [];
    parser.parse(promql).iterate({
      enter: (node) => {
        if (node.type.isError) errors.push(node.from);
        if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
          names.push(promql.slice(node.from, node.to));
      },
    });
    if (errors.length > 0) throw new Error(`PromQL syntax error at ${errors[0]} in: ${promql}`);
    return names;
  }

  it('is a dashboard with panels that each query something', () => {
    expect(dashboard.uid).toBe('slipway-fleet');
    const withTargets = dashboard.panels.filter((p) => p.type !== 'row');
    expect(withTargets.length).toBeGreaterThan(5);
    for (const p of withTargets) expect(p.targets?.length).toBeGreaterThan(0);
  });

  it('queries only metrics that /metrics serves, in valid PromQL', () => {
    const served = servedNames();
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names)
        expect({ panel, name, served: served.has(name) }).toEqual({ panel, name, served: true });
    }
  });

  it('has a panel for every fleet metric', () => {
    const queried = new Set(exprs.flatMap(({ expr }) => metricNames(expr)));
    for (const name of [...FLEET_METRICS.map((d) => d.name), QUEUE_JOBS.name]) {
      const base = (n: string): string => n.replace(/_(bucket|sum|count)$/, '');
      expect({ name, queried: [...queried].some((q) => q === name || base(q) === name) }).toEqual({
        name,
        queried: true,
      });
    }
  });

  it('would catch a misspelt metric or broken PromQL', () => {
    expect(servedNames().has('slipway_builds_finishd_total')).toBe(false);
    expect(() => metricNames('sum(rate(slipway_builds_finished_total[5m])')).toThrow(/syntax error/);
  });
});
