/**
 * Authenticating deliveries: URL secrets and tokens compared in constant time, and
 * `X-Hub-Signature-256` HMACs checked over the raw body in constant time.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

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

const SIGNATURE = /^sha256=[0-9a-f]{64}$/i;

// The last secret's key, prepared once: an endpoint checks every delivery with one secret,
// and turning the string into a key on each call cost a third of the HMAC.
let lastSecret: string | undefined;
let lastKey: KeyObject | undefined;

function hmacKey(secret: string): KeyObject {
  if (secret !== lastSecret || !lastKey) {
    lastKey = createSecretKey(Buffer.from(secret, 'utf8'));
    lastSecret = secret;
  }
  return lastKey;
}

/**
 * Checks a `sha256=…` signature header against the body: HMAC-SHA256 of the exact bytes
 * received, compared with `timingSafeEqual` (constant time, and both sides are always 32
 * bytes). False for a missing secret, an empty body or a malformed header.
 *
 * This is what @octokit/webhooks' `verify` computes, done over the raw bytes: `verify`
 * takes the payload as a string, and decoding then re-encoding every delivery cost as
 * much again as the HMAC itself (and would not round-trip a body that is not UTF-8).
 * Tests sign with @octokit/webhooks' `sign()` and check the two agree.
 */
export function sha256SignatureMatches(
  secret: string,
  rawBody: Buffer,
  signature: string | undefined,
): boolean {
  if (!secret || !signature || rawBody.length === 0) return false;
  const header = signature.trim();
  if (!SIGNATURE.test(header)) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', hmacKey(secret)).update(rawBody).digest();
  return timingSafeEqual(expected, given);
}
