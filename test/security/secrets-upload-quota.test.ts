/**
 * Binary-build uploads wait in Redis; a namespace may park only its quota of bytes
 * there. An upload past it is refused 403 naming the namespace, what is used and the
 * limit, and nothing of it is stored; an upload is gone once its build has read it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE, waitFor } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';

const ns = `sec-${randomUUID().slice(0, 8)}`;
const otherNs = `sec-${randomUUID().slice(0, 8)}`;
const QUOTA = 64 * 1024;
let s: TestSlipway;

function binaryBuildConfig(namespace: string, name: string): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace },
    spec: {
      source: { type: 'Binary', binary: { asFile: 'Dockerfile' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
    },
  };
}

/** A Dockerfile padded with a comment to `size` bytes. */
function dockerfile(size: number): Buffer {
  const head = Buffer.from(`FROM ${BASE_IMAGE}\n# `);
  return Buffer.concat([
    head,
    Buffer.from(
      randomBytes(size)
        .toString('hex')
        .slice(0, size - head.length - 1),
    ),
    Buffer.from('\n'),
  ]);
}

async function post(namespace: string, data: Buffer): Promise<Response> {
  return fetch(`${s.http.url}${BC_PATH(namespace, 'bin')}/instantiatebinary?asFile=Dockerfile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/octet-stream' },
    body: data,
  });
}

async function parkedKeys(): Promise<string[]> {
  return s.rt.redis.keys(`${s.rt.prefix}:binary:*`);
}

beforeAll(async () => {
  // No worker at first: uploads stay parked until the test starts one.
  s = await startSlipway({ workers: 0, config: { uploadQuotaBytes: QUOTA } });
  await s.apiJson('POST', BC_PATH(ns), binaryBuildConfig(ns, 'bin'));
  await s.apiJson('POST', BC_PATH(otherNs), binaryBuildConfig(otherNs, 'bin'));
}, 120000);

afterAll(async () => {
  await s?.stop();
});

test('an upload past the namespace quota is refused 403 and nothing is parked; a build that reads its upload frees it', async () => {
  const first = await post(ns, dockerfile(40 * 1024));
  expect(first.status).toBe(201);
  expect(await parkedKeys()).toHaveLength(1);

  // 40 KiB parked + 40 KiB > 64 KiB.
  const refused = await post(ns, dockerfile(40 * 1024));
  const text = await refused.text();
  expect(refused.status).toBe(403);
  const status = JSON.parse(text) as { kind: string; reason: string; message: string };
  expect(status).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
  expect(status.message).toContain(`namespace "${ns}"`);
  expect(status.message).toContain(`used ${40 * 1024}`);
  expect(status.message).toContain(`limit ${QUOTA}`);
  expect(await parkedKeys()).toHaveLength(1);
  // No Build was made for the refused upload.
  const builds = await s.apiJson<{ items: Resource[] }>('GET', BUILD_PATH(ns));
  expect(builds.items.map((b) => b.metadata.name)).toEqual(['bin-1']);

  // Refused before the body is read when its declared length does not fit either.
  const declared = await fetch(`${s.http.url}${BC_PATH(ns, 'bin')}/instantiatebinary?asFile=Dockerfile`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${s.token}`,
      'content-type': 'application/octet-stream',
    },
    body: dockerfile(1024 * 1024),
  });
  expect(declared.status).toBe(403);
  expect(await parkedKeys()).toHaveLength(1);

  // The quota is per namespace: another one has its own.
  expect((await post(otherNs, dockerfile(40 * 1024))).status).toBe(201);
  expect(await parkedKeys()).toHaveLength(2);

  // A worker runs the builds; each upload is deleted once read, and the quota has room again.
  s.startWorker();
  await s.waitForBuild(ns, 'bin-1');
  await s.waitForBuild(otherNs, 'bin-1');
  await waitFor(
    'uploads deleted after their builds read them',
    async () => (await parkedKeys()).length === 0,
    30000,
  );
  expect(await s.rt.binaries.usage(ns)).toBe(0);
  expect((await post(ns, dockerfile(40 * 1024))).status).toBe(201);
}, 180000);
