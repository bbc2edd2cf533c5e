/**
 * GitHub `push` payloads → PushEvent. Field meanings:
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads#push
 */
import type { SourceRevision } from '../core/build-types.js';
import type { PushEvent } from '../triggers/types.js';
import { commitReply, refReply } from './payload-rules.js';
import { arr, obj, reply, str, strings, type Json, type Parsed } from './request.js';

export const ZERO_SHA = '0000000000000000000000000000000000000000';

/** GitHub lists at most this many commits in a push payload; a longer push is cut. */
export const GITHUB_MAX_PAYLOAD_COMMITS = 2048;

function user(v: unknown): { name?: string; email?: string } {
  const u = obj(v);
  const out: { name?: string; email?: string } = {};
  const name = str(u?.name);
  const email = str(u?.email);
  if (name !== undefined) out.name = name;
  if (email !== undefined) out.email = email;
  return out;
}

/** OpenShift's revision for a GitHub push: the head commit's id, author, committer and message. */
export function revisionFromCommit(
  commit: Json | undefined,
  fallbackSha: string | undefined,
): SourceRevision {
  const git: NonNullable<SourceRevision['git']> = {};
  const id = str(commit?.id) ?? fallbackSha;
  if (id) git.commit = id;
  if (commit) {
    git.author = user(commit.author);
    git.committer = user(commit.committer ?? commit.author);
    const message = str(commit.message);
    if (message !== undefined) git.message = message;
  }
  return { type: 'Git', git };
}

/** Every path the commits added, modified or removed, or undefined when the list may be incomplete. */
export function changedPathsOf(commits: unknown[], complete: boolean): string[] | undefined {
  if (commits.length === 0 || !complete) return undefined;
  const paths = new Set<string>();
  for (const c of commits.map(obj)) {
    if (!c || !('added' in c || 'modified' in c || 'removed' in c)) return undefined;
    for (const p of [...strings(c.added), ...strings(c.modified), ...strings(c.removed)]) paths.add(p);
  }
  return [...paths];
}

/** The URLs GitHub gives for a repository: clone (https), ssh, git://, and the web page. */
export function githubRepoUrls(repository: Json | undefined): string[] {
  if (!repository) return [];
  return ['clone_url', 'ssh_url', 'git_url', 'html_url', 'url']
    .map((k) => str(repository[k]))
    .filter((u): u is string => u !== undefined && u !== '');
}

export interface GitHubPush {
  push: PushEvent;
  /** `owner/repo`. */
  repository: string;
  after: string | undefined;
}

/** A parsed `push` payload; a payload without a ref or repository is a 400. */
export function parseGitHubPush(payload: unknown): Parsed<GitHubPush> {
  const p = obj(payload);
  const ref = str(p?.ref);
  if (!p || !ref) return { ok: false, reply: reply(400, 'the push payload has no "ref"') };
  const repository = obj(p.repository);
  const after = str(p.after);
  const deleted = p.deleted === true || after === ZERO_SHA;
  const head = obj(p.head_commit);
  // The ref is matched against the BuildConfig, the commit reaches git: both checked first.
  const bad =
    refReply('"ref"', ref) ?? commitReply('"after"', after) ?? commitReply('"head_commit.id"', str(head?.id));
  if (bad) return { ok: false, reply: bad };
  const commits = arr(p.commits);
  const push: PushEvent = {
    source: 'github',
    repoUrls: githubRepoUrls(repository),
    refs: [{ ref, revision: revisionFromCommit(head, after), deleted }],
  };
  // Push payloads name the default branch twice; `master_branch` is the older field.
  const defaultBranch = str(repository?.default_branch) ?? str(repository?.master_branch);
  if (defaultBranch) push.defaultBranch = defaultBranch;
  // A new branch whose commits are already elsewhere lists none, and a cut list is not
  // the whole push: in both cases the changed paths are unknown, not empty.
  const complete = p.created !== true && commits.length > 0 && commits.length < GITHUB_MAX_PAYLOAD_COMMITS;
  const changed = changedPathsOf(commits, complete);
  if (changed !== undefined) push.changedPaths = changed;
  return { ok: true, value: { push, repository: str(repository?.full_name) ?? '', after } };
}
