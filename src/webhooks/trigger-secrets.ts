/**
 * Which trigger a URL secret opens. OpenShift checks the secret against every trigger
 * of the hook's type, inline `secret` first, then `secretReference` → the Secret's
 * `WebHookSecretKey` (openshift-apiserver webhook.CheckSecret).
 */
import type { WebHookTrigger } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import { secretValue } from '../core/secret-types.js';
import { secretsEqual } from './signatures.js';

/** The Secret data key that holds a webhook secret (openshift/api build/v1 WebHookSecretKey). */
export const WEBHOOK_SECRET_KEY = 'WebHookSecretKey';

export type GetSecret = (namespace: string, name: string) => Promise<Resource | undefined>;

/** A Secret's `WebHookSecretKey`, from `data` (base64) or, if the store kept it, `stringData`. */
export function webhookSecretOf(secret: Resource | undefined): string | undefined {
  if (!secret) return undefined;
  const body = secret as unknown as {
    data?: Record<string, string> | null;
    stringData?: Record<string, string> | null;
  };
  return (
    secretValue({ data: body.data ?? null }, WEBHOOK_SECRET_KEY) ??
    body.stringData?.[WEBHOOK_SECRET_KEY] ??
    undefined
  );
}

export interface MatchedTrigger {
  trigger: WebHookTrigger;
  /** The secret that matched: signatures and tokens are checked against it. */
  secret: string;
}

/**
 * Finds the trigger whose secret equals the one in the URL. Every candidate is compared
 * (no early exit), each in constant time, so response time does not tell which trigger
 * or how much of a secret matched. Undefined when none does.
 */
export async function matchTriggerSecret(input: {
  namespace: string;
  urlSecret: string;
  triggers: readonly WebHookTrigger[];
  getSecret: GetSecret;
}): Promise<MatchedTrigger | undefined> {
  let found: MatchedTrigger | undefined;
  for (const trigger of input.triggers) {
    const candidates: string[] = [];
    if (trigger.secret) candidates.push(trigger.secret);
    if (trigger.secretReference?.name) {
      const value = webhookSecretOf(await input.getSecret(input.namespace, trigger.secretReference.name));
      if (value) candidates.push(value);
    }
    for (const candidate of candidates) {
      if (secretsEqual(candidate, input.urlSecret) && !found) found = { trigger, secret: candidate };
    }
  }
  return found;
}
