import { describe, expect, it } from '@jest/globals';
import { branchPatterns, matchRef, parseRef } from '../../src/triggers/ref-match.js';
import { pushTouchesPaths } from '../../src/triggers/paths-filter.js';

describe('parseRef', () => {
  it('splits heads, tags and bare names', () => {
    expect(parseRef('refs/heads/release/1.0')).toEqual({
      kind: 'branch',
      name: 'release/1.0',
      full: 'refs/heads/release/1.0',
    });
    expect(parseRef('refs/tags/v1')).toEqual({ kind: 'tag', name: 'v1', full: 'refs/tags/v1' });
    expect(parseRef('main')).toEqual({ kind: 'branch', name: 'main', full: 'refs/heads/main' });
    expect(parseRef('refs/pull/1/head').kind).toBe('other');
  });
});

describe('matchRef', () => {
  it('follows OpenShift: the BuildConfig ref, with or without refs/heads/', () => {
    expect(matchRef({ ref: 'refs/heads/main', configRef: 'main' }).match).toBe(true);
    expect(matchRef({ ref: 'refs/heads/main', configRef: 'refs/heads/main' }).match).toBe(true);
    expect(matchRef({ ref: 'main', configRef: 'main' }).match).toBe(true);
    const other = matchRef({ ref: 'refs/heads/feature', configRef: 'main' });
    expect(other).toEqual({ match: false, reason: 'branch feature does not match main' });
  });

  it('uses the payload default branch for an empty ref, else master', () => {
    expect(matchRef({ ref: 'refs/heads/main', configRef: '', defaultBranch: 'main' }).match).toBe(true);
    expect(matchRef({ ref: 'refs/heads/master', configRef: '', defaultBranch: 'main' }).match).toBe(false);
    expect(matchRef({ ref: 'refs/heads/master' }).match).toBe(true);
    expect(matchRef({ ref: 'refs/heads/main' }).match).toBe(false);
    expect(branchPatterns({})).toEqual(['master']);
  });

  it('matches glob refs: * within a segment, ** across', () => {
    const trigger = { refs: ['release/*', 'hotfix/**'] };
    expect(matchRef({ ref: 'refs/heads/release/1.0', trigger })).toEqual({
      match: true,
      pattern: 'release/*',
    });
    expect(matchRef({ ref: 'refs/heads/release/1.0/rc1', trigger }).match).toBe(false);
    expect(matchRef({ ref: 'refs/heads/hotfix/a/b', trigger })).toEqual({
      match: true,
      pattern: 'hotfix/**',
    });
    expect(matchRef({ ref: 'refs/heads/main', trigger, configRef: 'main' }).match).toBe(false);
    // A glob in spec.source.git.ref works too.
    expect(matchRef({ ref: 'refs/heads/release/2', configRef: 'release/*' }).match).toBe(true);
    expect(matchRef({ ref: 'refs/heads/feature/x', trigger: { refs: ['refs/heads/feature/*'] } }).match).toBe(
      true,
    );
  });

  it('ignores tags unless includeTags, then builds every tag or the listed ones', () => {
    const tag = 'refs/tags/v1.2.0';
    const ignored = matchRef({ ref: tag, configRef: 'main' });
    expect(ignored.match).toBe(false);
    expect(!ignored.match && ignored.reason).toContain('includeTags');
    expect(matchRef({ ref: tag, configRef: 'main', trigger: { includeTags: true } }).match).toBe(true);
    const listed = { includeTags: true, refs: ['main', 'refs/tags/v1.*'] };
    expect(matchRef({ ref: tag, trigger: listed }).match).toBe(true);
    expect(matchRef({ ref: 'refs/tags/v2.0.0', trigger: listed }).match).toBe(false);
    expect(matchRef({ ref: 'refs/heads/main', trigger: listed }).match).toBe(true);
  });

  it('never builds a deletion', () => {
    const d = matchRef({
      ref: 'refs/heads/main',
      configRef: 'main',
      deleted: true,
      trigger: { includeTags: true },
    });
    expect(d.match).toBe(false);
  });
});

describe('pushTouchesPaths', () => {
  it('filters by contextDir by default', () => {
    const input = { contextDir: 'services/api/', changedPaths: ['services/web/index.js', 'README.md'] };
    const skip = pushTouchesPaths(input);
    expect(skip.build).toBe(false);
    expect(skip.reason).toBe('none of the 2 changed paths matches services/api/**');
    expect(pushTouchesPaths({ ...input, changedPaths: ['services/api/src/main.go'] }).build).toBe(true);
    expect(
      pushTouchesPaths({ ...input, contextDir: './services/api', changedPaths: ['services/api/.env'] }).build,
    ).toBe(true);
  });

  it('prefers the trigger paths globs over contextDir', () => {
    const input = { contextDir: 'app', paths: ['app/src/**', 'Dockerfile'], changedPaths: ['app/docs/x.md'] };
    expect(pushTouchesPaths(input).build).toBe(false);
    expect(pushTouchesPaths({ ...input, changedPaths: ['Dockerfile'] }).build).toBe(true);
  });

  it('builds when there is no filter or the changed paths are unknown', () => {
    expect(pushTouchesPaths({ changedPaths: [] })).toEqual({ build: true, reason: 'no paths filter' });
    expect(pushTouchesPaths({ contextDir: '.', changedPaths: [] }).build).toBe(true);
    expect(pushTouchesPaths({ contextDir: 'app', changedPaths: undefined }).build).toBe(true);
    expect(pushTouchesPaths({ contextDir: 'app', changedPaths: [] }).build).toBe(false);
  });
});
