/**
 * Helpers for webhook tests: real GitHub payloads from @octokit/webhooks-examples, signed
 * with @octokit/webhooks' real `sign()`, posted over HTTP to a running Slipway; the
 * shared fixtures of GitLab, Bitbucket and generic hooks; and a local stand-in for
 * GitHub's REST API (GitHub itself cannot be reached from these machines).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Webhooks } from '@octokit/webhooks';
import { gitHttpBackend, makeCommitter, tempDir, type GitServer } from './stack.js';

export interface ExampleGroup {
  name: string;
  examples: Record<string, any>[];
}

const require = createRequire(import.meta.url);
export const githubExamples = require('@octokit/webhooks-examples') as ExampleGroup[];

export function examplesOf(event: string): Record<string, any>[] {
  const group = githubExamples.find((g) => g.name === event);
  if (!group) throw new Error(`@octokit/webhooks-examples has no "${event}" examples`);
  return group.examples;
}

/** `X-Hub-Signature-256` for a body, as GitHub computes it. */
export async function sign(secret: string, body: string): Promise<string> {
  return new Webhooks({ secret }).sign(body);
}

/** The fixtures in ../shared/fixtures/webhooks (openshift/origin's test payloads). */
export function fixture(name: string): string {
  const dir =
    process.env.SLIPWAY_WEBHOOK_FIXTURES ?? join(process.cwd(), '..', 'shared', 'fixtures', 'webhooks');
  return readFileSync(join(dir, name), 'utf8');
}

export interface HookResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** POSTs (or another method) to a webhook URL; the body is sent as given. */
export async function post(
  url: string,
  body: string | Buffer | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<HookResponse> {
  const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** GitHub's headers for a delivery of `event` with `body`, signed when `secret` is given. */
export async function githubHeaders(
  event: string,
  body: string,
  secret?: string,
  delivery: string = randomUUID(),
): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'user-agent': 'GitHub-Hookshot/test',
  };
  if (secret) headers['x-hub-signature-256'] = await sign(secret, body);
  return headers;
}

/**
 * A GitHub push payload for a repository Slipway can clone: the shape of the
 * webhooks-examples master push, with the repository URLs, ref, commit and changed
 * files replaced. `created: false` by default: an update of an existing branch, whose
 * changed paths the paths filter can trust.
 */
export function pushPayload(options: {
  cloneUrl: string;
  ref: string;
  after: string;
  changed?: string[];
  created?: boolean;
  message?: string;
}): Record<string, any> {
  const template = examplesOf('push').find((p) => p.ref === 'refs/heads/master' && p.created)!;
  const commit = {
    ...template.head_commit,
    id: options.after,
    tree_id: options.after,
    message: options.message ?? `change ${options.after.slice(0, 7)}`,
    added: [],
    removed: [],
    modified: options.changed ?? ['README.md'],
  };
  return {
    ...template,
    ref: options.ref,
    before: '0'.repeat(40),
    after: options.after,
    created: options.created ?? false,
    deleted: false,
    commits: [commit],
    head_commit: commit,
    repository: {
      ...template.repository,
      clone_url: options.cloneUrl,
      git_url: options.cloneUrl,
      ssh_url: options.cloneUrl,
      html_url: options.cloneUrl.replace(/\.git$/, ''),
      default_branch: 'main',
    },
  };
}

/** One commit status as GitHub's REST API received it. */
export interface ReceivedStatus {
  owner: string;
  repo: string;
  sha: string;
  authorization: string | undefined;
  body: { state: string; description?: string; context?: string; target_url?: string };
}

/**
 * A stand-in for GitHub Enterprise on one loopback port: its REST API's commit-status
 * endpoint under `/api/v3` (recorded, answered as GitHub answers) and the repositories
 * over smart HTTP, so builds clone from the same host the statuses go to.
 */
export interface GitHubStandIn extends GitServer {
  apiUrl: string;
  statuses: ReceivedStatus[];
  /** Commits of status posts refused with `failWith`. */
  refused: string[];
  /** Answer status posts with this HTTP code instead of 201 (GitHub failing). */
  failWith: number | undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startGitHubStandIn(): Promise<GitHubStandIn> {
  const root = tempDir('slipway-github-stand-in-');
  const statuses: ReceivedStatus[] = [];
  const refused: string[] = [];
  const handle = { failWith: undefined as number | undefined };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]+)$/.exec(url.pathname);
    if (!m) {
      if (url.pathname.startsWith('/api/')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      gitHttpBackend(root, req, res);
      return;
    }
    void readBody(req).then((text) => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      if (handle.failWith) {
        refused.push(m[3]!);
        res
          .writeHead(handle.failWith, { 'content-type': 'application/json' })
          .end('{"message":"stand-in failure"}');
        return;
      }
      const body = JSON.parse(text) as ReceivedStatus['body'];
      statuses.push({
        owner: m[1]!,
        repo: m[2]!,
        sha: m[3]!,
        authorization: req.headers.authorization,
        body,
      });
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: statuses.length, state: body.state, context: body.context }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : 0;
  const standIn: GitHubStandIn = {
    root,
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
    statuses,
    refused,
    get failWith() {
      return handle.failWith;
    },
    set failWith(v: number | undefined) {
      handle.failWith = v;
    },
    commit: makeCommitter(root),
    url: (name) => `http://127.0.0.1:${port}/${name}.git`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  return standIn;
}
