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

/**
 * The repository URL fields a push payload has once each, all under `repository` (the
 * owner's and sender's objects have `html_url` and `url` too, these they do not).
 */
const HINT_KEYS = ['clone_url', 'ssh_url', 'git_url'].map((k) => Buffer.from(`"${k}"`));
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function skipSpace(raw: Buffer, i: number): number {
  let at = i;
  while (raw[at] === 0x20 || raw[at] === 0x0a || raw[at] === 0x0d || raw[at] === 0x09) at++;
  return at;
}

/**
 * The pushed repository's URLs read from the raw bytes of a *verified* payload without
 * parsing it: each of `"clone_url"`, `"ssh_url"` and `"git_url"` must appear exactly once,
 * as a key, with a plain string value (no escapes); anything else is undefined, and the
 * caller parses the payload as usual. Parsing a 7.7 KB push costs as much as verifying
 * its signature and recording it together, and most of an org's pushes name a repository
 * no BuildConfig uses: those are answered from these URLs alone (src/webhooks/delivery.ts).
 * A payload that does match is parsed whole and its parsed URLs are the ones routed.
 *
 * Only for signed payloads: a sender holding the secret could hide a repository from
 * this reading (a key spelled with escapes, a decoy in a string), and so fail to start
 * its own builds, nothing more.
 */
export function githubRepositoryHint(raw: Buffer): string[] | undefined {
  const urls: string[] = [];
  for (const key of HINT_KEYS) {
    const at = raw.indexOf(key);
    if (at <= 0 || raw[at - 1] === BACKSLASH || raw.indexOf(key, at + key.length) >= 0) return undefined;
    let i = skipSpace(raw, at + key.length);
    if (raw[i] !== COLON) return undefined;
    i = skipSpace(raw, i + 1);
    if (raw[i] !== QUOTE) return undefined;
    const end = raw.indexOf(QUOTE, i + 1);
    if (end < 0) return undefined;
    const value = raw.toString('utf8', i + 1, end);
    if (value.includes('\\') || value === '') return undefined;
    urls.push(value);
  }
  return urls;
}
