/** Helpers for tests and benchmarks that deploy to the local Docker target. */
import { request } from 'node:http';
import type Docker from 'dockerode';

/** GET through the router (`routerUrl`) with a Host header; resolves status and body, never rejects. */
export function getViaRouter(
  routerUrl: string,
  host: string,
  path = '/',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const port = Number(new URL(routerUrl).port);
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
        res.on('error', (err) => resolve({ status: 0, body: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

/** Removes every replica container of a namespace and the namespace's network. */
export async function removeNamespaceReplicas(docker: Docker, namespace: string): Promise<void> {
  for (const c of await docker.listContainers({
    all: true,
    filters: { label: [`slipway.dev/namespace=${namespace}`] },
  })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  await docker
    .getNetwork(`slipway-${namespace}`)
    .remove()
    .catch(() => undefined);
}
