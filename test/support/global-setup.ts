/**
 * Runs once before the suite: the Docker engine must answer and the offline Debian base
 * image must exist (made by scripts/base-image.sh, cached by tag). Redis, registries and
 * git servers are started per test file by test/support/stack.ts.
 */
import { execFileSync } from 'node:child_process';

/**
 * Bridges left in the kernel by Docker engines that are gone: a private engine of the
 * fault tests (test/faults/private-engine.ts) killed before it could remove its networks
 * leaves `br-<network id>` links behind, each holding a route. Once they cover the
 * default address pools, no engine can make a network ("could not find an available,
 * non-overlapping IPv4 address pool"). Removed here: `br-` links with no ports whose
 * network the machine's engine does not have. Nothing else of ours runs at this point.
 */
function removeOrphanBridges(): void {
  let links: { ifname: string }[];
  let known: string[];
  try {
    links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }));
    known = execFileSync('docker', ['network', 'ls', '--no-trunc', '--format', '{{.ID}}'], {
      encoding: 'utf8',
    })
      .split('\n')
      .map((id) => id.slice(0, 12));
  } catch {
    return; // no `ip` with JSON output, or no engine: nothing to tell apart
  }
  for (const { ifname } of links) {
    const id = /^br-([0-9a-f]{12})$/.exec(ifname)?.[1];
    if (!id || known.includes(id)) continue;
    try {
      const ports = JSON.parse(
        execFileSync('ip', ['-j', 'link', 'show', 'master', ifname], { encoding: 'utf8' }) || '[]',
      ) as unknown[];
      if (ports.length === 0) execFileSync('ip', ['link', 'del', ifname], { stdio: 'pipe' });
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

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
  removeOrphanBridges();
  const base = process.env.SLIPWAY_BASE_IMAGE ?? 'slipway/debian:bookworm';
  try {
    execFileSync('docker', ['image', 'inspect', base], { stdio: 'pipe' });
  } catch {
    execFileSync('bash', ['scripts/base-image.sh'], { stdio: 'inherit' });
  }
}
