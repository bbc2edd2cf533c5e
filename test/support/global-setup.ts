/**
 * Runs once before the suite: the Docker engine must answer and the offline Debian base
 * image must exist (made by scripts/base-image.sh, cached by tag). Redis, registries and
 * git servers are started per test file by test/support/stack.ts.
 */
import { execFileSync } from 'node:child_process';

export default function globalSetup(): void {
  // One id per run: the cluster tests' files share one registry under it (test/support/kube-cluster.ts).
  process.env.SLIPWAY_KUBE_RUN_ID ??= String(process.pid);
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      'The Docker engine does not answer on /var/run/docker.sock: run scripts/setup.sh (as root) first.',
    );
  }
  const base = process.env.SLIPWAY_BASE_IMAGE ?? 'slipway/debian:bookworm';
  try {
    execFileSync('docker', ['image', 'inspect', base], { stdio: 'pipe' });
  } catch {
    execFileSync('bash', ['scripts/base-image.sh'], { stdio: 'inherit' });
  }
}
