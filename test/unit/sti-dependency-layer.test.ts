/** The dependency layer's pure parts: the label, the key, reading the files from a hostile checkout. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildFailure } from '../../src/core/errors.js';
import {
  dependencyKey,
  parseDependencyFiles,
  readDependencyFiles,
  type KeyInput,
} from '../../src/builders/sti/dependency-layer.js';

describe('parseDependencyFiles', () => {
  it('reads a comma-separated list, trimmed, without duplicates', () => {
    expect(parseDependencyFiles(' package.json, package-lock.json ,,package.json,sub/.npmrc')).toEqual({
      files: ['package.json', 'package-lock.json', 'sub/.npmrc'],
    });
  });
  it.each([
    ['', 'names no file'],
    ['/etc/passwd', '"/etc/passwd" is not a plain relative file name'],
    ['../package.json', '"../package.json" is not a plain relative file name'],
    ['a/./b', '"a/./b" is not a plain relative file name'],
    ['a b', '"a b" is not a plain relative file name'],
    ['$(id)', '"$(id)" is not a plain relative file name'],
  ])('refuses %j: %s', (value, problem) => {
    expect(parseDependencyFiles(value)).toEqual({ problem });
  });
});

describe('dependencyKey', () => {
  const base: KeyInput = {
    builderId: 'sha256:aaa',
    user: '1001',
    destination: '/tmp',
    files: [
      { name: 'package.json', content: Buffer.from('{"dependencies":{"ms":"2.1.3"}}') },
      { name: 'package-lock.json', content: undefined },
    ],
    env: ['NODE_ENV=production', 'OPENSHIFT_BUILD_NAMESPACE=team', 'OPENSHIFT_BUILD_NAME=app-1'],
  };
  const key = dependencyKey(base);

  it('does not change with what changes on every build: the build name, commit, source, reference, env order', () => {
    expect(
      dependencyKey({
        ...base,
        env: [
          'OPENSHIFT_BUILD_COMMIT=abc',
          'OPENSHIFT_BUILD_NAME=app-2',
          'OPENSHIFT_BUILD_SOURCE=https://git.example.com/app.git',
          'OPENSHIFT_BUILD_REFERENCE=main',
          'OPENSHIFT_BUILD_NAMESPACE=team',
          'NODE_ENV=production',
        ],
      }),
    ).toBe(key);
  });
  it('changes with the builder, a file content, a file appearing, the environment and the namespace', () => {
    const changed = [
      { ...base, builderId: 'sha256:bbb' },
      { ...base, user: '0' },
      { ...base, files: [base.files[0]!, { name: 'package-lock.json', content: Buffer.from('{}') }] },
      {
        ...base,
        files: [
          { name: 'package.json', content: Buffer.from('{"dependencies":{"ms":"2.1.2"}}') },
          base.files[1]!,
        ],
      },
      { ...base, env: [...base.env, 'NPM_MIRROR=http://mirror.example.com/'] },
      { ...base, env: ['NODE_ENV=development', 'OPENSHIFT_BUILD_NAMESPACE=team'] },
      { ...base, env: ['NODE_ENV=production', 'OPENSHIFT_BUILD_NAMESPACE=other'] },
    ].map(dependencyKey);
    expect(new Set([key, ...changed]).size).toBe(changed.length + 1);
  });
});

describe('readDependencyFiles', () => {
  let root: string;
  let outside: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sti-deps-'));
    outside = mkdtempSync(join(tmpdir(), 'sti-deps-outside-'));
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'app', 'package.json'), '{"name":"app"}');
    writeFileSync(join(outside, 'secret'), 'token');
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const read = (names: string[], ignored: (p: string) => boolean = () => false) =>
    readDependencyFiles({ sourceDir: root, contextDir: join(root, 'app'), names, ignored });

  it('reads the files of the context directory; missing, ignored and non-files are absent', async () => {
    mkdirSync(join(root, 'app', '.npmrc'));
    writeFileSync(join(root, 'app', 'package-lock.json'), '{}');
    const files = await read(['package.json', 'package-lock.json', 'npm-shrinkwrap.json', '.npmrc'], (p) =>
      p.startsWith('package-lock'),
    );
    expect(files.map((f) => [f.name, f.content?.toString()])).toEqual([
      ['package.json', '{"name":"app"}'],
      ['package-lock.json', undefined],
      ['npm-shrinkwrap.json', undefined],
      ['.npmrc', undefined],
    ]);
  });
  it('follows a link inside the checkout, and fails the build for one that leads outside it', async () => {
    symlinkSync('../shared.json', join(root, 'app', 'package-lock.json'));
    writeFileSync(join(root, 'shared.json'), '{"lockfileVersion":3}');
    expect((await read(['package-lock.json']))[0]?.content?.toString()).toBe('{"lockfileVersion":3}');

    symlinkSync(join(outside, 'secret'), join(root, 'app', '.npmrc'));
    const err = await read(['.npmrc']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildFailure);
    expect((err as BuildFailure).message).toMatch(
      /^dependency file \.npmrc .*only inside the source checkout/,
    );
    expect((err as BuildFailure).message).not.toContain('token');
  });
});
