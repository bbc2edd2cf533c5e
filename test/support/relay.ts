/**
 * A relay in front of a server (TCP, or a Unix socket such as the Docker engine's) that a
 * test can cut — every connection dropped, new ones refused — and restore at the same
 * address: the server out of reach, as in an upgrade or an engine restart, without
 * touching the server the other tests share.
 */
import { rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

export type Endpoint = { host: string; port: number } | { path: string };

export interface Relay {
  /** The TCP port it listens on (0 for a Unix socket). */
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Listens on `listen` (a Unix socket path, or any free loopback port) and forwards to `to`. */
export async function startRelay(to: Endpoint, listen?: { path: string }): Promise<Relay> {
  const open = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = 'path' in to ? connect(to.path) : connect(to.port, to.host);
    open.add(inbound).add(outbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      open.delete(inbound);
      open.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  const bind = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (listen) {
        rmSync(listen.path, { force: true });
        server.listen(listen.path, done);
      } else server.listen(port, '127.0.0.1', done);
    });
  await bind(0);
  const port = listen ? 0 : (server.address() as { port: number }).port;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const socket of open) socket.destroy();
    await closed;
  };
  return { port, cut: close, restore: () => bind(port), close };
}
