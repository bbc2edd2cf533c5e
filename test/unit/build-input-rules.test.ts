/**
 * The rules for names that reach git's command line or a Dockerfile: env and build-arg
 * names (the API server's IsEnvVarName), commit ids, git ref names (check-ref-format,
 * no leading "-"), applied by the API schema, BuildRequests, webhook payloads and the
 * Dockerfile editor.
 */
import {
  buildRequestCauses,
  commitProblem,
  envNameProblem,
  gitRefProblem,
} from '../../src/core/build-input-rules.js';
import { editDockerfile } from '../../src/builders/docker/dockerfile.js';
import { BuildFailure } from '../../src/core/errors.js';
import { lookupKind } from '../../src/core/resource.js';
import { isAllowedGitUri, validateResource } from '../../src/core/validation.js';
import { allowedProtocols, submoduleUrlProblem } from '../../src/builders/source/git-source.js';
import { parseGenericBody } from '../../src/webhooks/generic-payload.js';
import { parseGitHubPush } from '../../src/webhooks/github-payload.js';
import { parseGitLabPush } from '../../src/webhooks/gitlab-payload.js';
import {
  parseBitbucketCloudPush,
  parseBitbucketServerRefsChanged,
} from '../../src/webhooks/bitbucket-payload.js';
import { decidePush } from '../../src/triggers/push-decision.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('env names', () => {
  it.each(['A', 'a_b', '_X', 'my.var', 'dash-ed', '-lead', '.dot', 'X1'])('accepts %j', (name) => {
    expect(envNameProblem(name)).toBeUndefined();
  });
  it.each(['', '1A', 'A B', 'A=B', 'Z=1\nRUN id\nENV Q', 'A$B', 'ünï', 'A\tB', 'A"B'])(
    'refuses %j',
    (name) => {
      expect(envNameProblem(name)).toBeDefined();
    },
  );
});

describe('commit ids', () => {
  it.each(['abcdef0', SHA, 'ABCDEF0123'])('accepts %j', (c) => expect(commitProblem(c)).toBeUndefined());
  it.each(['abc', `${SHA}0`, 'main', '--upload-pack=touch /tmp/x', 'abcdefg', ' abcdef0'])(
    'refuses %j',
    (c) => expect(commitProblem(c)).toBe('must be a commit id of 7 to 40 hexadecimal digits'),
  );
});

describe('git ref names', () => {
  it.each(['main', 'refs/heads/main', 'feature/x-1', 'v1.0.0', 'refs/pull/12/head', SHA, 'a@b', 'release_2'])(
    'accepts %j',
    (ref) => expect(gitRefProblem(ref)).toBeUndefined(),
  );
  it.each([
    ['-oProxyCommand=touch /tmp/x', 'must not start with "-"'],
    ['--upload-pack=x', 'must not start with "-"'],
    ['a..b', 'must not contain ".."'],
    ['has space', 'must not contain spaces or control characters'],
    ['tab\there', 'must not contain spaces or control characters'],
    ['nl\nx', 'must not contain spaces or control characters'],
    ['del\x7f', 'must not contain spaces or control characters'],
    ['a~1', 'must not contain any of ~ ^ : ? * [ \\'],
    ['a^', 'must not contain any of ~ ^ : ? * [ \\'],
    ['src:dst', 'must not contain any of ~ ^ : ? * [ \\'],
    ['glob*', 'must not contain any of ~ ^ : ? * [ \\'],
    ['q?', 'must not contain any of ~ ^ : ? * [ \\'],
    ['br[', 'must not contain any of ~ ^ : ? * [ \\'],
    ['back\\slash', 'must not contain any of ~ ^ : ? * [ \\'],
    ['a@{1}', 'must not contain "@{"'],
    ['@', 'must not be "@"'],
    ['/lead', 'must not start or end with "/"'],
    ['trail/', 'must not start or end with "/"'],
    ['a//b', 'must not contain "//"'],
    ['end.', 'must not end with "."'],
    ['refs/.hidden', 'must not have a path component that starts with "."'],
    ['refs/heads/x.lock', 'must not have a path component that ends with ".lock"'],
    ['refs/heads/-oProxyCommand=x', 'must not have a path component that starts with "-"'],
    ['', 'must not be empty'],
  ])('refuses %j: %s', (ref, problem) => expect(gitRefProblem(ref)).toBe(problem));
});

