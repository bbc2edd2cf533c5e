/**
 * Keeping secrets out of what Slipway shows: credentials written into git URIs
 * (`https://user:pass@host/…`) and the values of the Secrets a build uses. Every place
 * that logs, labels, stores in a Build or answers with a source URI goes through
 * `redactUri`/`redactText`; build logs go through a `SecretMasker`.
 */

/** What replaces a URI's userinfo, and a masked secret value, wherever they are shown. */
export const REDACTED = '***';

// scheme://userinfo@ — greedy up to the last "@" of the authority, so a password with an
// unencoded "@" is hidden whole.
const URI_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi;

/**
 * Userinfo that is a credential: any userinfo of http(s) and git:// (a token alone as the
 * user name is a credential on most forges), only a password on ssh:// (`ssh://git@host`
 * names the account, the key is elsewhere). The redaction marker itself is not one.
 */
function isCredential(scheme: string, userinfo: string): boolean {
  if (userinfo === '' || userinfo === REDACTED) return false;
  if (/^ssh:\/\/$/i.test(scheme) || /^git\+ssh:\/\/$/i.test(scheme)) return userinfo.includes(':');
  return true;
}

/** Whether `uri` carries credentials in its userinfo. */
export function uriHasCredentials(uri: string): boolean {
  for (const m of uri.matchAll(URI_USERINFO)) {
    if (isCredential(m[1]!, m[2]!)) return true;
  }
  return false;
}

/** `https://user:pass@host/repo.git` → `https://***@host/repo.git`; other URIs unchanged. */
export function redactUri(uri: string): string {
  return redactText(uri);
}

/** Redacts credentials of every URI found in free text (git's error messages print the URL). */
export function redactText(text: string): string {
  return text.replace(URI_USERINFO, (whole, scheme: string, userinfo: string) =>
    isCredential(scheme, userinfo) ? `${scheme}${REDACTED}@` : whole,
  );
}

/** The URI git is given: without credential userinfo (credentials come from a sourceSecret). */
export function stripUriCredentials(uri: string): string {
  return uri.replace(URI_USERINFO, (whole, scheme: string, userinfo: string) =>
    isCredential(scheme, userinfo) || userinfo === REDACTED ? scheme : whole,
  );
}

/**
 * A copy of a BuildConfig or Build whose git source URI has its credentials redacted, for
 * stored objects written before such URIs were refused.
 */
export function redactSourceUri<T>(obj: T): T {
  const uri = (obj as { spec?: { source?: { git?: { uri?: unknown } } } }).spec?.source?.git?.uri;
  if (typeof uri !== 'string' || !uriHasCredentials(uri)) return obj;
  const copy = structuredClone(obj) as { spec: { source: { git: { uri: string } } } };
  copy.spec.source.git.uri = redactUri(uri);
  return copy as T;
}

/** Shorter values are not masked: masking "a" would garble every line. */
export const MIN_MASKED_LENGTH = 4;

/**
 * Replaces known secret values in text. A multi-line value (an ssh key) is masked whole
 * and line by line, since logs are written a line at a time; the base64 form of a value is
 * masked too (a Basic authorization header, a dockerconfigjson `auth`).
 */
export class SecretMasker {
  private values: string[] = [];

  add(...values: (string | undefined)[]): void {
    const next = new Set(this.values);
    for (const v of values) {
      if (v === undefined) continue;
      for (const candidate of [v, ...v.split(/\r?\n/), Buffer.from(v).toString('base64')]) {
        const t = candidate.trim();
        if (t.length >= MIN_MASKED_LENGTH) next.add(t);
      }
    }
    // Longest first, so a value containing another is masked whole.
    this.values = [...next].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.values.length;
  }

  mask(text: string): string {
    let out = redactText(text);
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    return out;
  }
}
