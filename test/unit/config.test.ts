import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envName, loadConfig } from '../../src/core/config.js';
import { mergePatch } from '../../src/api/resources.js';

test('every setting has a SLIPWAY_ variable', () => {
  expect(envName('redisUrl')).toBe('SLIPWAY_REDIS_URL');
  expect(envName('trustedCA')).toBe('SLIPWAY_TRUSTED_CA');
  expect(loadConfig({ env: { SLIPWAY_TRUSTED_CA: '/ca.pem' } }).trustedCA).toBe('/ca.pem');
});

test('flags override the environment, which overrides the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'slipway.yaml');
  writeFileSync(file, 'listen: 127.0.0.1:1111\nregistry: file-registry:5000\nworkerConcurrency: 4\n');
  const cfg = loadConfig({
    file,
    env: { SLIPWAY_LISTEN: '127.0.0.1:2222' },
    flags: { registry: 'flag-registry:5000' },
  });
  expect(cfg.listen).toBe('127.0.0.1:2222');
  expect(cfg.registry).toBe('flag-registry:5000');
  expect(cfg.workerConcurrency).toBe(4);
});

test('a bad value names its variable; an unknown file key is refused', () => {
  expect(() => loadConfig({ env: { SLIPWAY_WORKER_CONCURRENCY: 'many' } })).toThrow(
    /SLIPWAY_WORKER_CONCURRENCY/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  writeFileSync(join(dir, 'c.yaml'), 'lisen: x\n');
  expect(() => loadConfig({ file: join(dir, 'c.yaml'), env: {} })).toThrow(/unknown setting\(s\) lisen/);
});

test('JSON merge patch follows RFC 7386', () => {
  expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] })).toEqual({
    a: 1,
    b: { d: 3, e: 4 },
    f: [1],
  });
});
