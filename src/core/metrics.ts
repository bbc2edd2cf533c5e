/** Prometheus metrics, one registry per process, served at /metrics. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'slipway_process_' });

export const buildsFinished = new Counter({
  name: 'slipway_builds_finished_total',
  help: 'Builds that reached an end phase, by phase, reason and strategy',
  labelNames: ['phase', 'reason', 'strategy'] as const,
  registers: [metricsRegistry],
});

export const buildDuration = new Histogram({
  name: 'slipway_build_duration_seconds',
  help: 'Wall time of builds from start to end phase',
  labelNames: ['phase', 'strategy'] as const,
  buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers: [metricsRegistry],
});

export const httpRequests = new Counter({
  name: 'slipway_http_requests_total',
  help: 'HTTP requests served, by method, route and status code',
  labelNames: ['method', 'route', 'code'] as const,
  registers: [metricsRegistry],
});

export const webhookDeliveries = new Counter({
  name: 'slipway_webhook_deliveries_total',
  help: 'Webhook deliveries received, by source and outcome',
  labelNames: ['source', 'outcome'] as const,
  registers: [metricsRegistry],
});
