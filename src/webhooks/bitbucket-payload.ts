/**
 * Bitbucket payloads → PushEvent: Bitbucket Cloud `repo:push`
 * (https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/#Push) and
 * Bitbucket Server / Data Center `repo:refs_changed`
 * (https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html).
 * Neither lists changed files, so a paths filter never skips a Bitbucket push.
 */
import type { SourceRevision } from '../core/build-types.js';
import type { PushedRef, PushEvent } from '../triggers/types.js';
import { commitReply, refReply } from './payload-rules.js';
import { arr, obj, reply, str, type Json, type Parsed } from './request.js';

/** `Jane Doe <jane@example.com>` → name and email. */
export function parseRawAuthor(raw: string | undefined): { name?: string; email?: string } {
  if (!raw) return {};
  const m = /^(.*?)\s*<([^>]*)>\s*$/.exec(raw);
  if (!m) return { name: raw.trim() };
  const out: { name?: string; email?: string } = {};
  if (m[1]) out.name = m[1];
  if (m[2]) out.email = m[2];
  return out;
}

function cloudRef(side: Json | undefined): string | undefined {
  const name = str(side?.name);
  if (!name) return undefined;
  return str(side?.type) === 'tag' ? `refs/tags/${name}` : `refs/heads/${name}`;
}

/** Bitbucket Cloud `repo:push`: one PushedRef per change; a change whose `new` is null is a deletion. */
export function parseBitbucketCloudPush(payload: unknown): Parsed<PushEvent> {
  const p = obj(payload);
  const changes = arr(obj(p?.push)?.changes).map(obj);
  if (!p || changes.length === 0) {
    return { ok: false, reply: reply(400, 'the repo:push payload has no push.changes') };
  }
  const refs: PushedRef[] = [];
  for (const change of changes) {
    const next = obj(change?.new);
    const old = obj(change?.old);
    const ref = cloudRef(next) ?? cloudRef(old);
    if (!ref) continue;
    const target = obj(next?.target);
    const git: NonNullable<SourceRevision['git']> = {};
    const hash = str(target?.hash);
    const bad =
      refReply('"push.changes[].new.name"', ref) ?? commitReply('"push.changes[].new.target.hash"', hash);
    if (bad) return { ok: false, reply: bad };
    if (hash) git.commit = hash;
    if (target) {
      const author = obj(target.author);
      const who = parseRawAuthor(str(author?.raw));
      const display = str(obj(author?.user)?.display_name);
      if (!who.name && display) who.name = display;
      git.author = who;
      git.committer = { ...who };
      if (str(target.message) !== undefined) git.message = str(target.message)!;
    }
    refs.push({ ref, revision: { type: 'Git', git }, deleted: next === undefined });
  }
  if (refs.length === 0)
    return { ok: false, reply: reply(400, 'the repo:push payload names no branch or tag') };
  const repository = obj(p.repository);
  const fullName = str(repository?.full_name);
  const urls = [str(obj(obj(repository?.links)?.html)?.href)];
  // Cloud payloads carry only the web URL; the clone URLs follow from full_name.
  if (fullName) urls.push(`https://bitbucket.org/${fullName}.git`, `git@bitbucket.org:${fullName}.git`);
  return { ok: true, value: { source: 'bitbucket', repoUrls: urls.filter((u): u is string => !!u), refs } };
}

/** Bitbucket Server `repo:refs_changed`: one PushedRef per change; `DELETE` changes are deletions. */
export function parseBitbucketServerRefsChanged(payload: unknown): Parsed<PushEvent> {
  const p = obj(payload);
  const changes = arr(p?.changes).map(obj);
  if (!p || changes.length === 0) {
    return { ok: false, reply: reply(400, 'the repo:refs_changed payload has no changes') };
  }
  const refs: PushedRef[] = [];
  for (const change of changes) {
    const r = obj(change?.ref);
    const id = str(r?.id) ?? str(change?.refId);
    const display = str(r?.displayId);
    const ref =
      id ??
      (display ? (str(r?.type) === 'TAG' ? `refs/tags/${display}` : `refs/heads/${display}`) : undefined);
    if (!ref) continue;
    const git: NonNullable<SourceRevision['git']> = {};
    const toHash = str(change?.toHash);
    const bad = refReply('"changes[].ref.id"', ref) ?? commitReply('"changes[].toHash"', toHash);
    if (bad) return { ok: false, reply: bad };
    if (toHash && !/^0+$/.test(toHash)) git.commit = toHash;
    refs.push({ ref, revision: { type: 'Git', git }, deleted: str(change?.type) === 'DELETE' });
  }
  if (refs.length === 0)
    return { ok: false, reply: reply(400, 'the repo:refs_changed payload names no ref') };
  const links = obj(obj(p.repository)?.links);
  const urls = arr(links?.clone)
    .map((l) => str(obj(l)?.href))
    .filter((u): u is string => !!u);
  return { ok: true, value: { source: 'bitbucket', repoUrls: urls, refs } };
}
