/**
 * Read-modify-write of one resource for the editing verbs (`set env`, `set triggers`,
 * `scale`): GET, change, PUT with the resourceVersion read, and one more try when
 * someone else wrote in between (a 409).
 */
import { lookupKind, resourcePath, type KindInfo, type Resource } from '../core/resource.js';
import { ApiError, type SlipwayClient } from './client.js';

export const DC_KIND = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
export const BC_KIND = lookupKind('build.openshift.io/v1', 'BuildConfig')!;

export function fail(message: string): never {
  throw new ApiError(0, `error: ${message}`);
}

/** `dc/NAME` or `bc/NAME` (and their long spellings) → kind and name; else a clear error. */
export function configTarget(
  target: string,
  allowed: readonly ('dc' | 'bc')[] = ['dc', 'bc'],
): {
  info: KindInfo;
  short: 'dc' | 'bc';
  name: string;
} {
  const m =
    /^(dc|deploymentconfig|deploymentconfigs|bc|buildconfig|buildconfigs)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(
      target,
    );
  const short = m ? (m[1]!.startsWith('d') ? 'dc' : 'bc') : undefined;
  if (!m || !short || !allowed.includes(short))
    fail(`"${target}" is not ${allowed.map((a) => `${a}/NAME`).join(' or ')}`);
  return { info: short === 'dc' ? DC_KIND : BC_KIND, short, name: m[2]! };
}

/**
 * Applies `change` to the stored object and writes it back. `change` returns false when
 * there is nothing to write. Resolves the object as stored and whether it was written.
 */
export async function editResource(
  c: SlipwayClient,
  info: KindInfo,
  namespace: string,
  name: string,
  change: (obj: Resource) => boolean,
): Promise<{ obj: Resource; changed: boolean }> {
  for (let attempt = 0; ; attempt++) {
    const obj = await c.json('GET', resourcePath(info, namespace, name));
    if (!change(obj)) return { obj, changed: false };
    try {
      return { obj: await c.json('PUT', resourcePath(info, namespace, name), obj), changed: true };
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409) || attempt >= 2) throw err;
    }
  }
}

/** `deploymentconfig.apps.openshift.io/web`, as oc names what it changed. */
export function qualifiedName(info: KindInfo, name: string): string {
  return `${info.kind.toLowerCase()}${info.group ? `.${info.group}` : ''}/${name}`;
}
