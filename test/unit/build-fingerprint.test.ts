/** Build avoidance's input fingerprint (src/queue/build-fingerprint.ts): pure, no Redis, no Docker. */
import { describe, expect, it } from '@jest/globals';
import type { BuildSpec } from '../../src/core/build-types.js';
import { buildFingerprint, canonicalJson, type BuildInputs } from '../../src/queue/build-fingerprint.js';

const COMMIT = 'a'.repeat(40);
const FROM = `sha256:${'b'.repeat(64)}`;

function sourceSpec(): BuildSpec {
  return {
    source: {
      type: 'Git',
      git: { uri: 'https://git.example/team/web.git', ref: 'main' },
      contextDir: 'app',
    },
    strategy: {
      type: 'Source',
      sourceStrategy: {
        from: { kind: 'ImageStreamTag', name: 'nodejs:20' },
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
    },
    output: { to: { kind: 'ImageStreamTag', name: 'web:latest' } },
  };
}

function dockerSpec(): BuildSpec {
  return {
    source: { git: { uri: 'https://git.example/team/api.git' }, dockerfile: 'FROM base\nRUN make\n' },
    strategy: {
      type: 'Docker',
      dockerStrategy: {
        buildArgs: [{ name: 'VERSION', value: '1.2' }],
        env: [{ name: 'MODE', value: 'prod' }],
      },
    },
    output: { to: { kind: 'DockerImage', name: '127.0.0.1:5000/team/api:v1' } },
  };
}

function inputs(spec: BuildSpec, extra: Partial<BuildInputs> = {}): BuildInputs {
  return {
    spec,
    commit: COMMIT,
    fromDigest: FROM,
    outputReference: '127.0.0.1:5000/team/web:latest',
    ...extra,
  };
}

/** The fingerprint of `spec` after `change` edits a copy of it. */
function changed(make: () => BuildSpec, change: (spec: BuildSpec) => void): string {
  const spec = make();
  change(spec);
  return buildFingerprint(inputs(spec));
}

describe('canonical JSON', () => {
  it('is the same text whatever the order of object keys, at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
  });

  it('leaves undefined fields out and keeps array order', () => {
    expect(canonicalJson({ a: undefined, b: [2, 1] })).toBe('{"b":[2,1]}');
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});

describe('a build input fingerprint', () => {
  const base = buildFingerprint(inputs(sourceSpec()));

  it('is a sha256 and the same for the same inputs', () => {
    expect(base).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(buildFingerprint(inputs(sourceSpec()))).toBe(base);
  });

  it("changes with the commit, the builder image digest, the output and an incremental build's previous image", () => {
    expect(buildFingerprint(inputs(sourceSpec(), { commit: 'c'.repeat(40) }))).not.toBe(base);
    expect(buildFingerprint(inputs(sourceSpec(), { fromDigest: `sha256:${'d'.repeat(64)}` }))).not.toBe(base);
    expect(
      buildFingerprint(inputs(sourceSpec(), { outputReference: '127.0.0.1:5000/team/web:v2' })),
    ).not.toBe(base);
    expect(buildFingerprint(inputs(sourceSpec(), { previousImageDigest: FROM }))).not.toBe(base);
    expect(buildFingerprint(inputs(sourceSpec(), { runtimeImageDigest: FROM }))).not.toBe(base);
  });

  it('changes with the context dir, env values, env order and strategy options', () => {
    expect(changed(sourceSpec, (s) => (s.source.contextDir = 'other'))).not.toBe(base);
    expect(changed(sourceSpec, (s) => (s.strategy.sourceStrategy!.env![0]!.value = '9'))).not.toBe(base);
    expect(changed(sourceSpec, (s) => s.strategy.sourceStrategy!.env!.reverse())).not.toBe(base);
    expect(changed(sourceSpec, (s) => (s.strategy.sourceStrategy!.incremental = true))).not.toBe(base);
    expect(changed(sourceSpec, (s) => (s.strategy.sourceStrategy!.scripts = 'https://x/s2i'))).not.toBe(base);
  });

  it('changes with the secrets and config maps a build mounts, by reference', () => {
    const withSecret = changed(sourceSpec, (s) => {
      (s.source as Record<string, unknown>).secrets = [{ secret: { name: 'npmrc' }, destinationDir: '.' }];
    });
    expect(withSecret).not.toBe(base);
    expect(
      changed(sourceSpec, (s) => {
        (s.source as Record<string, unknown>).secrets = [{ secret: { name: 'other' }, destinationDir: '.' }];
      }),
    ).not.toBe(withSecret);
  });

  it("changes with an image source's content (its digest), and is unchanged without image sources", () => {
    expect(buildFingerprint(inputs(sourceSpec(), { imageSourceDigests: undefined }))).toBe(base);
    const spec = sourceSpec();
    spec.source.images = [
      { from: { kind: 'ImageStreamTag', name: 'jar:latest' }, paths: [{ sourcePath: '/app.jar' }] },
    ];
    const v1 = buildFingerprint(inputs(spec, { imageSourceDigests: [`sha256:${'1'.repeat(64)}`] }));
    const v2 = buildFingerprint(inputs(spec, { imageSourceDigests: [`sha256:${'2'.repeat(64)}`] }));
    expect(v1).not.toBe(v2);
    expect(v1).not.toBe(base);
  });

  it("changes with a Docker build's build args, inline Dockerfile and env", () => {
    const docker = buildFingerprint(inputs(dockerSpec()));
    expect(changed(dockerSpec, (s) => (s.strategy.dockerStrategy!.buildArgs![0]!.value = '1.3'))).not.toBe(
      docker,
    );
    expect(changed(dockerSpec, (s) => (s.source.dockerfile = 'FROM base\nRUN make all\n'))).not.toBe(docker);
    expect(changed(dockerSpec, (s) => (s.strategy.dockerStrategy!.env = []))).not.toBe(docker);
    expect(
      changed(dockerSpec, (s) => (s.strategy.dockerStrategy!.dockerfilePath = 'build/Dockerfile')),
    ).not.toBe(docker);
  });

  it('tells strategies apart', () => {
    const spec = sourceSpec();
    spec.strategy = { type: 'Docker', dockerStrategy: { env: spec.strategy.sourceStrategy!.env! } };
    expect(buildFingerprint(inputs(spec))).not.toBe(base);
  });

  it('ignores what only changes how the build runs: noCache, forcePull, pull and source secrets, the ref, the cause', () => {
    expect(
      changed(sourceSpec, (s) => {
        s.strategy.sourceStrategy!.noCache = true;
        s.strategy.sourceStrategy!.forcePull = true;
        s.strategy.sourceStrategy!.pullSecret = { name: 'pull' };
        s.source.sourceSecret = { name: 'git-creds' };
        s.source.git!.ref = 'release/1';
        s.source.git!.httpsProxy = 'http://proxy:3128';
        s.triggeredBy = [{ message: 'Manually triggered' }];
        s.revision = { git: { commit: COMMIT } };
        s.completionDeadlineSeconds = 60;
        s.resources = { limits: { memory: '1Gi' } };
      }),
    ).toBe(base);
  });

  it('ignores the name the builder image went by: only its digest counts', () => {
    expect(
      changed(
        sourceSpec,
        (s) => (s.strategy.sourceStrategy!.from = { kind: 'DockerImage', name: 'x/nodejs:20' }),
      ),
    ).toBe(base);
  });

  it("changes with the worker's proxy settings and trusted CA, which every build gets", () => {
    expect(buildFingerprint(inputs(sourceSpec(), { server: { httpProxy: 'http://proxy:3128' } }))).not.toBe(
      base,
    );
    expect(buildFingerprint(inputs(sourceSpec(), { server: { trustedCA: '/etc/ca.pem' } }))).not.toBe(base);
  });
});
