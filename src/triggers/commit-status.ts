/**
 * Build state back to GitHub as a commit status (pending → success / failure / error),
 * linking to the build's log in Slipway's UI.
 *
 * Why here and not in src/webhooks/: webhooks are inbound HTTP receivers and never act;
 * this is the outbound half of the same forge conversation, driven by build phase
 * changes. Its decisions (which state a phase is, which repository and commit, whether
 * this forge host is ours) are pure functions over the Build, like the rest of
 * src/triggers/, and the Octokit call is a thin adapter that logs and never throws:
 * failing to report must never fail a build.
 */
import { Octokit } from '@octokit/rest';
import type { BuildPhase, BuildSpec } from '../core/build-types.js';
import { errorMessage } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import { repositoryCoordinates, type RepositoryCoordinates } from './git-uri.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

/** GitHub's four states for a Build phase. A cancelled build is an `error`: it neither passed nor failed. */
export const COMMIT_STATE_FOR_PHASE: Record<BuildPhase, CommitState> = {
  New: 'pending',
  Pending: 'pending',
  Running: 'pending',
  Complete: 'success',
  Failed: 'failure',
  Error: 'error',
  Cancelled: 'error',
};

const DESCRIPTION: Record<BuildPhase, string> = {
  New: 'Build queued',
  Pending: 'Build queued',
  Running: 'Build running',
  Complete: 'Build succeeded',
  Failed: 'Build failed',
  Error: 'Build could not run',
  Cancelled: 'Build cancelled',
};

export const GITHUB_API_URL = 'https://api.github.com';

/** The git host a GitHub API serves: github.com for api.github.com, the Enterprise host for `https://ghe/api/v3`. */
export function forgeHostFor(apiBaseUrl: string): string {
  const url = new URL(apiBaseUrl);
  const host = url.host.toLowerCase();
  return host === 'api.github.com' ? 'github.com' : host;
}

export interface CommitStatus {
  owner: string;
  repo: string;
  sha: string;
  state: CommitState;
  description: string;
  context: string;
  target_url?: string;
}

export type CommitStatusPlan = { report: true; status: CommitStatus } | { report: false; reason: string };

/**
 * The commit status a Build's current phase should show, or why it has none: the
 * source is not on this GitHub host, or no commit is known yet. `context` is
 * `slipway/{namespace}/{buildconfig}` so several BuildConfigs of one repository each
 * keep their own line on the commit.
 */
export function planCommitStatus(input: {
  build: Resource;
  /** `https://api.github.com` or the Enterprise `https://HOST/api/v3`. */
  apiBaseUrl: string;
  /** The link shown beside the status; omitted when undefined. */
  targetUrl?: string | undefined;
}): CommitStatusPlan {
  const { build } = input;
  const spec = build.spec as Partial<BuildSpec> | undefined;
  const uri = spec?.source?.git?.uri;
  if (!uri) return { report: false, reason: 'the build has no git source' };
  const repo = repositoryCoordinates(uri);
  const host = forgeHostFor(input.apiBaseUrl);
  if (!repo || repo.host !== host) return { report: false, reason: `${uri} is not a repository on ${host}` };
  const sha = spec?.revision?.git?.commit;
  if (!sha || !/^[0-9a-f]{7,64}$/i.test(sha)) return { report: false, reason: 'the build has no commit yet' };
  const phase = ((build.status as { phase?: BuildPhase } | undefined)?.phase ?? 'New') as BuildPhase;
  const namespace = build.metadata.namespace ?? 'default';
  const config =
    build.metadata.annotations?.['openshift.io/build-config.name'] ??
    build.metadata.labels?.['openshift.io/build-config.name'] ??
    build.metadata.name;
  const status: CommitStatus = {
    owner: repo.owner,
    repo: repo.repo,
    sha,
    state: COMMIT_STATE_FOR_PHASE[phase],
    // GitHub rejects descriptions over 140 characters.
    description: `${DESCRIPTION[phase]}: ${build.metadata.name}`.slice(0, 140),
    context: `slipway/${namespace}/${config}`,
  };
  if (input.targetUrl) status.target_url = input.targetUrl;
  return { report: true, status };
}

/** The UI page of a build's log: `{publicUrl}/ui/namespaces/{ns}/builds/{name}/log`. */
export function buildLogUrl(publicUrl: string, build: Pick<Resource, 'metadata'>): string {
  const base = publicUrl.replace(/\/+$/, '');
  const ns = encodeURIComponent(build.metadata.namespace ?? 'default');
  return `${base}/ui/namespaces/${ns}/builds/${encodeURIComponent(build.metadata.name)}/log`;
}

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)`: the messages and codes down an error's causes. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const { message, code } = e as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && message !== '' && message !== 'Unknown Error') {
      parts.push(typeof code === 'string' ? `${message} (${code})` : message);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return parts.length > 0 ? parts.join(': ') : errorMessage(err);
}

export interface StatusLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface CommitStatusReporterOptions {
  /** GitHub API base URL; `https://HOST/api/v3` for GitHub Enterprise Server. */
  apiBaseUrl?: string;
  /** The token for a repository, or undefined when none is configured (then nothing is posted). */
  token: string | ((repo: RepositoryCoordinates) => Promise<string | undefined> | string | undefined);
  /** Slipway's public URL, for links to build logs. */
  publicUrl?: string | undefined;
  /** Overrides the log link. */
  targetUrl?: (build: Resource) => string | undefined;
  logger: StatusLogger;
  /** A report that takes longer is abandoned: a slow GitHub must not hold a worker. */
  timeoutMs?: number;
  userAgent?: string;
}

