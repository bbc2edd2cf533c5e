/** The build runner's pure decisions (src/queue/build-decisions.ts): no Redis, no Docker. */
import { describe, expect, it } from '@jest/globals';
import { BuildCancelled, BuildFailure } from '../../src/core/errors.js';
import type { Resource } from '../../src/core/resource.js';
import { buildSpecFor } from '../../src/queue/instantiate.js';
import {
  decideAvoidance,
  decideFailure,
  decideRunPolicy,
  decideStoredBuild,
  endStatusPatch,
  ownBinaryInput,
  reusedBuildEnd,
  runPolicyOf,
} from '../../src/queue/build-decisions.js';

function build(status: Record<string, unknown>, extra: Partial<Resource['metadata']> = {}): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: 'web-3', namespace: 'team', uid: 'u-3', ...extra },
    status,
  };
}

describe('a stored Build', () => {
  it('is gone when deleted or replaced by a Build of the same name', () => {
    expect(decideStoredBuild(undefined, 'u-3')).toEqual({ kind: 'gone' });
    expect(decideStoredBuild(build({ phase: 'New' }), 'u-other')).toEqual({ kind: 'gone' });
  });

  it('is left alone once ended', () => {
    expect(decideStoredBuild(build({ phase: 'Complete' }), 'u-3')).toEqual({
      kind: 'ended',
      phase: 'Complete',
    });
  });

  it('claimed by a worker that stopped ends Error with BuildPodDeleted, naming the worker', () => {
    const d = decideStoredBuild(
      build({ phase: 'Running' }, { annotations: { 'slipway.dev/worker': 'w-7' } }),
      undefined,
    );
    expect(d).toMatchObject({ kind: 'orphaned', end: { phase: 'Error', reason: 'BuildPodDeleted' } });
    expect(d.kind === 'orphaned' && d.end.logLine).toMatch(/\(w-7\) stopped/);
  });

  it('cancelled while New ends Cancelled; otherwise it is a candidate for the run policy', () => {
    expect(decideStoredBuild(build({ phase: 'New', cancelled: true }), 'u-3')).toMatchObject({
      kind: 'end',
      end: { phase: 'Cancelled', reason: 'CancelledBuild' },
    });
    expect(decideStoredBuild(build({ phase: 'New' }), 'u-3')).toEqual({ kind: 'candidate' });
  });
});

describe('run policies', () => {
  const info = (n: number, phase: string) => ({ name: `web-${n}`, number: n, phase }) as never;
  it('Serial waits for an earlier build; SerialLatestOnly cancels an older one; Parallel runs', () => {
    expect(
      decideRunPolicy({
        runPolicy: 'Serial',
        build: info(2, 'New'),
        siblings: [info(1, 'Running'), info(2, 'New')],
      }),
    ).toMatchObject({ kind: 'wait' });
    const latestOnly = decideRunPolicy({
      runPolicy: 'SerialLatestOnly',
      build: info(1, 'New'),
      siblings: [info(1, 'New'), info(2, 'New')],
    });
    expect(latestOnly).toMatchObject({ kind: 'end', end: { phase: 'Cancelled', reason: 'CancelledBuild' } });
    expect(latestOnly.kind === 'end' && latestOnly.end.message).toMatch(/web-2 is newer/);
    expect(
      decideRunPolicy({ runPolicy: 'Parallel', build: info(2, 'New'), siblings: [info(1, 'Running')] }),
    ).toEqual({ kind: 'run' });
  });

  it('reads the policy and BuildConfig from the labels, Serial by default', () => {
    expect(runPolicyOf(build({}, { labels: { 'openshift.io/build-config.name': 'web' } }))).toEqual({
      runPolicy: 'Serial',
      buildConfig: 'web',
    });
  });
});

