/**
 * A rollout's patience with an unreachable target (src/strategies/patient-target.ts).
 * The errors classified are real ones, made by the real clients: dockerode against a
 * socket that is gone and one nobody listens on, the Kubernetes client against a closed
 * port, and the machine's Docker engine answering 404. The target under the wrapper is a
 * stand-in that fails a given number of times with such an error (what is tested is how
 * the wrapper waits, retries and gives up, not what a target does); the real engine
 * restarting under a rollout is test/faults/rollout-engine-restart.test.ts.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ConflictError } from '../../src/core/errors.js';
import { kubeError } from '../../src/strategies/kubernetes/kube-client.js';
import { patientTarget, targetUnreachable } from '../../src/strategies/patient-target.js';
import type { DeployTarget, RevisionStatus } from '../../src/strategies/target.js';
import { freePort } from '../support/stack.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('targetUnreachable, on errors the real clients give', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-patient-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('dockerode: an engine socket that is gone (ENOENT) or refusing (ECONNREFUSED)', async () => {
    const gone = await rejection(new Docker({ socketPath: join(dir, 'none.sock') }).listContainers());
    expect(gone).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
    expect(targetUnreachable(gone)).toBe(true);

    // A path that is there with nobody listening on it (a file left behind).
    const path = join(dir, 'stale.sock');
    writeFileSync(path, '');
    const refused = await rejection(new Docker({ socketPath: path }).listContainers());
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(targetUnreachable(refused)).toBe(true);
  });

  it('the Kubernetes client: an API server port that is closed', async () => {
    const port = await freePort();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const raw = await rejection(kc.makeApiClient(CoreV1Api).readNamespace({ name: 'default' }));
    const err = kubeError(raw, 'reading namespace default', `https://127.0.0.1:${port}`);
    expect(targetUnreachable(err)).toBe(true);
  });

  it('answers are not outages: a 404 from the engine, a conflict, a plain error', async () => {
    const docker = new Docker();
    const notFound = await rejection(docker.getContainer('slipway-no-such-container').inspect());
    expect(notFound).toMatchObject({ statusCode: 404 });
    expect(targetUnreachable(notFound)).toBe(false);
    expect(targetUnreachable(new ConflictError('taken'))).toBe(false);
    expect(targetUnreachable(new Error('connect ENOENT in a message only'))).toBe(false);
    expect(targetUnreachable(undefined)).toBe(false);
  });
});

/** A stand-in target whose revisionStatus and runPod fail `failures` times with `error`, then answer. */
function flakyTarget(error: unknown, failures: number): DeployTarget & { calls: string[] } {
  const calls: string[] = [];
  let left = failures;
  const status: RevisionStatus = { desired: 1, current: 1, ready: 1, available: 1, failures: [] };
  const flaky =
    <T>(verb: string, value: T) =>
    async (): Promise<T> => {
      calls.push(verb);
      if (left > 0) {
        left--;
        throw error;
      }
      return value;
    };
  return {
    name: 'docker',
    calls,
    ensureRevision: flaky('ensureRevision', undefined as never),
    getRevision: flaky('getRevision', undefined),
    listRevisions: flaky('listRevisions', []),
    annotateRevision: flaky('annotateRevision', undefined as never),
    scaleRevision: flaky('scaleRevision', undefined),
    revisionStatus: flaky('revisionStatus', status),
    deleteRevision: flaky('deleteRevision', undefined),
    runPod: flaky('runPod', { exitCode: 0, logs: '' }),
    applyService: flaky('applyService', undefined),
    deleteService: flaky('deleteService', undefined),
    close: async () => undefined,
  };
}

const unreachable = Object.assign(new Error('connect ENOENT /run/engine.sock'), {
  code: 'ENOENT',
  syscall: 'connect',
});

describe('patientTarget', () => {
  it('waits out an outage on a repeatable verb and logs its start and end', async () => {
    const inner = flakyTarget(unreachable, 3);
    const lines: string[] = [];
    const target = patientTarget(inner, {
      signal: new AbortController().signal,
      waitMs: 5000,
      log: (l) => lines.push(l),
      firstPauseMs: 10,
    });
    await expect(target.revisionStatus('ns', 'web-1')).resolves.toMatchObject({ ready: 1 });
    expect(inner.calls).toEqual(['revisionStatus', 'revisionStatus', 'revisionStatus', 'revisionStatus']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^The docker target is not answering \(connect ENOENT \/run\/engine.sock\); waiting up to 5 s for it$/,
    );
    expect(lines[1]).toMatch(/^The docker target answers again after \d+\.\d s$/);
  });

  it('does not repeat a pod run, and throws an answer at once', async () => {
    const pods = patientTarget(flakyTarget(unreachable, 1), {
      signal: new AbortController().signal,
      waitMs: 5000,
      log: () => undefined,
      firstPauseMs: 10,
    });
    await expect(pods.runPod({} as never, { signal: new AbortController().signal })).rejects.toBe(
      unreachable,
    );

    const conflict = new ConflictError('the revision changed');
    const inner = flakyTarget(conflict, 1);
    const answers = patientTarget(inner, {
      signal: new AbortController().signal,
      waitMs: 5000,
      log: () => undefined,
      firstPauseMs: 10,
    });
    await expect(
      answers.scaleRevision('ns', 'web-1', 2, { signal: new AbortController().signal }),
    ).rejects.toBe(conflict);
    expect(inner.calls).toEqual(['scaleRevision']);
  });

  it('gives up after its wait, naming the verb and the last error', async () => {
    const target = patientTarget(flakyTarget(unreachable, 1000), {
      signal: new AbortController().signal,
      waitMs: 300,
      log: () => undefined,
      firstPauseMs: 20,
    });
    const started = Date.now();
    const err = (await rejection(
      target.scaleRevision('ns', 'web-1', 2, { signal: new AbortController().signal }),
    )) as Error;
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(err.message).toBe(
      'the docker target did not answer for 0.3 s (scaleRevision: connect ENOENT /run/engine.sock)',
    );
    expect(err.cause).toBe(unreachable);
  });

  it('stops waiting when the rollout is cancelled', async () => {
    const cancel = new AbortController();
    const target = patientTarget(flakyTarget(unreachable, 1000), {
      signal: cancel.signal,
      waitMs: 60_000,
      log: () => undefined,
      firstPauseMs: 50,
    });
    const pending = rejection(target.listRevisions('ns', 'web'));
    setTimeout(() => cancel.abort(new Error('cancelled by the user')), 100);
    const started = Date.now();
    expect(((await pending) as Error).message).toBe('cancelled by the user');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
