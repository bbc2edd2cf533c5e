/**
 * What fleet metrics cost (docs/metrics.md). Two measurements, each side by side with a
 * reference in the same run, rounds alternating, medians printed:
 *
 * - recording: counting a webhook delivery in Redis (`webhookDeliveries.inc`, coalesced and
 *   pipelined by RedisFleetMetrics, the flush awaited) beside counting it in prom-client's
 *   memory, as every process did before; and how many Redis commands the deliveries cost;
 * - scraping: /metrics' registry (the process's own metrics and the fleet's, read from
 *   Redis) beside a registry of the process's own metrics alone.
 *
 * Real Redis on a free port; not part of `npm test`.
 *
 *   npx tsc -p bench/fleet-metrics.tsconfig.json && node dist/bench-metrics/bench/fleet-metrics.js
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import {
  buildDuration,
  buildStageDuration,
  buildsFinished,
  metricsRegistry,
  useFleetMetrics,
  webhookDeliveries,
} from '../src/core/metrics.js';
import { RedisFleetMetrics } from '../src/store/fleet-metrics.js';
import { startRedis } from '../test/support/stack.js';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SCRAPES = 30;
const SOURCES = ['github', 'gitlab', 'generic', 'github-org', 'registry'];
const OUTCOMES = ['built', 'ignored', 'duplicate', 'rejected'];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function hincrbyCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_hincrby:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const redisHandle = await startRedis();
  const redis = new Redis(redisHandle.url);
  const store = new RedisFleetMetrics(redis, `bench-${randomUUID().slice(0, 8)}`);
  const release = useFleetMetrics({ store });
  const reference = new Counter({
    name: 'bench_webhook_deliveries_total',
    help: 'reference: counted in this process only',
    labelNames: ['source', 'outcome'],
    registers: [],
  });
  try {
    const fleetNs: number[] = [];
    const memoryNs: number[] = [];
    let commands = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      for (let i = 0; i < DELIVERIES; i++)
        reference.inc({ source: SOURCES[i % 5]!, outcome: OUTCOMES[i % 4]! });
      memoryNs.push(((performance.now() - t) * 1e6) / DELIVERIES);

      const before = await hincrbyCalls(redis);
      t = performance.now();
      for (let i = 0; i < DELIVERIES; i++) {
        webhookDeliveries.inc({ source: SOURCES[i % 5]!, outcome: OUTCOMES[i % 4]! });
        // Deliveries arrive over time: let the event loop turn now and then, as a server does.
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
      }
      await store.flush();
      fleetNs.push(((performance.now() - t) * 1e6) / DELIVERIES);
      commands += (await hincrbyCalls(redis)) - before;
    }
    const fleet = median(fleetNs);
    const memory = median(memoryNs);
    console.log(`recording ${DELIVERIES} webhook deliveries, ${ROUNDS} rounds (median per delivery):`);
    console.log(`  fleet (Redis, coalesced)   ${fleet.toFixed(0)} ns`);
    console.log(`  process memory (reference) ${memory.toFixed(0)} ns`);
    console.log(`  ratio                      ${(fleet / memory).toFixed(2)}x`);
    console.log(
      `  Redis HINCRBYs per 1000 deliveries: ${((commands / (DELIVERIES * ROUNDS)) * 1000).toFixed(2)}`,
    );

    // A fleet with history: every reason, strategy and stage seen.
    for (const phase of ['Complete', 'Failed', 'Error', 'Cancelled'])
      for (const reason of [
        '',
        'FetchSourceFailed',
        'DockerBuildFailed',
        'PushImageToRegistryFailed',
        'CancelledBuild',
      ])
        for (const strategy of ['Docker', 'Source']) {
          buildsFinished.inc({ phase, reason, strategy });
          buildDuration.observe({ phase, strategy }, 42);
        }
    for (const stage of ['FetchInputs', 'PullImages', 'Build', 'PushImage'])
      buildStageDuration.observe({ stage }, 3);
    await store.flush();
    const processOnly = new Registry();
    collectDefaultMetrics({ register: processOnly, prefix: 'slipway_process_' });
    const withFleet: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      let t = performance.now();
      await metricsRegistry.metrics();
      withFleet.push(performance.now() - t);
      t = performance.now();
      await processOnly.metrics();
      own.push(performance.now() - t);
    }
    console.log(`scraping /metrics' registry, ${SCRAPES} times (median):`);
    console.log(`  process + fleet (Redis)    ${median(withFleet).toFixed(2)} ms`);
    console.log(`  process only (reference)   ${median(own).toFixed(2)} ms`);
    console.log(`  ratio                      ${(median(withFleet) / median(own)).toFixed(2)}x`);
  } finally {
    release();
    await store.close();
    redis.disconnect();
    await redisHandle.stop();
  }
}

await main();
