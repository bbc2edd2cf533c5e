/**
 * The checkout path resolver on a real directory tree with real symbolic links: what
 * stays inside resolves, whatever leads out (directly, through a chain, a dangling link
 * or a loop) is refused, and a replaced file is never written through a link.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkoutPath,
  replaceCheckoutFile,
  resolveCheckoutPath,
  resolveContextDir,
} from '../../src/builders/source/checkout-paths.js';
import { archiveEntryPath } from '../../src/builders/source/binary-source.js';
import { BuildFailure } from '../../src/core/errors.js';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'slipway-checkout-paths-'));
  root = join(base, 'checkout');
  outside = join(base, 'host');
  mkdirSync(join(root, 'app', 'docker'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host secret');
  writeFileSync(join(root, 'app', 'docker', 'Dockerfile'), 'FROM x');
  symlinkSync('docker/Dockerfile', join(root, 'app', 'Dockerfile'));
  symlinkSync('app', join(root, 'alias'));
  symlinkSync(outside, join(root, 'out'));
  symlinkSync(join(outside, 'secret'), join(root, 'secret-link'));
  symlinkSync('../../host/secret', join(root, 'app', 'relative-out'));
  symlinkSync('chain-2', join(root, 'chain-1'));
  symlinkSync('out', join(root, 'chain-2'));
  symlinkSync(join(outside, 'does-not-exist'), join(root, 'dangling-out'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const resolved = (path: string, from?: string) => resolveCheckoutPath({ root, path, from });

describe('resolveCheckoutPath', () => {
  it('resolves paths inside, following links that stay inside', () => {
    expect(resolved('app/Dockerfile')).toMatchObject({ ok: true, exists: true, isLink: true });
    const r = resolved('alias/docker/Dockerfile');
    expect(r.ok && readFileSync(r.path, 'utf8')).toBe('FROM x');
    expect(resolved('Dockerfile', join(root, 'alias'))).toMatchObject({ ok: true, exists: true });
    expect(resolved('')).toMatchObject({ ok: true, exists: true, isLink: false });
  });
  it('gives the link itself as the location to replace', () => {
    const r = resolved('app/Dockerfile');
    if (!r.ok) throw new Error(r.problem);
    expect(r.location.endsWith(join('app', 'Dockerfile'))).toBe(true);
    expect(r.path.endsWith(join('app', 'docker', 'Dockerfile'))).toBe(true);
  });
  it('says a path that does not exist yet does not, when its directories are inside', () => {
    expect(resolved('app/new/dir/file')).toMatchObject({ ok: true, exists: false });
    expect(resolved('app/docker/Dockerfile/below')).toMatchObject({ ok: true, exists: false });
  });
  it.each([
    ['out', 'leads outside the source checkout through a symbolic link'],
    ['out/secret', 'leads outside the source checkout through a symbolic link'],
    ['out/new-file', 'leads outside the source checkout through a symbolic link'],
    ['secret-link', 'leads outside the source checkout through a symbolic link'],
    ['app/relative-out', 'leads outside the source checkout through a symbolic link'],
    ['chain-1/secret', 'leads outside the source checkout through a symbolic link'],
    ['dangling-out', 'a symbolic link that does not resolve'],
    ['loop-a/x', 'a symbolic link that does not resolve'],
    ['../host/secret', 'contains ".."'],
    ['app/../../host', 'contains ".."'],
    ['/etc/passwd', 'is an absolute path'],
    ['a\0b', 'contains a NUL character'],
  ])('refuses %j', (path, problem) => {
    const r = resolved(path);
    expect(r.ok ? 'resolved' : r.problem).toContain(problem);
  });
  it('refuses a starting directory outside the checkout', () => {
    expect(resolved('secret', outside)).toEqual({ ok: false, problem: 'starts outside the source checkout' });
  });
});

describe('checkoutPath and resolveContextDir', () => {
  it('throw a BuildFailure with the reason and the path named', () => {
    expect(() =>
      checkoutPath({ root, path: 'out', what: 'contextDir "out"', reason: 'InvalidContextDirectory' }),
    ).toThrow(
      new BuildFailure(
        'InvalidContextDirectory',
        'contextDir "out" leads outside the source checkout through a symbolic link; Slipway reads and writes only inside the source checkout',
      ),
    );
    expect(() => resolveContextDir(root, 'out')).toThrow('contextDir "out" leads outside');
    expect(() => resolveContextDir(root, 'missing')).toThrow('contextDir "missing" does not exist');
    expect(() => resolveContextDir(root, 'app/docker/Dockerfile')).toThrow('does not exist');
    expect(resolveContextDir(root, 'alias')).toBe(resolveContextDir(root, 'app'));
  });
});

describe('replaceCheckoutFile', () => {
  it('replaces a link with a regular file and leaves its target alone', () => {
    const target = checkoutPath({
      root,
      path: 'app/Dockerfile',
      what: 'x',
      reason: 'ManageDockerfileFailed',
    });
    replaceCheckoutFile(target, 'FROM edited');
    expect(readFileSync(join(root, 'app', 'Dockerfile'), 'utf8')).toBe('FROM edited');
    expect(() => readlinkSync(join(root, 'app', 'Dockerfile'))).toThrow();
    expect(readFileSync(join(root, 'app', 'docker', 'Dockerfile'), 'utf8')).toBe('FROM x');
  });
  it('creates a new file and refuses to replace a directory', () => {
    const fresh = checkoutPath({ root, path: 'app/new', what: 'x', reason: 'ManageDockerfileFailed' });
    replaceCheckoutFile(fresh, 'n');
    expect(existsSync(join(root, 'app', 'new'))).toBe(true);
    const dir = checkoutPath({ root, path: 'app/docker', what: 'x', reason: 'ManageDockerfileFailed' });
    expect(() => replaceCheckoutFile(dir, 'x')).toThrow('it is a directory');
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('host secret');
  });
});

describe('binary archive entry names', () => {
  it('normalises relative names and refuses absolute ones, ".." and NUL', () => {
    expect(archiveEntryPath('./a//b/')).toBe('a/b');
    expect(archiveEntryPath('.')).toBe('');
    expect(() => archiveEntryPath('../x')).toThrow('contains ".."');
    expect(() => archiveEntryPath('a/../../x')).toThrow('contains ".."');
    expect(() => archiveEntryPath('/etc/passwd')).toThrow('is an absolute path');
    expect(() => archiveEntryPath('C:\\x')).toThrow('is an absolute path');
    expect(() => archiveEntryPath('a\0b')).toThrow('NUL');
  });
});
