/**
 * Which numeric uid:gid a container user spec (`1001`, `default`, `app:staff`, `1001:0`)
 * stands for inside a given image, read from that image's /etc/passwd and /etc/group.
 *
 * Slipway copies sources into the build container with the engine's archive API, and
 * the engine keeps the owners written in the archive (its own `copyUIDGID` looks the
 * user up on the host, not in the image). s2i extracts with `tar` running as the
 * assemble user, so files end up owned by that user: writing its uid/gid into the
 * archive gives the same result. Resolution follows Docker's rules: a numeric user
 * without a passwd entry gets gid 0; a named user must exist.
 */

export interface NumericUser {
  uid: number;
  gid: number;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

function parseColonFile(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function passwdEntries(text: string | undefined): PasswdEntry[] {
  return parseColonFile(text)
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
    .map((f) => ({ name: f[0] as string, uid: Number(f[2]), gid: Number(f[3]) }));
}

function groupEntries(text: string | undefined): { name: string; gid: number }[] {
  return parseColonFile(text)
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2] ?? ''))
    .map((f) => ({ name: f[0] as string, gid: Number(f[2]) }));
}

/** True when the spec names a user or group that only the image's files can turn into numbers. */
export function needsUserDatabase(spec: string | undefined): boolean {
  if (!spec) return false;
  const [user = '', group] = spec.split(':');
  return !/^\d+$/.test(user) || (group !== undefined && group !== '' && !/^\d+$/.test(group));
}

/**
 * Resolves `user[:group]` against the image's passwd and group files (either may be
 * missing). Throws with Docker's wording when a name cannot be found.
 */
export function resolveUser(spec: string | undefined, passwd?: string, group?: string): NumericUser {
  if (!spec) return { uid: 0, gid: 0 };
  const colon = spec.indexOf(':');
  const userPart = colon < 0 ? spec : spec.slice(0, colon);
  const groupPart = colon < 0 ? undefined : spec.slice(colon + 1);
  const users = passwdEntries(passwd);

  let uid: number;
  let gid = 0;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = users.find((u) => u.uid === uid);
    if (entry) gid = entry.gid;
  } else {
    const entry = users.find((u) => u.name === userPart);
    if (!entry) throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
    gid = entry.gid;
  }

  if (groupPart) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const entry = groupEntries(group).find((g) => g.name === groupPart);
      if (!entry) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = entry.gid;
    }
  }
  return { uid, gid };
}