describe('BuildRequest causes', () => {
  it('names every bad field and accepts a good request', () => {
    expect(
      buildRequestCauses({
        revision: { git: { commit: SHA } },
        env: [{ name: 'A' }],
        dockerStrategyOptions: {},
      }),
    ).toEqual([]);
    expect(
      buildRequestCauses({
        revision: { git: { commit: '--upload-pack=x' } },
        env: [{ name: 'OK' }, { name: 'X\nRUN id' }, {}],
        dockerStrategyOptions: { buildArgs: [{ name: '1A' }] },
      }).map((c) => c.field),
    ).toEqual([
      'revision.git.commit',
      'env[1].name',
      'env[2].name',
      'dockerStrategyOptions.buildArgs[0].name',
    ]);
  });
  it('refuses env that is not a list without throwing', () => {
    expect(buildRequestCauses({ env: {} })).toEqual([
      { field: 'env', message: 'must be a list of {name, value}' },
    ]);
  });
});

describe('the API schema', () => {
  const info = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
  const bc = (spec: Record<string, unknown>) => ({
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'x', namespace: 'n' },
    spec: {
      source: { git: { uri: 'https://git.example/r.git', ref: 'main' } },
      strategy: { type: 'Docker', dockerStrategy: {} },
      ...spec,
    },
  });
  const fields = (obj: ReturnType<typeof bc>): string[] => {
    try {
      validateResource(info, obj as never);
      return [];
    } catch (err) {
      return (err as { causes: { field: string }[] }).causes.map((c) => c.field);
    }
  };
  it('refuses a ref that starts with "-", bad env and build-arg names, and a commit that is no id', () => {
    expect(
      fields(
        bc({
          source: { git: { uri: 'https://git.example/r.git', ref: '-oProxyCommand=x' } },
          revision: { git: { commit: 'HEAD~1' } },
          strategy: {
            type: 'Docker',
            dockerStrategy: { env: [{ name: 'A B', value: '1' }], buildArgs: [{ name: 'X=1', value: '' }] },
          },
        }),
      ).sort(),
    ).toEqual([
      'spec.revision.git.commit',
      'spec.source.git.ref',
      'spec.strategy.dockerStrategy.buildArgs[0].name',
      'spec.strategy.dockerStrategy.env[0].name',
    ]);
  });
  it('accepts an empty ref (the default branch) and good names', () => {
    expect(
      fields(
        bc({
          source: { git: { uri: 'https://git.example/r.git', ref: '' } },
          strategy: { type: 'Docker', dockerStrategy: { env: [{ name: 'A', value: '1' }] } },
        }),
      ),
    ).toEqual([]);
  });
});

describe('the Dockerfile editor', () => {
  it('refuses an env name that would add an instruction', () => {
    expect(() =>
      editDockerfile('FROM x\n', { env: [{ name: 'Z=1\nRUN echo X > /wh.txt\nENV Q', value: 'v' }] }),
    ).toThrow(BuildFailure);
  });
  it('keeps a value with newlines and quotes on one ENV line', () => {
    const out = editDockerfile('FROM x\nRUN true\n', { env: [{ name: 'V', value: 'a"\nRUN id\nENV Q="b' }] });
    expect(out.split('\n')).toEqual(['FROM x', 'ENV V="a\\"\\nRUN id\\nENV Q=\\"b"', 'RUN true', '']);
  });
  it('refuses a from image with whitespace', () => {
    expect(() => editDockerfile('FROM x\n', { from: 'busybox\nRUN id' })).toThrow(
      'is not an image reference',
    );
  });
});

