/**
 * Authenticating deliveries: URL secrets and tokens compared in constant time, and
 * `X-Hub-Signature-256` HMACs checked with @octokit/webhooks' `verify`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Webhooks } from '@octokit/webhooks';

/**
 * Compares two secrets in time that depends on neither's content nor length: both are
 * hashed to 32 bytes first, so `timingSafeEqual` never sees unequal lengths.
 * An empty expected secret never matches: an unset secret must not open a hook.
 */
export function secretsEqual(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}

const verifiers = new Map<string, Webhooks>();
function verifierFor(secret: string): Webhooks {
  let v = verifiers.get(secret);
  if (!v) {
    v = new Webhooks({ secret });
    // Trigger secrets are few; bound the cache anyway so a churn of secrets cannot grow it.
    if (verifiers.size > 1000) verifiers.clear();
    verifiers.set(secret, v);
  }
  return v;
}

/**
 * Checks a `sha256=…` signature header against the body, with @octokit/webhooks'
 * `verify` (HMAC-SHA256, constant-time compare). False for a missing secret, an empty
 * body or a malformed header, where `verify` itself would throw.
 *
 * `verify` takes the payload as a string, so the body is decoded as UTF-8 first: that
 * round-trips every valid UTF-8 body, which is what GitHub sends.
 */
export async function verifySha256Signature(
  secret: string,
  rawBody: Buffer,
  signature: string | undefined,
): Promise<boolean> {
  if (!secret || !signature || rawBody.length === 0 || !/^sha256=[0-9a-f]{64}$/i.test(signature.trim()))
    return false;
  try {
    return await verifierFor(secret).verify(rawBody.toString('utf8'), signature.trim().toLowerCase());
  } catch {
    return false;
  }
}
