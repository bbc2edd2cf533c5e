/**
 * OpenShift's generic webhook payload (openshift/api build/v1 GenericWebHookEvent):
 *
 *   type: Git
 *   git: {uri, ref, commit, author, committer, message, refs: [{ref, commit, …}]}
 *   env: [{name, value}]              # used only when the trigger has allowEnv
 *   dockerStrategyOptions: {buildArgs, noCache}
 *
 * in JSON or YAML; the body is optional.
 */
import type { EnvVar, SourceRevision } from '../core/build-types.js';
import { errorMessage } from '../core/errors.js';
import { MAX_YAML_BYTES, parseJsonText, parseYamlText } from '../core/untrusted-input.js';
import type { PushedRef } from '../triggers/types.js';
import { commitReply, envNameMessage, refReply } from './payload-rules.js';
import { arr, obj, str, type Json } from './request.js';

export interface GenericPayload {
  /** The pushed refs; empty when the payload has no git information. */
  refs: PushedRef[];
  /** `git.uri`, informational (OpenShift does not check it against the BuildConfig). */
  uri?: string;
  /** The payload carried `git` at all. */
  hasGit: boolean;
  env: EnvVar[];
  dockerStrategyOptions?: { buildArgs?: EnvVar[]; noCache?: boolean };
}

export type GenericParse = { ok: true; value: GenericPayload } | { ok: false; message: string };

function revisionOf(source: Json): SourceRevision {
  const git: NonNullable<SourceRevision['git']> = {};
  const commit = str(source.commit);
  if (commit) git.commit = commit;
  for (const role of ['author', 'committer'] as const) {
    const u = obj(source[role]);
    if (!u) continue;
    const who: { name?: string; email?: string } = {};
    if (str(u.name)) who.name = str(u.name)!;
    if (str(u.email)) who.email = str(u.email)!;
    git[role] = who;
  }
  if (str(source.message) !== undefined) git.message = str(source.message)!;
  return { type: 'Git', git };
}

function envList(v: unknown): EnvVar[] {
  return arr(v)
    .map(obj)
    .filter((e): e is Json => !!e && typeof e.name === 'string' && e.name !== '')
    .map((e) => {
      const out: EnvVar = { name: e.name as string };
      if (typeof e.value === 'string') out.value = e.value;
      return out;
    });
}

/** Decodes a generic payload body as JSON or YAML (`yaml` parses JSON too). */
export function parseGenericBody(rawBody: Buffer, mediaType: 'json' | 'yaml'): GenericParse {
  // YAML reads slowly on the event loop: past its limit, a payload is refused unread.
  if (mediaType === 'yaml' && rawBody.length > MAX_YAML_BYTES) {
    return {
      ok: false,
      message: `the YAML payload is larger than the limit of ${MAX_YAML_BYTES} bytes for YAML; send JSON instead`,
    };
  }
  let data: unknown;
  const text = rawBody.toString('utf8');
  // The shared parsers refuse what would hurt the server: nesting past the depth limit,
  // YAML alias bombs and anchors used inside themselves (src/core/untrusted-input.ts).
  try {
    data =
      mediaType === 'json'
        ? parseJsonText(text, { what: 'the payload' })
        : parseYamlText(text, { what: 'the payload' });
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  }
  const p = obj(data);
  if (data !== null && data !== undefined && !p) {
    return { ok: false, message: `the payload must be a ${mediaType.toUpperCase()} object` };
  }
  const git = obj(p?.git);
  const out: GenericPayload = { refs: [], hasGit: git !== undefined, env: envList(p?.env) };
  if (git) {
    const uri = str(git.uri);
    if (uri) out.uri = uri;
    const listed = arr(git.refs).map(obj);
    if (listed.length > 0) {
      for (const r of listed) {
        const ref = str(r?.ref);
        if (r && ref) out.refs.push({ ref, revision: revisionOf(r) });
      }
    } else {
      // A payload without `ref` does not say which branch: it builds the configured one
      // (the receiver fills it in). OpenShift compares "" with the ref and skips instead.
      out.refs.push({ ref: str(git.ref) ?? '', revision: revisionOf(git) });
    }
  }
  const dso = obj(p?.dockerStrategyOptions);
  if (dso) {
    const options: { buildArgs?: EnvVar[]; noCache?: boolean } = {};
    const args = envList(dso.buildArgs);
    if (args.length > 0) options.buildArgs = args;
    if (typeof dso.noCache === 'boolean') options.noCache = dso.noCache;
    out.dockerStrategyOptions = options;
  }
  const problem = payloadProblem(p);
  if (problem) return { ok: false, message: problem };
  return { ok: true, value: out };
}

/**
 * Refs and commits reach git, env and build-arg names a Dockerfile: one that breaks the
 * rules is refused with the field named, whether or not the trigger would use it.
 */
function payloadProblem(p: Json | undefined): string | undefined {
  const names: [string, unknown][] = [
    ['env', p?.env],
    ['dockerStrategyOptions.buildArgs', obj(p?.dockerStrategyOptions)?.buildArgs],
  ];
  for (const [field, list] of names) {
    for (const [i, e] of arr(list).entries()) {
      const name = obj(e)?.name;
      if (typeof name !== 'string' || name === '') continue;
      const message = envNameMessage(`${field}[${i}].name`, name);
      if (message) return message;
    }
  }
  const git = obj(p?.git);
  const listed = arr(git?.refs);
  const sources: [string, Json | undefined][] =
    listed.length > 0 ? listed.map((r, i) => [`git.refs[${i}]`, obj(r)]) : [['git', git]];
  for (const [field, source] of sources) {
    const ref = str(source?.ref);
    const bad =
      (ref ? refReply(`${field}.ref`, ref) : undefined) ??
      commitReply(`${field}.commit`, str(source?.commit) || undefined);
    if (bad) return bad.message;
  }
  return undefined;
}