describe('webhook payloads', () => {
  it('GitHub: a ref or commit that is an option is a 400', () => {
    for (const p of [
      { ref: '-oProxyCommand=x', after: SHA },
      { ref: 'refs/heads/main', after: '--upload-pack=x' },
      { ref: 'refs/heads/main', after: SHA, head_commit: { id: '--upload-pack=x' } },
    ]) {
      const parsed = parseGitHubPush(p);
      expect(parsed.ok ? 200 : parsed.reply.status).toBe(400);
    }
    expect(parseGitHubPush({ ref: 'refs/heads/main', after: SHA }).ok).toBe(true);
    expect(parseGitHubPush({ ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true }).ok).toBe(true);
  });
  it('GitLab and Bitbucket: the same', () => {
    const gl = parseGitLabPush({ ref: 'refs/heads/main', checkout_sha: SHA, commits: [{ id: '-x' }] });
    expect(gl.ok ? 200 : gl.reply.message).toContain('"commits[0].id"');
    const cloud = parseBitbucketCloudPush({
      push: { changes: [{ new: { type: 'branch', name: '-oProxyCommand=x', target: { hash: SHA } } }] },
    });
    expect(cloud.ok ? 200 : cloud.reply.status).toBe(400);
    const server = parseBitbucketServerRefsChanged({
      changes: [{ ref: { id: 'refs/heads/main' }, toHash: '--upload-pack=x' }],
    });
    expect(server.ok ? 200 : server.reply.message).toContain('"changes[].toHash"');
  });
  it('generic: env and build-arg names, refs and commits are checked wherever they sit', () => {
    const bad = (body: unknown): string => {
      const parsed = parseGenericBody(Buffer.from(JSON.stringify(body)), 'json');
      return parsed.ok ? 'accepted' : parsed.message;
    };
    expect(bad({ env: [{ name: 'A\nRUN id', value: '1' }] })).toContain('env[0].name');
    expect(bad({ dockerStrategyOptions: { buildArgs: [{ name: 'A B' }] } })).toContain(
      'dockerStrategyOptions.buildArgs[0].name',
    );
    expect(bad({ git: { ref: '-x' } })).toContain('git.ref');
    expect(bad({ git: { commit: 'nothex!' } })).toContain('git.commit');
    expect(bad({ git: { refs: [{ ref: 'main' }, { ref: 'main', commit: '--x' }] } })).toContain(
      'git.refs[1].commit',
    );
    expect(bad({ git: { ref: 'main', commit: SHA }, env: [{ name: 'OK', value: 'a\nb' }] })).toBe('accepted');
  });
  it('decidePush does not build a pushed ref or commit that breaks the rules, whoever parsed it', () => {
    const buildConfig = {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: { name: 'x', namespace: 'n' },
      spec: { source: { git: { uri: 'https://git.example/r.git', ref: 'main' } } },
    };
    const d = decidePush({
      buildConfig: buildConfig as never,
      trigger: {},
      push: {
        source: 'generic',
        repoUrls: [],
        refs: [{ ref: 'refs/heads/main', revision: { git: { commit: '--upload-pack=x' } } }],
      },
    });
    expect(d).toEqual({ build: false, reason: expect.stringContaining('commit "--upload-pack=x"') });
  });
});

describe('source and submodule URLs', () => {
  it('refuses a host or user that would reach ssh as an option', () => {
    expect(isAllowedGitUri('ssh://-oProxyCommand=touch%20x/repo', false)).toBe(false);
    expect(isAllowedGitUri('-oProxyCommand=x@host:repo', false)).toBe(false);
    expect(isAllowedGitUri('ssh://git@host/repo.git', false)).toBe(true);
    expect(isAllowedGitUri('git@github.com:o/r.git', false)).toBe(true);
  });
  it('lets submodules use the source transports and relative URLs, nothing else', () => {
    expect(submoduleUrlProblem('../lib.git', false)).toBeUndefined();
    expect(submoduleUrlProblem('https://host/lib.git', false)).toBeUndefined();
    expect(submoduleUrlProblem('ext::sh -c touch% /tmp/x', false)).toContain('transport');
    expect(submoduleUrlProblem('file:///srv/lib.git', false)).toContain('SLIPWAY_ALLOW_FILE_SOURCES');
    expect(submoduleUrlProblem('file:///srv/lib.git', true)).toBeUndefined();
    expect(submoduleUrlProblem('--upload-pack=x', true)).toBe('starts with "-"');
    expect(allowedProtocols(false)).toBe('https:http:ssh:git');
    expect(allowedProtocols(true)).toBe('https:http:ssh:git:file');
  });
});
