/**
 * Registry notifications from a real docker-registry (Distribution 2.8, started by
 * test/support/stack.ts) configured to notify a local listener that runs the core.
 * Images are pushed with the registry's HTTP API (blob, config, manifest), which is
 * what `docker push` does on the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DISTRIBUTION_EVENTS_MEDIA_TYPE,
  handleRegistryNotification,
  type RegistryWebhookResult,
} from '../../src/webhooks/registry-webhook.js';
import { startRegistry, waitFor, type RegistryHandle } from '../support/stack.js';

const TOKEN = `notify-${randomUUID()}`;

interface Delivery {
  headers: Record<string, string | undefined>;
  body: Buffer;
  result: RegistryWebhookResult;
}

let listener: Server;
let registry: RegistryHandle;
const deliveries: Delivery[] = [];

beforeAll(async () => {
  listener = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
      );
      const result = handleRegistryNotification({
        request: { method: req.method, getHeader: (n) => headers[n.toLowerCase()], rawBody: body },
        token: TOKEN,
      });
      deliveries.push({ headers, body, result });
      res
        .writeHead(result.reply.status, { 'content-type': 'application/json' })
        .end(JSON.stringify(result.reply));
    });
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as AddressInfo).port;
  registry = await startRegistry({
    notifyUrl: `http://127.0.0.1:${port}/webhooks/registry`,
    notifyToken: TOKEN,
  });
});

afterAll(async () => {
  await registry.stop();
  listener.closeAllConnections();
  await new Promise<void>((r) => listener.close(() => r()));
});

const sha256 = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function pushBlob(repo: string, blob: Buffer): Promise<string> {
  const base = `http://${registry.host}`;
  const digest = sha256(blob);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    body: blob,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(put.status).toBe(201);
  return digest;
}

/** Pushes a one-config, no-layer image manifest under `reference` (a tag or a digest); returns its digest. */
async function pushImage(repo: string, reference: string | undefined, label: string): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Labels: { label } },
      rootfs: { type: 'layers', diff_ids: [] },
    }),
  );
  const configDigest = await pushBlob(repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        size: config.length,
        digest: configDigest,
      },
      layers: [],
    }),
  );
  const res = await fetch(`http://${registry.host}/v2/${repo}/manifests/${reference ?? sha256(manifest)}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  expect(res.status).toBe(201);
  return res.headers.get('docker-content-digest')!;
}

describe('a real docker-registry notifying the core', () => {
  it('reports the tagged manifest push, and ignores blobs, pulls, digest pushes and odd repositories', async () => {
    const digest = await pushImage('team/app', 'v1', randomUUID());
    await pushImage('team/app', undefined, randomUUID()); // by digest: no tag moves
    await pushImage('toplevel', 'latest', randomUUID()); // not namespace/stream
    const pulled = await fetch(`http://${registry.host}/v2/team/app/manifests/v1`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(pulled.status).toBe(200);

    const accepted = () => deliveries.flatMap((d) => (d.result.action === 'images' ? d.result.events : []));
    const ignored = () => deliveries.flatMap((d) => (d.result.action === 'images' ? d.result.ignored : []));
    await waitFor(
      'the manifest push notification',
      async () => accepted().length >= 1 && ignored().some((i) => i.reason.includes('not a push')),
      15000,
    );

    expect(deliveries.every((d) => d.result.reply.status === 200)).toBe(true);
    expect(deliveries[0]!.headers['content-type']).toBe(DISTRIBUTION_EVENTS_MEDIA_TYPE);
    const [event, ...more] = accepted();
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      repository: 'team/app',
      namespace: 'team',
      stream: 'app',
      tag: 'v1',
      digest,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      registryHost: registry.host,
      dockerImageReference: `${registry.host}/team/app@${digest}`,
    });
    expect(event!.deliveryId).toBe(`registry:${event!.id}`);
    const reasons = ignored().map((i) => i.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'not a manifest (a blob or layer)',
        'a push by digest updates no tag',
        'repository "toplevel" is not namespace/imagestream',
        'action pull is not a push',
      ]),
    );
  });

  it('refuses a wrong or missing bearer token, and a server without a token', async () => {
    const envelope = deliveries[0]!.body;
    const request = (auth: string | undefined) => ({
      method: 'POST',
      getHeader: (n: string) =>
        ({ authorization: auth, 'content-type': DISTRIBUTION_EVENTS_MEDIA_TYPE })[
          n.toLowerCase() as 'authorization'
        ],
      rawBody: envelope,
    });
    expect(
      handleRegistryNotification({ request: request(`Bearer ${TOKEN}`), token: TOKEN }).reply.status,
    ).toBe(200);
    expect(handleRegistryNotification({ request: request('Bearer wrong'), token: TOKEN }).reply.status).toBe(
      401,
    );
    expect(handleRegistryNotification({ request: request(undefined), token: TOKEN }).reply.status).toBe(401);
    expect(
      handleRegistryNotification({ request: request(`Basic ${TOKEN}`), token: TOKEN }).reply.status,
    ).toBe(401);
    expect(
      handleRegistryNotification({ request: request(`Bearer ${TOKEN}`), token: undefined }).reply.status,
    ).toBe(401);
  });

  it('400 for another content type or a body that is not an envelope; 405 for GET', async () => {
    const call = (contentType: string, body: string, method = 'POST') =>
      handleRegistryNotification({
        request: {
          method,
          getHeader: (n) =>
            ({ authorization: `Bearer ${TOKEN}`, 'content-type': contentType })[
              n.toLowerCase() as 'authorization'
            ],
          rawBody: Buffer.from(body),
        },
        token: TOKEN,
      }).reply.status;
    expect(call('application/json', '{"events": []}')).toBe(200);
    expect(call('text/plain', '{"events": []}')).toBe(400);
    expect(call('application/json', '{"events": ')).toBe(400);
    expect(call('application/json', '{"items": []}')).toBe(400);
    expect(call('application/json', '{"events": []}', 'GET')).toBe(405);
    expect(call('application/json', '{"events": [null, 1, {"action": "push"}]}')).toBe(200);
  });
});