describe('the end of a build whose steps threw', () => {
  const base = { deadlineExceeded: false, aborted: false, shuttingDown: false, cancelledByUser: false };

  it('past its deadline: Failed, DeadlineExceeded, even though the abort looks like a cancel', () => {
    const d = decideFailure({
      ...base,
      err: new BuildCancelled('x'),
      aborted: true,
      deadlineExceeded: true,
      deadlineSeconds: 5,
    });
    expect(d).toMatchObject({ kind: 'end', end: { phase: 'Failed', reason: 'DeadlineExceeded' } });
    expect(d.kind === 'end' && d.end.logLine).toMatch(/completionDeadlineSeconds 5/);
  });

  it('stopped by a worker shutdown: handed back, unless the user cancelled it', () => {
    expect(decideFailure({ ...base, err: new Error('aborted'), aborted: true, shuttingDown: true })).toEqual({
      kind: 'handBack',
    });
    expect(
      decideFailure({
        ...base,
        err: new Error('aborted'),
        aborted: true,
        shuttingDown: true,
        cancelledByUser: true,
      }),
    ).toMatchObject({ kind: 'end', end: { phase: 'Cancelled', reason: 'CancelledBuild' } });
  });

  it('a BuildFailure keeps its phase, reason and snippet; anything else is Error, GenericBuildFailed', () => {
    const failure = new BuildFailure('PushImageToRegistryFailed', 'registry refused', {
      logSnippet: 'last lines',
    } as never);
    expect(decideFailure({ ...base, err: failure })).toMatchObject({
      kind: 'end',
      unexpected: false,
      end: {
        phase: 'Failed',
        reason: 'PushImageToRegistryFailed',
        message: 'registry refused',
        logSnippet: 'last lines',
      },
    });
    expect(decideFailure({ ...base, err: new TypeError('boom') })).toMatchObject({
      kind: 'end',
      unexpected: true,
      end: { phase: 'Error', reason: 'GenericBuildFailed', message: 'The build failed unexpectedly: boom' },
    });
  });
});

describe('the final status', () => {
  const redact = (t: string) => t.replaceAll('hunter2', '***');
  it('records duration, redacted message and snippet for Failed, and the pushed image', () => {
    const patch = endStatusPatch({
      status: { startTimestamp: '2026-01-01T00:00:00Z' } as never,
      end: { phase: 'Failed', reason: 'GenericBuildFailed', message: 'password hunter2 refused' },
      completionTimestamp: '2026-01-01T00:00:02Z',
      output: { reference: 'r/ns/web:latest', digest: 'sha256:abc' },
      logSnippet: () => 'log says hunter2',
      redact,
    });
    expect(patch).toEqual({
      phase: 'Failed',
      completionTimestamp: '2026-01-01T00:00:02Z',
      duration: 2_000_000_000,
      reason: 'GenericBuildFailed',
      message: 'password *** refused',
      logSnippet: 'log says ***',
      outputDockerImageReference: 'r/ns/web:latest',
      output: { to: { imageDigest: 'sha256:abc' } },
    });
  });

  it('keeps no snippet for a Complete or Cancelled build', () => {
    const patch = endStatusPatch({
      status: {} as never,
      end: { phase: 'Cancelled', reason: 'CancelledBuild' },
      completionTimestamp: 't',
      logSnippet: () => 'x',
      redact,
    });
    expect(patch).toEqual({ phase: 'Cancelled', completionTimestamp: 't', reason: 'CancelledBuild' });
  });
});

it("a binary upload is the build's only when it is its namespace's", () => {
  const withId = (id: string) => build({}, { annotations: { 'slipway.dev/binary-input': id } });
  expect(ownBinaryInput(withId('abc'), 'team')).toBe('abc');
  expect(ownBinaryInput(withId('team/abc'), 'team')).toBe('team/abc');
  expect(ownBinaryInput(withId('other/abc'), 'team')).toBeUndefined();
  expect(ownBinaryInput(build({}), 'team')).toBeUndefined();
});

