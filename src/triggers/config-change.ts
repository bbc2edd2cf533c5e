/**
 * ConfigChange: a BuildConfig with this trigger starts its first build when it is
 * created. OpenShift fires it only while `status.lastVersion` is 0; later edits of the
 * BuildConfig start nothing (OpenShift docs, modules/builds-configuration-change-triggers:
 * configuration change triggers only work when creating a new BuildConfig).
 */
import type { BuildConfigSpec, BuildConfigStatus } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import { configChangeCause } from './causes.js';
import { isPaused } from './push-decision.js';
import type { TriggeredBuildRequest } from './types.js';

export type ConfigChangeDecision =
  { fire: true; request: TriggeredBuildRequest } | { fire: false; reason: string };

/**
 * Whether a stored BuildConfig's ConfigChange trigger should start its first build now.
 * The API calls it once, after the create it served (src/api/build-hooks.ts), so no
 * other server acts on the same BuildConfig.
 */
export function decideConfigChange(buildConfig: Resource): ConfigChangeDecision {
  const spec = buildConfig.spec as Partial<BuildConfigSpec> | undefined;
  if (!(spec?.triggers ?? []).some((t) => t.type === 'ConfigChange')) {
    return { fire: false, reason: 'no ConfigChange trigger' };
  }
  if (isPaused(buildConfig))
    return { fire: false, reason: `BuildConfig "${buildConfig.metadata.name}" is paused` };
  const lastVersion = (buildConfig.status as BuildConfigStatus | undefined)?.lastVersion ?? 0;
  if (lastVersion > 0) return { fire: false, reason: `BuildConfig already has ${lastVersion} build(s)` };
  return { fire: true, request: { triggeredBy: [configChangeCause()] } };
}
