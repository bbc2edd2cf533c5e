/**
 * Commit statuses, posted through @octokit/rest to a local stand-in for GitHub's REST API
 * on 127.0.0.1 (GitHub itself cannot be reached from here).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '../../src/core/resource.js';
import {
  buildLogUrl,
  CommitStatusPublisher,
  forgeHostFor,
  GitHubCommitStatusReporter,
  planCommitStatus,
  type StatusLogger,
} from '../../src/triggers/commit-status.js';
import { freePort } from '../support/stack.js';

interface Received {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** A stand-in for GitHub Enterprise's REST API: records statuses, or fails as told. */
class GitHubApiStandIn {
  received: Received[] = [];
  failWith: number | undefined;
  hang = false;
  private server: Server = createServer((req, res) => void this.handle(req, res));
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/api/v3`;
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.hang) return; // never answers
    const body = chunks.length
      ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>)
      : {};
    this.received.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body,
    });
    if (this.failWith) {
      res
        .writeHead(this.failWith, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: 'Bad credentials' }));
      return;
    }
    const m = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: 'Not Found' }));
      return;
    }
    res
      .writeHead(201, { 'content-type': 'application/json' })
      .end(JSON.stringify({ id: this.received.length, ...body }));
  }
}

function logger(): StatusLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (_o, msg) => void warnings.push(msg), debug: () => undefined };
}

const SHA = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';

function build(phase: string, uri = 'https://127.0.0.1/Octo/App.git', commit: string | null = SHA): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: 'web-3', namespace: 'team', annotations: { 'openshift.io/build-config.name': 'web' } },
    spec: {
      source: { type: 'Git', git: { uri } },
      strategy: { type: 'Docker' },
      ...(commit ? { revision: { type: 'Git', git: { commit } } } : {}),
    },
    status: { phase },
  };
}

let api: GitHubApiStandIn;
beforeAll(async () => {
  api = new GitHubApiStandIn();
  await api.start();
});
afterAll(async () => {
  await api.stop();
});

describe('GitHubCommitStatusReporter against a GitHub API stand-in', () => {
  it('posts pending, then success, with a link to the build log and the token', async () => {
    api.received = [];
    api.failWith = undefined;
    const log = logger();
    // The stand-in serves "GitHub Enterprise" at 127.0.0.1:PORT/api/v3; repositories live on 127.0.0.1:PORT.
    const host = `127.0.0.1:${api.port}`;
    const reporter = new GitHubCommitStatusReporter({
      apiBaseUrl: api.baseUrl,
      token: 'ghp_test',
      publicUrl: 'http://127.0.0.1:8080/',
      logger: log,
    });
    const uri = `https://${host}/Octo/App.git`;
    expect(await reporter.report(build('Running', uri))).toMatchObject({ reported: true });
    expect(await reporter.report(build('Complete', uri))).toMatchObject({ reported: true });
    expect(await reporter.report(build('Failed', uri))).toMatchObject({ reported: true });
    expect(api.received.map((r) => [r.method, r.url, r.body.state])).toEqual([
      ['POST', `/api/v3/repos/octo/app/statuses/${SHA}`, 'pending'],
      ['POST', `/api/v3/repos/octo/app/statuses/${SHA}`, 'success'],
      ['POST', `/api/v3/repos/octo/app/statuses/${SHA}`, 'failure'],
    ]);
    expect(api.received[0]!.authorization).toBe('token ghp_test');
    expect(api.received[1]!.body).toEqual({
      state: 'success',
      description: 'Build succeeded: web-3',
      context: 'slipway/team/web',
      target_url: 'http://127.0.0.1:8080/ui/namespaces/team/builds/web-3/log',
    });
    expect(log.warnings).toEqual([]);
  });

  it('never throws when GitHub refuses, hangs or is unreachable; it logs why', async () => {
    const host = `127.0.0.1:${api.port}`;
    const uri = `https://${host}/octo/app`;
    const log = logger();
    api.failWith = 401;
    const reporter = new GitHubCommitStatusReporter({
      apiBaseUrl: api.baseUrl,
      token: 'bad',
      logger: log,
      timeoutMs: 500,
    });
    const refused = await reporter.report(build('Complete', uri));
    expect(refused).toMatchObject({ reported: false });
    expect(!refused.reported && refused.reason).toContain('HTTP 401');

    api.failWith = undefined;
    api.hang = true;
    const started = Date.now();
    const hung = await reporter.report(build('Complete', uri));
    expect(hung.reported).toBe(false);
    expect(Date.now() - started).toBeLessThan(5000);
    api.hang = false;

    const closedPort = await freePort();
    const down = new GitHubCommitStatusReporter({
      apiBaseUrl: `http://127.0.0.1:${closedPort}/api/v3`,
      token: 't',
      logger: log,
    });
    const unreachable = await down.report(build('Complete', `https://127.0.0.1:${closedPort}/octo/app`));
    expect(unreachable.reported).toBe(false);
    expect(!unreachable.reported && unreachable.reason).toContain('ECONNREFUSED');
    expect(log.warnings).toHaveLength(3);
  });

  it('posts nothing without a token for the repository, for other hosts, or without a commit', async () => {
    api.received = [];
    const host = `127.0.0.1:${api.port}`;
    const tokens = async (repo: { owner: string; repo: string }): Promise<string | undefined> =>
      repo.owner === 'octo' ? 'per-repo-token' : undefined;
    const reporter = new GitHubCommitStatusReporter({
      apiBaseUrl: api.baseUrl,
      token: tokens,
      logger: logger(),
    });
    expect(await reporter.report(build('Running', `https://${host}/stranger/app`))).toMatchObject({
      reported: false,
      reason: 'no GitHub token is configured for stranger/app',
    });
    expect((await reporter.report(build('Running', 'https://gitlab.com/octo/app'))).reported).toBe(false);
    expect((await reporter.report(build('Running', `https://${host}/octo/app`, null))).reported).toBe(false);
    expect(api.received).toHaveLength(0);
    expect((await reporter.report(build('Running', `https://${host}/octo/app`))).reported).toBe(true);
    expect(api.received[0]!.authorization).toBe('token per-repo-token');
  });
});

