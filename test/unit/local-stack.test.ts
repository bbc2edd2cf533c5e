import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryNotifyToken } from '../../src/cli/local-stack.js';

describe("slipway up's registry notification token", () => {
  it('is made once and read back by the next `up`, so a registry left running keeps being heard', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-notify-'));
    try {
      let made = 0;
      const generate = (): string => `token-${++made}`;
      const first = registryNotifyToken(dir, undefined, generate);
      expect(first).toBe('token-1');
      expect(registryNotifyToken(dir, undefined, generate)).toBe('token-1');
      expect(made).toBe(1);
      const file = join(dir, 'registry', 'notify-token');
      expect(readFileSync(file, 'utf8').trim()).toBe('token-1');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // SLIPWAY_REGISTRY_NOTIFY_TOKEN wins.
      expect(registryNotifyToken(dir, 'configured', generate)).toBe('configured');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
