/**
 * Refs, commits and env names in webhook payloads are checked before anything acts on
 * them: a commit reaches `git fetch` and `git checkout`, an env name a Dockerfile. A
 * value that breaks the rules of src/core/build-input-rules.ts is a 400 naming the
 * payload field, never a build (docs/hostile-repositories.md).
 */
import { commitProblem, envNameProblem, gitRefProblem, quoteValue } from '../core/build-input-rules.js';
import { reply, type WebhookReply } from './request.js';

/** A 400 for a ref git must not see, or undefined. */
export function refReply(field: string, ref: string): WebhookReply | undefined {
  const problem = gitRefProblem(ref);
  return problem ? reply(400, `the payload's ${field} ${quoteValue(ref)} ${problem}`) : undefined;
}

/** A 400 for a commit that is not 7 to 40 hexadecimal digits, or undefined (an absent commit is fine). */
export function commitReply(field: string, commit: string | undefined): WebhookReply | undefined {
  if (commit === undefined) return undefined;
  const problem = commitProblem(commit);
  return problem ? reply(400, `the payload's ${field} ${quoteValue(commit)} ${problem}`) : undefined;
}

/** The message for an env or build-arg name the API server would refuse, or undefined. */
export function envNameMessage(field: string, name: string): string | undefined {
  const problem = envNameProblem(name);
  return problem ? `the payload's ${field} ${quoteValue(name)} ${problem}` : undefined;
}
