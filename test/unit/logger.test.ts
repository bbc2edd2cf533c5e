/**
 * Log lines as a person and as a collector read them. The logger writes to stderr's file
 * descriptor directly, so each case runs the built logger (`npm test` builds first) in a
 * child process and reads what it printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function logWith(format: string): string {
  const script = `import { createLogger } from './dist/core/logger.js';
const log = createLogger('info', ${JSON.stringify(format)});
log.info({ namespace: 'demo' }, 'build web-3 complete');
log.debug('not at info');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stderr;
}

beforeAll(() => expect(existsSync('dist/core/logger.js')).toBe(true));

test('text: one readable line with the level, the message and the fields; no JSON', () => {
  const out = logWith('text').trim().split('\n');
  expect(out).toHaveLength(1);
  expect(out[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: build web-3 complete .*namespace.*demo/);
  expect(out[0]!.startsWith('{')).toBe(false);
});

test('json: one object per line for a log collector', () => {
  const out = logWith('json').trim().split('\n');
  expect(out).toHaveLength(1);
  expect(JSON.parse(out[0]!)).toMatchObject({ level: 30, namespace: 'demo', msg: 'build web-3 complete' });
});

test('auto: JSON when stderr is not a terminal', () => {
  expect(() => JSON.parse(logWith('auto').trim())).not.toThrow();
});
