/**
 * How a Custom deployer on the local target reaches Slipway's API without the host's
 * network. The deployer runs on its namespace's bridge network, like the replicas; the
 * API listens on the host's loopback, which no bridge reaches. For the length of one
 * deployer run, the worker listens on the network's gateway address (the host's side of
 * the bridge, an ephemeral port) and relays plain HTTP requests to the API URL it was
 * given. The container knows that listener as `slipway-api` (an /etc/hosts entry).
 *
 * Only the API is relayed: the request line must be a path (no absolute-form proxying,
 * no CONNECT, no upgrades), and only the deployer container's own address is served —
 * a replica on the same network gets 403. Redis and the registry stay on loopback,
 * out of reach of every container.
 */
import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

/** The name the deployer container resolves to the relay. */
export const API_HOST_NAME = 'slipway-api';

export interface ApiRelay {
  /** The gateway address the relay listens on. */
  address: string;
  port: number;
  /** The URL to give the container: `http://slipway-api:PORT`. */
  url: string;
  /** Serves requests from this container address (until then, requests wait). */
  admit(ip: string): void;
  close(): Promise<void>;
}

export interface ApiRelayOptions {
  /** The bridge network's gateway address. */
  bindAddress: string;
  /** Slipway's API as the worker reaches it (`http://127.0.0.1:8080`). */
  upstream: string;
  /** How long a request waits for the container's address to be known. */
  admitTimeoutMs?: number;
}

function plainIp(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

function refuse(res: ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'text/plain', connection: 'close' });
  res.end(`${message}\n`);
}

/** Starts the relay; close it when the deployer has ended. */
export async function startApiRelay(options: ApiRelayOptions): Promise<ApiRelay> {
  const upstream = new URL(options.upstream);
  const basePath = upstream.pathname.replace(/\/$/, '');
  const send = upstream.protocol === 'https:' ? httpsRequest : httpRequest;
  let admitted: string | undefined;
  let admit!: (ip: string) => void;
  const known = new Promise<string>((resolve) => {
    admit = (ip) => {
      admitted = ip;
      resolve(ip);
    };
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const from = plainIp(req.socket.remoteAddress);
    const allowed =
      admitted ??
      (await Promise.race([
        known,
        new Promise<undefined>((r) =>
          setTimeout(() => r(undefined), options.admitTimeoutMs ?? 10000).unref(),
        ),
      ]));
    if (from !== allowed) return refuse(res, 403, 'this address may not use the Slipway API relay');
    if (!req.url?.startsWith('/')) return refuse(res, 400, 'only origin-form request paths are relayed');
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: upstream.host };
    delete headers.connection;
    delete headers.upgrade;
    delete headers['proxy-connection'];
    const out = send(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
        port: upstream.port || (upstream.protocol === 'https:' ? 443 : 80),
        method: req.method,
        path: `${basePath}${req.url}`,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) refuse(res, 502, `the Slipway API did not answer: ${err.message}`);
      else res.destroy(err);
    });
    req.pipe(out);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) refuse(res, 500, `relay error: ${(err as Error).message}`);
      else res.destroy();
    });
  });
  // A deployer's `deploy` call is answered only when that rollout step is done.
  server.requestTimeout = 0;
  server.timeout = 0;
  // No CONNECT tunnels and no protocol upgrades through the relay.
  server.on('connect', (_req, socket) => socket.destroy());
  server.on('upgrade', (_req, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: options.bindAddress,
    port,
    url: `http://${API_HOST_NAME}:${port}`,
    admit,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