export type ReportOutcome =
  { reported: true; status: CommitStatus } | { reported: false; reason: string; status?: CommitStatus };

/**
 * Posts commit statuses. `report(build)` after every phase change of a build; it
 * resolves with what happened and never rejects.
 */
export class GitHubCommitStatusReporter {
  private readonly apiBaseUrl: string;
  private readonly clients = new Map<string, Octokit>();

  constructor(private readonly options: CommitStatusReporterOptions) {
    this.apiBaseUrl = (options.apiBaseUrl ?? GITHUB_API_URL).replace(/\/+$/, '');
    forgeHostFor(this.apiBaseUrl); // a malformed URL fails at start-up, not at the first build
  }

  private client(token: string): Octokit {
    let client = this.clients.get(token);
    if (!client) {
      const { logger } = this.options;
      client = new Octokit({
        auth: token,
        baseUrl: this.apiBaseUrl,
        userAgent: this.options.userAgent ?? 'slipway',
        log: {
          debug: (msg: string) => logger.debug({}, msg),
          info: (msg: string) => logger.debug({}, msg),
          warn: (msg: string) => logger.warn({}, msg),
          // Octokit logs each failed request as an error; report() logs one warning with the cause.
          error: (msg: string) => logger.debug({}, msg),
        },
      });
      if (this.clients.size > 100) this.clients.clear();
      this.clients.set(token, client);
    }
    return client;
  }

  async report(build: Resource): Promise<ReportOutcome> {
    const { logger } = this.options;
    const buildRef = { namespace: build.metadata.namespace, build: build.metadata.name };
    try {
      const targetUrl = this.options.targetUrl
        ? this.options.targetUrl(build)
        : this.options.publicUrl
          ? buildLogUrl(this.options.publicUrl, build)
          : undefined;
      const plan = planCommitStatus({ build, apiBaseUrl: this.apiBaseUrl, targetUrl });
      if (!plan.report) {
        logger.debug({ ...buildRef, reason: plan.reason }, 'no commit status to report');
        return { reported: false, reason: plan.reason };
      }
      const { status } = plan;
      const coords = { host: forgeHostFor(this.apiBaseUrl), owner: status.owner, repo: status.repo };
      const token =
        typeof this.options.token === 'function' ? await this.options.token(coords) : this.options.token;
      if (!token) {
        const reason = `no GitHub token is configured for ${status.owner}/${status.repo}`;
        logger.debug({ ...buildRef, reason }, 'no commit status to report');
        return { reported: false, reason, status };
      }
      await this.client(token).rest.repos.createCommitStatus({
        ...status,
        request: { signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) },
      });
      return { reported: true, status };
    } catch (err) {
      const httpStatus = (err as { status?: number }).status;
      // Octokit reports a request that got no answer (refused, timed out) as a 500 with
      // the fetch error as its cause: say that, not "HTTP 500".
      const noAnswer = (err as { cause?: unknown }).cause !== undefined;
      const reason = noAnswer
        ? `could not reach ${this.apiBaseUrl} to post the commit status: ${causeChain(err)}`
        : `could not post the commit status${httpStatus ? ` (HTTP ${httpStatus})` : ''}: ${errorMessage(err)}`;
      logger.warn({ ...buildRef, err: errorMessage(err), httpStatus }, reason);
      return { reported: false, reason };
    }
  }
}

/**
 * Feeds build phase changes to a reporter without holding the build: each call returns
 * at once, reports of one build are sent one after another in phase order (so a late
 * `pending` never lands after `success`), and a phase already reported for the same
 * commit is not posted again (the runner also tells of status writes that change no
 * phase).
 */
export class CommitStatusPublisher {
  private readonly builds = new Map<string, { tail: Promise<unknown>; last?: string }>();

  constructor(private readonly reporter: Pick<GitHubCommitStatusReporter, 'report'>) {}

  publish(build: Resource): void {
    const key = `${build.metadata.namespace ?? 'default'}/${build.metadata.name}`;
    const phase = ((build.status as { phase?: BuildPhase } | undefined)?.phase ?? 'New') as BuildPhase;
    const commit = (build.spec as Partial<BuildSpec> | undefined)?.revision?.git?.commit ?? '';
    const seen = `${commit}|${phase}`;
    const entry = this.builds.get(key) ?? { tail: Promise.resolve() };
    if (entry.last === seen) return;
    entry.last = seen;
    const ended = COMMIT_STATE_FOR_PHASE[phase] !== 'pending';
    const tail = entry.tail.then(() => this.reporter.report(build));
    entry.tail = tail;
    this.builds.set(key, entry);
    if (ended) {
      void tail.then(() => {
        if (this.builds.get(key)?.tail === tail) this.builds.delete(key);
      });
    }
  }

  /** Resolves when every report handed over so far has been sent (worker shutdown, tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.builds.values()].map((e) => e.tail));
  }
}
