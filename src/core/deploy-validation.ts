/**
 * DeploymentConfig rules beyond field types (openshift/apps validation) and OpenShift's
 * defaults applied on write, so a stored config reads as `oc get dc -o yaml` shows it.
 */
import type { DeploymentConfigSpec, IntOrPercent, LifecycleHook } from './deploy-types.js';
import { REVISION_HISTORY_LIMIT_DEFAULT, rollingParamsWithDefaults } from './deploy-types.js';
import { posix } from 'node:path';
import type { FieldCause } from './errors.js';
import type { Resource } from './resource.js';

function isZero(v: IntOrPercent | undefined): boolean {
  return v !== undefined && (v === 0 || v === '0' || v === '0%');
}

function percentOver100(v: IntOrPercent | undefined): boolean {
  return typeof v === 'string' && v.endsWith('%') && Number.parseInt(v, 10) > 100;
}

function hookCauses(
  hook: LifecycleHook | null | undefined,
  field: string,
  containers: Set<string>,
  volumes: Set<string>,
): FieldCause[] {
  if (!hook) return [];
  const causes: FieldCause[] = [];
  const e = hook.execNewPod;
  if (e && !containers.has(e.containerName)) {
    causes.push({
      field: `${field}.execNewPod.containerName`,
      message: `"${e.containerName}" is not a container of the template`,
    });
  }
  for (const [i, v] of (e?.volumes ?? []).entries()) {
    if (!volumes.has(v))
      causes.push({
        field: `${field}.execNewPod.volumes[${i}]`,
        message: `"${v}" is not a volume of the template`,
      });
  }
  for (const [i, t] of (hook.tagImages ?? []).entries()) {
    if (!containers.has(t.containerName))
      causes.push({
        field: `${field}.tagImages[${i}].containerName`,
        message: `"${t.containerName}" is not a container of the template`,
      });
  }
  return causes;
}

/**
 * Whether `path` lies under one of `allowed` once both are normalised, so `..` segments,
 * repeated or trailing slashes cannot step out of an allowed prefix.
 */
export function hostPathAllowed(path: string, allowed: readonly string[]): boolean {
  if (!path.startsWith('/')) return false;
  const target = posix.normalize(path);
  return allowed.some((prefix) => {
    const root = posix.normalize(`${prefix}/`);
    return target === root.slice(0, -1) || target === root || target.startsWith(root);
  });
}

export interface DeploymentConfigRules {
  /** SLIPWAY_ALLOW_HOST_PATHS: prefixes a hostPath volume may name; none allows no hostPath. */
  allowHostPaths?: readonly string[];
}

/** hostPath volumes outside what the operator allows, each naming the setting that would allow it. */
function hostPathCauses(spec: DeploymentConfigSpec, allowed: readonly string[]): FieldCause[] {
  const causes: FieldCause[] = [];
  for (const [i, v] of (spec.template.spec.volumes ?? []).entries()) {
    const path = v.hostPath?.path;
    if (path === undefined || hostPathAllowed(path, allowed)) continue;
    causes.push({
      field: `spec.template.spec.volumes[${i}].hostPath.path`,
      message:
        allowed.length === 0
          ? `hostPath "${path}" is not allowed: this server allows no hostPath volumes (SLIPWAY_ALLOW_HOST_PATHS is empty); use emptyDir or persistentVolumeClaim, or ask the operator to allow a prefix`
          : `hostPath "${path}" is not under a prefix SLIPWAY_ALLOW_HOST_PATHS allows (${allowed.join(', ')})`,
    });
  }
  return causes;
}

