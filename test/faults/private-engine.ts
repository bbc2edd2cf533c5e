/**
 * A private `dockerd` for fault tests that stop and restart the engine: its own data
 * root, exec root, pidfile, unix socket, containerd namespaces and default bridge, no
 * iptables rules. Restarting it disturbs nothing else on the machine; the machine's engine
 * is never stopped.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { tempDir, waitFor } from '../support/stack.js';

export const dockerdMissing = !existsSync('/usr/sbin/dockerd') && !existsSync('/usr/bin/dockerd');

export interface PrivateEngine {
  /** `unix://…`, for DOCKER_HOST. */
  host: string;
  socket: string;
  root: string;
  docker: Docker;
  start(): Promise<void>;
  /** SIGTERM, as a service manager stops it; resolves once the process is gone. */
  stop(): Promise<void>;
  /** Copies an image from the machine's engine (the private one pulls from nowhere). */
  load(image: string): void;
  /** Stops the engine and removes its data root and bridge. */
  destroy(): Promise<void>;
}

/**
 * `id` names the bridge (`slwt{id}`, an interface name of at most 15 characters) and the
 * containerd namespaces; `subnet` is the bridge's /24 (`10.214.255` by default).
 */
export function privateEngine(options: { id: string; subnet?: string }): PrivateEngine {
  const id = options.id.slice(0, 8);
  const root = tempDir('slipway-engine-');
  const socket = join(root, 'docker.sock');
  const bridge = `slwt${id}`;
  const subnet = options.subnet ?? '10.214.255';
  const docker = new Docker({ socketPath: socket });
  let daemon: ChildProcess | undefined;

  const engine: PrivateEngine = {
    host: `unix://${socket}`,
    socket,
    root,
    docker,
    async start() {
      mkdirSync(join(root, 'data'), { recursive: true });
      // The bridge must exist before the engine starts (it does not create a named bridge).
      execSync(
        `ip link show ${bridge} >/dev/null 2>&1 || (ip link add ${bridge} type bridge && ip addr add ${subnet}.1/24 dev ${bridge} && ip link set ${bridge} up)`,
      );
      const log = openSync(join(root, 'dockerd.log'), 'a');
      const child = spawn(
        'dockerd',
        [
          '--data-root',
          join(root, 'data'),
          '--exec-root',
          join(root, 'exec'),
          '--pidfile',
          join(root, 'dockerd.pid'),
          '-H',
          `unix://${socket}`,
          // Not `--bridge none` and no `--default-address-pool`: an engine started so
          // deletes the host's `docker0`, which the machine's engine depends on.
          '--bridge',
          bridge,
          '--iptables=false',
          '--ip6tables=false',
          '--ip-masq=false',
          '--containerd-namespace',
          `slipway-test-${id}`,
          '--containerd-plugins-namespace',
          `slipway-test-${id}-plugins`,
        ],
        { stdio: ['ignore', log, log] },
      );
      daemon = child;
      await waitFor(
        'the private engine to answer',
        async () => (child.exitCode === null ? (await docker.ping(), true) : false),
        30000,
        200,
      );
    },
    async stop() {
      const d = daemon;
      if (!d || d.exitCode !== null) return;
      const exited = new Promise((r) => d.once('exit', r));
      d.kill('SIGTERM');
      const timer = setTimeout(() => d.kill('SIGKILL'), 30000);
      await exited;
      clearTimeout(timer);
    },
    load(image) {
      execSync(`docker save ${image} | docker -H unix://${socket} load -q`, { stdio: 'ignore' });
    },
    async destroy() {
      // The networks the engine made (a namespace's network): their bridges outlive the
      // engine in the kernel, and left behind they use up the address pools every later
      // engine picks from ("could not find an available, non-overlapping IPv4 address pool").
      const networks: string[] = [];
      if (daemon && daemon.exitCode === null) {
        for (const c of await docker.listContainers({ all: true }).catch(() => []))
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
        for (const n of await docker.listNetworks().catch(() => [])) {
          if (['bridge', 'host', 'none'].includes(n.Name)) continue;
          networks.push(n.Id);
          await docker
            .getNetwork(n.Id)
            .remove()
            .catch(() => undefined);
        }
      }
      await engine.stop();
      for (const id of networks) {
        try {
          execSync(`ip link del br-${id.slice(0, 12)}`, { stdio: 'ignore' });
        } catch {
          // removed with its network
        }
      }
      // dockerd bind-mounts its data root onto itself.
      try {
        execSync(`umount ${join(root, 'data')}`, { stdio: 'ignore' });
      } catch {
        // not mounted
      }
      rmSync(root, { recursive: true, force: true });
      try {
        execSync(`ip link del ${bridge}`, { stdio: 'ignore' });
      } catch {
        // never made
      }
    },
  };
  return engine;
}
