/** Registry and source credentials read from Kubernetes-style Secrets. */
import { secretValue } from '../core/secret-types.js';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

interface SecretLike {
  type?: string;
  data?: Record<string, string> | null;
}

/**
 * Credentials for `registry` from a push/pull secret: a dockerconfigjson or dockercfg
 * secret (its entry for that host), or a basic-auth secret (any host).
 */
export function registryAuthFromSecret(secret: SecretLike, registry: string): RegistryAuth | undefined {
  const username = secretValue(secret, 'username');
  const password = secretValue(secret, 'password');
  if (username !== undefined && password !== undefined)
    return { username, password, serveraddress: registry };
  const raw = secretValue(secret, '.dockerconfigjson') ?? secretValue(secret, '.dockercfg');
  if (!raw) return undefined;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const auths = (parsed.auths ?? parsed) as Record<
    string,
    { auth?: string; username?: string; password?: string }
  >;
  const entry =
    auths[registry] ?? auths[`http://${registry}`] ?? auths[`https://${registry}`] ?? Object.values(auths)[0];
  if (!entry) return undefined;
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password, serveraddress: registry };
  }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const idx = decoded.indexOf(':');
    return { username: decoded.slice(0, idx), password: decoded.slice(idx + 1), serveraddress: registry };
  }
  return undefined;
}