/** Cross-field rules of a DeploymentConfig (its fields' types are already checked). */
export function deploymentConfigCauses(obj: Resource, rules: DeploymentConfigRules = {}): FieldCause[] {
  const spec = obj.spec as DeploymentConfigSpec;
  const causes: FieldCause[] = hostPathCauses(spec, rules.allowHostPaths ?? []);
  const containers = spec.template.spec.containers;
  const names = new Set<string>();
  for (const [i, c] of containers.entries()) {
    if (names.has(c.name))
      causes.push({
        field: `spec.template.spec.containers[${i}].name`,
        message: `Duplicate value: "${c.name}"`,
      });
    names.add(c.name);
  }
  const volumes = new Set((spec.template.spec.volumes ?? []).map((v) => v.name));
  const labels = spec.template.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec.selector ?? {})) {
    if (labels[k] !== v) {
      causes.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: selector "${k}=${v}" does not match the template's labels`,
      });
      break;
    }
  }
  if (!spec.selector && Object.keys(labels).length === 0) {
    causes.push({
      field: 'spec.selector',
      message: 'Required value: give a selector or labels in spec.template.metadata.labels',
    });
  }
  const imageCovered = new Set<string>();
  for (const [i, t] of (spec.triggers ?? []).entries()) {
    if (t.type !== 'ImageChange') continue;
    const p = t.imageChangeParams;
    if (!p) {
      causes.push({
        field: `spec.triggers[${i}].imageChangeParams`,
        message: 'Required value: an ImageChange trigger needs imageChangeParams',
      });
      continue;
    }
    if ((p.containerNames ?? []).length === 0)
      causes.push({
        field: `spec.triggers[${i}].imageChangeParams.containerNames`,
        message: 'Required value: name at least one container',
      });
    for (const [j, n] of (p.containerNames ?? []).entries()) {
      if (!names.has(n))
        causes.push({
          field: `spec.triggers[${i}].imageChangeParams.containerNames[${j}]`,
          message: `"${n}" is not a container of the template`,
        });
      imageCovered.add(n);
    }
    const kind = p.from.kind ?? 'ImageStreamTag';
    if (kind !== 'ImageStreamTag')
      causes.push({
        field: `spec.triggers[${i}].imageChangeParams.from.kind`,
        message: `Unsupported value: "${kind}": supported values: "ImageStreamTag"`,
      });
  }
  for (const [i, c] of containers.entries()) {
    if (!c.image?.trim() && !imageCovered.has(c.name)) {
      causes.push({
        field: `spec.template.spec.containers[${i}].image`,
        message: 'Required value: give an image or an ImageChange trigger for this container',
      });
    }
  }
  const strategy = spec.strategy ?? {};
  const rp = strategy.rollingParams;
  if (rp) {
    if (isZero(rp.maxSurge) && isZero(rp.maxUnavailable)) {
      causes.push({
        field: 'spec.strategy.rollingParams.maxUnavailable',
        message: 'Invalid value: may not be 0 when maxSurge is 0',
      });
    }
    if (percentOver100(rp.maxUnavailable))
      causes.push({
        field: 'spec.strategy.rollingParams.maxUnavailable',
        message: 'Invalid value: must not be greater than 100%',
      });
    causes.push(
      ...hookCauses(rp.pre, 'spec.strategy.rollingParams.pre', names, volumes),
      ...hookCauses(rp.post, 'spec.strategy.rollingParams.post', names, volumes),
    );
  }
  const cp = strategy.recreateParams;
  if (cp) {
    for (const stage of ['pre', 'mid', 'post'] as const)
      causes.push(...hookCauses(cp[stage], `spec.strategy.recreateParams.${stage}`, names, volumes));
  }
  if (strategy.type === 'Custom' && !strategy.customParams?.image) {
    causes.push({
      field: 'spec.strategy.customParams.image',
      message: 'Required value: a Custom strategy needs customParams.image',
    });
  }
  return causes;
}

/** OpenShift's defaults (apps/v1 SetDefaults_DeploymentConfigSpec and friends). */
export function withDeploymentConfigDefaults(obj: Resource): Resource {
  const spec = structuredClone(obj.spec) as DeploymentConfigSpec;
  if (spec.triggers === undefined || spec.triggers === null) spec.triggers = [{ type: 'ConfigChange' }];
  spec.revisionHistoryLimit ??= REVISION_HISTORY_LIMIT_DEFAULT;
  spec.replicas ??= 1;
  if (!spec.selector) spec.selector = { ...(spec.template.metadata?.labels ?? {}) };
  const strategy = { ...(spec.strategy ?? {}) };
  strategy.type ??= 'Rolling';
  if (strategy.type === 'Rolling')
    strategy.rollingParams = {
      ...strategy.rollingParams,
      ...rollingParamsWithDefaults(strategy.rollingParams),
    };
  spec.strategy = strategy;
  return { ...obj, spec: spec as unknown as Record<string, unknown> };
}
