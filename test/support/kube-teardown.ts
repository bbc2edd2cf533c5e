/**
 * Runs once after the whole suite: stops the registry the cluster tests shared
 * (test/support/kube-cluster.ts). Jest loads global hooks without the suite's module
 * mapping, so this file imports nothing of the project's own.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SharedRegistryState {
  host: string;
  port: number;
  pid: number;
  dir: string;
}

/** Where one test run records its shared registry (SLIPWAY_KUBE_RUN_ID from the global set-up). */
export function sharedRegistryFile(): string {
  return join(tmpdir(), `slipway-kube-registry-${process.env.SLIPWAY_KUBE_RUN_ID ?? process.pid}.json`);
}

export function sharedRegistryState(): SharedRegistryState | undefined {
  try {
    return JSON.parse(readFileSync(sharedRegistryFile(), 'utf8')) as SharedRegistryState;
  } catch {
    return undefined;
  }
}

/** Stops this run's shared registry (by its PID) and removes its storage. */
export function stopSharedRegistry(): void {
  const state = sharedRegistryState();
  if (!state) return;
  try {
    process.kill(state.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  rmSync(state.dir, { recursive: true, force: true });
  rmSync(sharedRegistryFile(), { force: true });
}

export default function globalTeardown(): void {
  stopSharedRegistry();
}
