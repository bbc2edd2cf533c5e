/**
 * Script lookup order (s2i docs/builder_image.md): the --scripts-url (sourceStrategy.scripts),
 * then the source's .s2i/bin, then the image's io.openshift.s2i.scripts-url label. Real
 * directories and a real HTTP server on loopback.
 */
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeSearch,
  findScripts,
  parseScriptsUrl,
  searchOrder,
} from '../../src/builders/sti/script-lookup.js';

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sti-lookup-'));
  for (const [path, content] of Object.entries({
    'src/.s2i/bin/assemble': '#!/bin/sh\necho source assemble\n',
    'src/.s2i/bin/run': '#!/bin/sh\necho source run\n',
    'host-scripts/assemble': '#!/bin/sh\necho file assemble\n',
  })) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
    chmodSync(join(dir, path), 0o755);
  }
  server = createServer((req, res) => {
    if (req.url === '/s2i/assemble') res.end('#!/bin/sh\necho http assemble\n');
    else if (req.url === '/created/assemble') res.writeHead(201).end('#!/bin/sh\necho created\n');
    else res.writeHead(404).end('nope');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parseScriptsUrl', () => {
  it('understands image://, file:// (relative to the source) and http(s)://', () => {
    expect(parseScriptsUrl('image:///usr/libexec/s2i/')).toEqual({
      scheme: 'image',
      path: '/usr/libexec/s2i',
    });
    expect(parseScriptsUrl('file:///opt/scripts')).toEqual({ scheme: 'file', path: '/opt/scripts' });
    expect(parseScriptsUrl('file://./ci/s2i', '/src')).toEqual({ scheme: 'file', path: '/src/ci/s2i' });
    expect(parseScriptsUrl('https://example.com/s2i/')).toEqual({
      scheme: 'http',
      url: 'https://example.com/s2i',
    });
  });
  it('rejects other schemes with what to use instead', () => {
    expect(() => parseScriptsUrl('ftp://x/y')).toThrow('use image:///path');
    expect(() => parseScriptsUrl('/just/a/path')).toThrow('is not supported');
  });
});

describe('searchOrder', () => {
  it('is sourceStrategy.scripts, .s2i/bin, image label; unset locations are skipped', () => {
    expect(
      searchOrder({ userUrl: 'http://x', sourceBinDir: '/src/.s2i/bin', imageUrl: 'image:///s2i' }).map(
        (o) => o.origin,
      ),
    ).toEqual(['sourceStrategy.scripts', '.s2i/bin', 'image label']);
    expect(searchOrder({ sourceBinDir: '/src/.s2i/bin' }).map((o) => o.origin)).toEqual(['.s2i/bin']);
  });
});

describe('findScripts', () => {
  it('.s2i/bin wins over the image label; a script it lacks comes from the image', async () => {
    const found = await findScripts(['assemble', 'run', 'save-artifacts'], {
      sourceBinDir: join(dir, 'src/.s2i/bin'),
      imageUrl: 'image:///usr/libexec/s2i',
      baseDir: join(dir, 'src'),
    });
    const assemble = found.get('assemble')?.found;
    expect(assemble?.kind === 'upload' && assemble.content.toString()).toContain('source assemble');
    expect(found.get('save-artifacts')?.found).toEqual({
      kind: 'image',
      origin: 'image label',
      url: 'image:///usr/libexec/s2i',
      path: '/usr/libexec/s2i/save-artifacts',
    });
  });
  it('sourceStrategy.scripts over http wins over .s2i/bin; a 404 there falls through', async () => {
    const found = await findScripts(['assemble', 'run'], {
      userUrl: `${base}/s2i`,
      sourceBinDir: join(dir, 'src/.s2i/bin'),
      baseDir: join(dir, 'src'),
    });
    const assemble = found.get('assemble')?.found;
    expect(assemble?.origin).toBe('sourceStrategy.scripts');
    expect(assemble?.kind === 'upload' && assemble.content.toString()).toContain('http assemble');
    const run = found.get('run');
    expect(run?.found?.origin).toBe('.s2i/bin');
    expect(run?.tried).toEqual([
      { origin: 'sourceStrategy.scripts', url: `${base}/s2i`, error: `GET ${base}/s2i/run answered 404` },
    ]);
  });
  it('accepts 201 like s2i, and file:// URLs', async () => {
    const created = await findScripts(['assemble'], { userUrl: `${base}/created`, baseDir: dir });
    expect(created.get('assemble')?.found?.origin).toBe('sourceStrategy.scripts');
    const file = await findScripts(['assemble'], {
      userUrl: `file://${join(dir, 'host-scripts')}`,
      baseDir: dir,
    });
    const loc = file.get('assemble')?.found;
    expect(loc?.kind === 'upload' && loc.content.toString()).toContain('file assemble');
  });
  it('an image:// scripts URL is taken as is (s2i cannot look inside the image from the host)', async () => {
    const found = await findScripts(['assemble'], {
      userUrl: 'image:///opt/custom',
      sourceBinDir: join(dir, 'src/.s2i/bin'),
      baseDir: dir,
    });
    expect(found.get('assemble')?.found).toMatchObject({
      kind: 'image',
      path: '/opt/custom/assemble',
      origin: 'sourceStrategy.scripts',
    });
  });
  it('says where it looked when nothing has the script', async () => {
    const found = await findScripts(['assemble'], {
      sourceBinDir: join(dir, 'nowhere/.s2i/bin'),
      baseDir: dir,
    });
    expect(found.get('assemble')?.found).toBeUndefined();
    expect(describeSearch('assemble', found.get('assemble'))).toBe(
      `assemble: not found in .s2i/bin (${join(dir, 'nowhere/.s2i/bin/assemble')} does not exist)`,
    );
  });
});
