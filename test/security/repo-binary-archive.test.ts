/**
 * Binary build input (`start-build --from-dir/--from-archive`) is an archive from whoever
 * may start a build. Entries that climb out with `..`, absolute names, links that point
 * out (and files written through them), hard links to host files and device files must
 * fail the build before anything lands outside the source directory. Real stack; the
 * archives are made here with tar-stream.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import type { Resource } from '../../src/core/resource.js';
import { BASE_IMAGE } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { cleanupRepos, scratchDir } from './repo-support.js';

let s: TestSlipway;
const ns = `sec-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  s = await startSlipway({ workers: 1 });
});
afterAll(async () => {
  await s?.stop();
  cleanupRepos();
});

const st = (b: Resource): Record<string, any> => (b.status ?? {}) as Record<string, any>;

type Entry = Partial<tarStream.Header> & { name: string; content?: string };

async function archive(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const { content, ...header } of entries) {
    if (content !== undefined) pack.entry({ type: 'file', mode: 0o644, ...header }, content);
    else pack.entry({ mode: 0o755, ...header });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return gzipSync(Buffer.concat(chunks));
}

let counter = 0;
async function binaryBuild(entries: Entry[]): Promise<{ status: Record<string, any>; log: string }> {
  const name = `bin-${++counter}`;
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, namespace: ns },
    spec: {
      source: { type: 'Binary', binary: {} },
      strategy: { type: 'Docker', dockerStrategy: { noCache: true } },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
    },
  });
  const res = await fetch(`${s.http.url}${BC_PATH(ns, name)}/instantiatebinary`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/octet-stream' },
    body: await archive(entries),
  });
  if (res.status !== 201) throw new Error(`instantiatebinary: ${res.status} ${await res.text()}`);
  const done = await s.waitForBuild(ns, `${name}-1`);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, `${name}-1`)}/log`)).text();
  return { status: st(done), log };
}

const dockerfile: Entry = { name: 'Dockerfile', content: `FROM ${BASE_IMAGE}\n` };

test('an entry that climbs out with ".." fails the build with FetchSourceFailed naming it', async () => {
  const { status, log } = await binaryBuild([
    dockerfile,
    { name: `../escape-${randomUUID()}.txt`, content: 'x' },
  ]);
  expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(status.message).toMatch(/binary input entry "\.\.\/escape-[0-9a-f-]+\.txt" contains "\.\."/);
  expect(log).toContain('contains ".."; the archive is refused');
});

test('an absolute entry fails the build and writes nothing at that path', async () => {
  const hostDir = scratchDir('abs');
  const { status } = await binaryBuild([dockerfile, { name: `${hostDir}/abs.txt`, content: 'x' }]);
  expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(status.message).toContain(`"${hostDir}/abs.txt" is an absolute path`);
  expect(readdirSync(hostDir)).toEqual([]);
});

test('a link to a host directory, then a file through it: refused, the host directory stays empty', async () => {
  const hostDir = scratchDir('through');
  for (const linkname of [hostDir, `../../../../../../../../..${hostDir}`]) {
    const { status } = await binaryBuild([
      dockerfile,
      { name: 'out', type: 'symlink', linkname },
      { name: 'out/pwned.txt', content: 'pwned' },
    ]);
    expect([status.phase, status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
    expect(status.message).toMatch(
      /binary input entry "out" is a symbolic link (to an absolute path|that leads outside)/,
    );
  }
  expect(readdirSync(hostDir)).toEqual([]);
});

test('a hard link to a host file and a device file are refused', async () => {
  const hard = await binaryBuild([dockerfile, { name: 'passwd', type: 'link', linkname: '/etc/passwd' }]);
  expect([hard.status.phase, hard.status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(hard.status.message).toContain('"/etc/passwd" is an absolute path');
  const device = await binaryBuild([
    dockerfile,
    { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  ]);
  expect([device.status.phase, device.status.reason]).toEqual(['Failed', 'FetchSourceFailed']);
  expect(device.status.message).toContain('binary input entry "null" is a character-device entry');
});

test('an archive whose links stay inside builds', async () => {
  const { status } = await binaryBuild([
    { name: 'docker/', type: 'directory' },
    { name: 'docker/Dockerfile', content: `FROM ${BASE_IMAGE}\nCOPY conf /conf\n` },
    { name: 'Dockerfile', type: 'symlink', linkname: 'docker/Dockerfile' },
    { name: 'settings.txt', content: 'ok\n' },
    { name: 'conf', type: 'link', linkname: 'settings.txt' },
  ]);
  expect([status.phase, status.message]).toEqual(['Complete', undefined]);
});
