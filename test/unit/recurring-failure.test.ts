/**
 * A loop's failures logged as an outage: the first at once, then one line per quiet
 * period with the count, then one line when it works again. Real pino, writing into
 * an array; the clock is the test's.
 */
import { expect, test } from '@jest/globals';
import { pino } from 'pino';
import { RecurringFailure } from '../../src/core/recurring-failure.js';

function capture(): { logger: pino.Logger; lines: { level: number; msg: string; [k: string]: unknown }[] } {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

test('240 failures in a minute are three warnings, and the recovery one line', () => {
  const { logger, lines } = capture();
  let now = 1_000_000;
  const failures = new RecurringFailure(logger, { what: 'replica monitor tick', now: () => now });
  expect(failures.failing).toBe(false);
  for (let i = 0; i < 240; i++) {
    failures.failed(new Error('connect ENOENT /var/run/docker.sock'), { phase: 'list containers' });
    now += 250;
  }
  expect(failures.failing).toBe(true);
  failures.succeeded();
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [40, 'replica monitor tick failed'],
    [40, 'replica monitor tick still failing: 121 failures in 30.0 s'],
    [30, 'replica monitor tick works again after 60.0 s (240 failures)'],
  ]);
  // The first line carries the error whole (pino's serializer: message and stack), reminders its message.
  expect(lines[0]).toMatchObject({
    err: { message: 'connect ENOENT /var/run/docker.sock' },
    phase: 'list containers',
  });
  expect((lines[0]!.err as { stack?: string }).stack).toContain('recurring-failure.test');
  expect(lines[1]).toMatchObject({ failures: 121, err: 'connect ENOENT /var/run/docker.sock' });
  expect(failures.failing).toBe(false);
});

test('a success with no failure before it logs nothing; the next outage starts afresh', () => {
  const { logger, lines } = capture();
  let now = 0;
  const failures = new RecurringFailure(logger, { what: 'resync', quietMs: 1000, now: () => now });
  failures.succeeded();
  expect(lines).toEqual([]);
  failures.failed(new Error('first'));
  now += 500;
  failures.succeeded();
  now += 10_000;
  failures.failed('second');
  expect(lines.map((l) => l.msg)).toEqual([
    'resync failed',
    'resync works again after 0.5 s (1 failure)',
    'resync failed',
  ]);
  expect(lines[2]).toMatchObject({ err: 'second' });
  expect(lines[1]).not.toHaveProperty('err');
});
