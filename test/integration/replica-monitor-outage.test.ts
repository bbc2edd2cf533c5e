/**
 * While the Docker engine is away, the replica monitor's tick fails four times a second.
 * The worker's log must read as one outage (a warning when it starts, one line when it
 * ends), not as four warnings a second. The engine here is the machine's, reached through
 * a relay on a Unix socket that the test cuts (connections dropped, the socket gone) and
 * restores, with a real Redis.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisResourceStore } from '../../src/store/resource-store.js';
import { ReplicaMonitor } from '../../src/strategies/docker/replica-monitor.js';
import { ReplicaStateStore } from '../../src/strategies/docker/replica-state.js';
import { startRelay } from '../support/relay.js';
import { startRedis, tempDir, waitFor, type RedisHandle } from '../support/stack.js';

let redisHandle: RedisHandle;
let client: Redis;

beforeAll(async () => {
  redisHandle = await startRedis();
  client = new Redis(redisHandle.url);
});

afterAll(async () => {
  client.disconnect();
  await redisHandle.stop();
});

test('an engine away for a while: one warning, then one line when it answers again', async () => {
  const socket = join(tempDir('slipway-monitor-'), 'docker.sock');
  const lines: { level: number; msg: string; err?: { message: string }; failures?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const prefix = `mo-${randomUUID()}`;
  const monitor = new ReplicaMonitor({
    docker: new Docker({ socketPath: socket }),
    redis: client,
    prefix,
    states: new ReplicaStateStore(client, prefix),
    store: new RedisResourceStore(client, prefix),
    logger,
    tickMs: 20,
  });
  const warnings = (): typeof lines => lines.filter((l) => l.level === 40);
  const relay = await startRelay({ path: '/var/run/docker.sock' }, { path: socket });
  await relay.cut();
  monitor.start();
  try {
    // About 50 ticks, every one failing: the engine's socket is gone.
    await new Promise((r) => setTimeout(r, 1500));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ msg: 'replica monitor tick failed' });
    expect(warnings()[0]!.err?.message).toContain('ENOENT');

    await relay.restore();
    const back = await waitFor('the monitor to say the engine answers', async () =>
      lines.find((l) => l.msg.startsWith('replica monitor tick works again')),
    );
    expect(back.level).toBe(30);
    expect(back.failures).toBeGreaterThanOrEqual(20);

    // A second outage is reported afresh.
    await relay.cut();
    await waitFor('a warning for the second outage', async () => warnings().length === 2);
    expect(warnings()[1]).toMatchObject({ msg: 'replica monitor tick failed' });
  } finally {
    await monitor.stop();
    await relay.close().catch(() => undefined);
  }
  // Nothing else was logged: no line per tick.
  expect(lines.length).toBeLessThanOrEqual(4);
}, 30000);
