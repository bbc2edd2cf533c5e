/**
 * The plain data that event sources hand to trigger decisions. Receivers in
 * src/webhooks/ turn each forge's payload into these; nothing here knows HTTP.
 */
import type { BuildTriggerCause, EnvVar, SourceRevision } from '../core/build-types.js';

/** Which receiver an event came through; also names the BuildConfig trigger type it needs. */
export type WebhookSource = 'github' | 'gitlab' | 'bitbucket' | 'generic';

/** The BuildConfig trigger `type` for each receiver, as OpenShift spells it. */
export const TRIGGER_TYPE: Record<WebhookSource, 'GitHub' | 'GitLab' | 'Bitbucket' | 'Generic'> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  bitbucket: 'Bitbucket',
  generic: 'Generic',
};

/** One ref a push moved, with the commit it now points at. */
export interface PushedRef {
  /** Full ref (`refs/heads/main`, `refs/tags/v1`); a bare name is taken as a branch. */
  ref: string;
  /** The revision to build: commit, author, committer, message. */
  revision: SourceRevision;
  /** The ref was deleted: there is nothing to build. */
  deleted?: boolean;
}

/** A push, in the terms trigger decisions need, whichever forge sent it. */
export interface PushEvent {
  source: WebhookSource;
  /** Every URL the forge gave for the repository (clone, ssh, git, html); may be empty (generic). */
  repoUrls: string[];
  /** The refs the push moved. Forges send one; a generic caller may send several, and the first that matches wins. */
  refs: PushedRef[];
  /** The repository's default branch, when the payload says (GitHub, GitLab). */
  defaultBranch?: string;
  /**
   * Paths the push added, modified or removed across all its commits; undefined when the
   * payload does not list them all (a truncated commit list), so no paths filter can skip it.
   */
  changedPaths?: string[];
}

/**
 * The part of OpenShift's BuildRequest a trigger fills in. It is a structural subset of
 * the BuildRequest that src/queue/instantiate.ts takes.
 */
export interface TriggeredBuildRequest {
  revision?: SourceRevision;
  triggeredBy: BuildTriggerCause[];
  env?: EnvVar[];
  from?: { kind?: string; name: string; namespace?: string };
  triggeredByImage?: { kind?: string; name?: string };
  dockerStrategyOptions?: { buildArgs?: EnvVar[]; noCache?: boolean };
}

/** Names one namespaced object. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

export function objectKeyString(key: ObjectKey): string {
  return `${key.namespace}/${key.name}`;
}
