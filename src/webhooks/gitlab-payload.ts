/**
 * GitLab `Push Hook` / `Tag Push Hook` payloads → PushEvent
 * (https://docs.gitlab.com/user/project/integrations/webhook_events/#push-events).
 */
import type { SourceRevision } from '../core/build-types.js';
import type { PushEvent } from '../triggers/types.js';
import { changedPathsOf, ZERO_SHA } from './github-payload.js';
import { commitReply, refReply } from './payload-rules.js';
import { arr, obj, reply, str, type Json, type Parsed } from './request.js';

export function gitlabRepoUrls(payload: Json): string[] {
  const project = obj(payload.project);
  const repository = obj(payload.repository);
  const urls: (string | undefined)[] = [
    str(project?.git_http_url),
    str(project?.git_ssh_url),
    str(project?.web_url),
    str(project?.http_url),
    str(project?.ssh_url),
    str(repository?.git_http_url),
    str(repository?.git_ssh_url),
    str(repository?.homepage),
    str(repository?.url),
  ];
  return [...new Set(urls.filter((u): u is string => !!u))];
}

export function parseGitLabPush(payload: unknown): Parsed<PushEvent> {
  const p = obj(payload);
  const ref = str(p?.ref);
  if (!p || !ref) return { ok: false, reply: reply(400, 'the push payload has no "ref"') };
  const after = str(p.checkout_sha) ?? str(p.after);
  const commits = arr(p.commits).map(obj);
  const bad =
    refReply('"ref"', ref) ??
    commitReply('"checkout_sha"', str(p.checkout_sha)) ??
    commitReply('"after"', str(p.after)) ??
    commits.map((c, i) => commitReply(`"commits[${i}].id"`, str(c?.id))).find((r) => r !== undefined);
  if (bad) return { ok: false, reply: bad };
  // GitLab lists commits oldest first and names the new head in `after`/`checkout_sha`.
  // (OpenShift takes commits[0], which is the oldest; Slipway takes the head.)
  const head = commits.find((c) => c && str(c.id) === after) ?? commits[commits.length - 1];
  const git: NonNullable<SourceRevision['git']> = {};
  const commit = str(head?.id) ?? after;
  if (commit) git.commit = commit;
  if (head) {
    const author = obj(head.author);
    const who: { name?: string; email?: string } = {};
    if (str(author?.name) !== undefined) who.name = str(author?.name)!;
    if (str(author?.email) !== undefined) who.email = str(author?.email)!;
    // GitLab has no separate committer; OpenShift records the author as both.
    git.author = who;
    git.committer = { ...who };
    if (str(head.message) !== undefined) git.message = str(head.message)!;
  }
  const push: PushEvent = {
    source: 'gitlab',
    repoUrls: gitlabRepoUrls(p),
    refs: [{ ref, revision: { type: 'Git', git }, deleted: str(p.after) === ZERO_SHA }],
  };
  const defaultBranch = str(obj(p.project)?.default_branch);
  if (defaultBranch) push.defaultBranch = defaultBranch;
  // GitLab sends at most 20 commits and counts them all in total_commits_count.
  const total = typeof p.total_commits_count === 'number' ? p.total_commits_count : commits.length;
  const changed = changedPathsOf(arr(p.commits), total <= commits.length);
  if (changed !== undefined) push.changedPaths = changed;
  return { ok: true, value: push };
}