describe('build avoidance', () => {
  function withSpec(spec: Record<string, unknown>, annotations: Record<string, string> = {}): Resource {
    return {
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name: 'web-4', namespace: 'team', annotations },
      spec: {
        source: { git: { uri: 'https://git.example/web.git' } },
        output: { to: { kind: 'ImageStreamTag', name: 'web:latest' } },
        ...spec,
      },
    };
  }
  const source = { type: 'Source', sourceStrategy: { from: { name: 'nodejs:20' } } };

  it('looks up a git build with an output image', () => {
    expect(decideAvoidance(withSpec({ strategy: source }))).toEqual({ kind: 'lookUp' });
    expect(decideAvoidance(withSpec({ strategy: { type: 'Docker', dockerStrategy: {} } }))).toEqual({
      kind: 'lookUp',
    });
  });

  it('builds for real when noCache is set on either strategy, and says why in the log', () => {
    const docker = decideAvoidance(
      withSpec({ strategy: { type: 'Docker', dockerStrategy: { noCache: true } } }),
    );
    expect(docker).toMatchObject({ kind: 'build', forced: true });
    expect(docker.kind === 'build' && docker.why).toContain('dockerStrategy.noCache');
    const s2i = decideAvoidance(
      withSpec({ strategy: { type: 'Source', sourceStrategy: { ...source.sourceStrategy, noCache: true } } }),
    );
    expect(s2i).toMatchObject({ kind: 'build', forced: true });
    expect(s2i.kind === 'build' && s2i.why).toContain('sourceStrategy.noCache');
  });

  it('always builds an uploaded (binary) source, whose content is not hashed', () => {
    expect(
      decideAvoidance(withSpec({ strategy: source }, { 'slipway.dev/binary-input': 'team/blob-1' })),
    ).toMatchObject({ kind: 'build', forced: false });
    expect(
      decideAvoidance(withSpec({ strategy: source, source: { type: 'Binary', binary: {} } })),
    ).toMatchObject({ kind: 'build', forced: false });
  });

  it("always builds without an output, and a Docker build that pulls the Dockerfile's own base images", () => {
    expect(decideAvoidance(withSpec({ strategy: source, output: {} }))).toMatchObject({ kind: 'build' });
    expect(
      decideAvoidance(withSpec({ strategy: { type: 'Docker', dockerStrategy: { forcePull: true } } })),
    ).toMatchObject({ kind: 'build', forced: false });
    expect(
      decideAvoidance(
        withSpec({
          strategy: { type: 'Docker', dockerStrategy: { forcePull: true, from: { name: 'base' } } },
        }),
      ),
    ).toEqual({ kind: 'lookUp' });
  });

  it('ends a reused build Complete, naming the build it reused in the message and the log', () => {
    const end = reusedBuildEnd({ namespace: 'team', build: 'web-3', digest: 'sha256:abc' });
    expect(end.phase).toBe('Complete');
    expect(end.reason).toBeUndefined();
    expect(end.message).toBe('Reused the image of build web-3 (same inputs)');
    expect(end.logLine).toContain('team/web-3');
    expect(end.logLine).toContain('sha256:abc');
  });

  it("is forced by noCache in the BuildConfig's strategy and by start-build --no-cache, for Source builds too", () => {
    const bc = {
      source: { git: { uri: 'git://127.0.0.1/x.git' } },
      strategy: { type: 'Source' as const, sourceStrategy: { from: { name: 'nodejs:20' } } },
      output: { to: { kind: 'ImageStreamTag', name: 'x:latest' } },
    };
    const asBuild = (spec: unknown): Resource => ({
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name: 'x-1', namespace: 'team' },
      spec: spec as Record<string, unknown>,
    });
    expect(decideAvoidance(asBuild(buildSpecFor(bc)))).toEqual({ kind: 'lookUp' });
    expect(
      decideAvoidance(asBuild(buildSpecFor(bc, { dockerStrategyOptions: { noCache: true } }))),
    ).toMatchObject({
      kind: 'build',
      forced: true,
    });
    const noCache = {
      ...bc,
      strategy: { ...bc.strategy, sourceStrategy: { ...bc.strategy.sourceStrategy, noCache: true } },
    };
    expect(decideAvoidance(asBuild(buildSpecFor(noCache)))).toMatchObject({ kind: 'build', forced: true });
  });
});