describe('planCommitStatus', () => {
  it('maps phases to GitHub states and github.com to api.github.com', () => {
    expect(forgeHostFor('https://api.github.com')).toBe('github.com');
    expect(forgeHostFor('https://ghe.example.com/api/v3')).toBe('ghe.example.com');
    const states = ['New', 'Pending', 'Running', 'Complete', 'Failed', 'Error', 'Cancelled'].map((phase) => {
      const plan = planCommitStatus({
        build: build(phase, 'git@github.com:octo/app.git'),
        apiBaseUrl: 'https://api.github.com',
      });
      return plan.report ? plan.status.state : plan.reason;
    });
    expect(states).toEqual(['pending', 'pending', 'pending', 'success', 'failure', 'error', 'error']);
    expect(buildLogUrl('https://slipway.example.com', { metadata: { name: 'a b', namespace: 'n' } })).toBe(
      'https://slipway.example.com/ui/namespaces/n/builds/a%20b/log',
    );
  });
});

describe('CommitStatusPublisher', () => {
  const build = (phase: string, commit = 'a'.repeat(40)): Resource => ({
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: 'web-1', namespace: 'team' },
    spec: { revision: { git: { commit } } },
    status: { phase },
  });

  it('reports one build in phase order without making the caller wait, and skips repeats', async () => {
    const sent: string[] = [];
    const releases: (() => void)[] = [];
    const reporter = {
      // Each report hangs until released: a slow GitHub.
      report: (b: Resource) =>
        new Promise<{ reported: false; reason: string }>((resolve) => {
          sent.push((b.status as { phase: string }).phase);
          releases.push(() => resolve({ reported: false, reason: 'test' }));
        }),
    };
    const publisher = new CommitStatusPublisher(reporter);
    publisher.publish(build('Pending'));
    publisher.publish(build('Running'));
    publisher.publish(build('Running')); // a status write that changed no phase
    publisher.publish(build('Complete'));
    // Every call returned at once; after a turn of the event loop only the first report is in flight.
    expect(sent).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual(['Pending']);
    for (let i = 0; i < 3; i++) {
      releases[i]!();
      await new Promise((r) => setImmediate(r));
    }
    await publisher.idle();
    expect(sent).toEqual(['Pending', 'Running', 'Complete']);
  });
});
