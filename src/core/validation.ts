/**
 * Validation on write: every stored object passes through `validateResource`, which
 * either returns the object (normalised) or throws a 422 InputError naming each bad field.
 */
import { z } from 'zod';
import { PROJECT_ROLES, USER_NAME, type ProjectRole } from './roles.js';
import { buildConfigSpec, buildSpec, buildStatus } from './build-types.js';
import { deploymentConfigSpec, routeSpec, serviceSpec } from './deploy-types.js';
import {
  appsDeploymentCauses,
  appsDeploymentSpec,
  deploymentConfigView,
  persistentVolumeClaimSpec,
  type AppsDeployment,
} from './apps-deployment.js';
import { deploymentConfigCauses, withDeploymentConfigDefaults } from './deploy-validation.js';
import { InputError, type FieldCause } from './errors.js';
import { imageStreamSpec } from './image-types.js';
import { parseQuantity } from './quantity.js';
import { resourceQuotaCauses } from './quota.js';
import { redactUri, uriHasCredentials } from './redact.js';
import { DNS1123_SUBDOMAIN, type KindInfo, type Resource } from './resource.js';
import { configMapBody, secretBody } from './secret-types.js';

const metadata = z.looseObject({
  name: z
    .string({ error: 'is required' })
    .min(1, 'is required')
    .max(253, 'must be no more than 253 characters')
    .regex(
      DNS1123_SUBDOMAIN,
      "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
    ),
  namespace: z.string().regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 name').optional(),
  labels: z.record(z.string(), z.string()).nullable().optional(),
  annotations: z.record(z.string(), z.string()).nullable().optional(),
});

const anyObject = z.looseObject({});

/** Schemas for the top-level fields each kind checks; kinds not listed check metadata only. */
const SCHEMAS: Record<string, z.ZodType> = {
  BuildConfig: z.looseObject({ metadata, spec: buildConfigSpec, status: anyObject.optional() }),
  Build: z.looseObject({ metadata, spec: buildSpec, status: buildStatus.optional() }),
  ImageStream: z.looseObject({ metadata, spec: imageStreamSpec.optional(), status: anyObject.optional() }),
  Secret: z.intersection(z.looseObject({ metadata }), secretBody),
  ConfigMap: z.intersection(z.looseObject({ metadata }), configMapBody),
  DeploymentConfig: z.looseObject({ metadata, spec: deploymentConfigSpec, status: anyObject.optional() }),
  Service: z.looseObject({ metadata, spec: serviceSpec }),
  Route: z.looseObject({ metadata, spec: routeSpec, status: anyObject.optional() }),
  Deployment: z.looseObject({ metadata, spec: appsDeploymentSpec, status: anyObject.optional() }),
  PersistentVolumeClaim: z.looseObject({ metadata, spec: persistentVolumeClaimSpec.optional() }),
  RoleBinding: z.looseObject({
    metadata,
    roleRef: z.looseObject({
      apiGroup: z.literal('rbac.authorization.k8s.io').optional(),
      kind: z.literal('ClusterRole', { error: 'must be ClusterRole (admin, edit or view)' }),
      name: z.enum(PROJECT_ROLES as [ProjectRole, ...ProjectRole[]], {
        error: 'must be admin, edit or view',
      }),
    }),
    subjects: z
      .array(
        z.looseObject({
          apiGroup: z.string().optional(),
          kind: z.literal('User', { error: 'must be User' }),
          name: z.string().regex(USER_NAME, "must be a user name: letters, digits, '.', '_', '@' and '-'"),
        }),
      )
      .min(1, 'must name at least one user'),
  }),
};

function toCauses(error: z.ZodError): FieldCause[] {
  return error.issues.map((issue) => {
    // A map key that is refused (a Secret's `data[../x]`): the key in brackets, and why.
    const badKey = issue.code === 'invalid_key';
    return {
      field: issue.path
        .map((p, i) =>
          typeof p === 'number' || (badKey && i === issue.path.length - 1)
            ? `[${String(p)}]`
            : `.${String(p)}`,
        )
        .join('')
        .replace(/^\./, '')
        .replace(/\.\[/g, '['),
      message: badKey
        ? issue.issues.map((i) => i.message).join('; ')
        : issue.code === 'invalid_type' && issue.input === undefined
          ? 'Required value'
          : issue.message,
    };
  });
}

/** Allowed git transports. `ext::` and friends run commands on the worker: never. */
const GIT_URI = /^(https?|ssh|git|file):\/\/|^[\w.-]+@[\w.-]+:/;

/**
 * Whether a git source URI uses a transport Slipway runs: https, http, ssh (or
 * user@host:path), git, and file:// only where the server allows local paths. The rule
 * is checked on write and again by the worker before it runs git.
 */
export function isAllowedGitUri(uri: string, allowFileSources: boolean): boolean {
  // A host or user that starts with "-" would reach ssh as an option (git blocks it too).
  if (/^-|^[a-z+]+:\/\/-/i.test(uri)) return false;
  return GIT_URI.test(uri) && (allowFileSources || !uri.startsWith('file://'));
}

function semanticCauses(kind: string, obj: Resource, options: ValidateOptions): FieldCause[] {
  const allowFileSources = options.allowFileSources ?? false;
  const causes: FieldCause[] = [];
  if (kind === 'ResourceQuota') return resourceQuotaCauses(obj);
  if (kind === 'DeploymentConfig')
    return deploymentConfigCauses(obj, { allowHostPaths: options.allowHostPaths ?? [] });
  if (kind === 'Deployment') {
    const own = appsDeploymentCauses(obj);
    if (own.length > 0) return own;
    // The rules of the DeploymentConfig it rolls out as (one container, hostPath…); same field paths.
    return deploymentConfigCauses(
      deploymentConfigView(obj as unknown as AppsDeployment) as unknown as Resource,
      { allowHostPaths: options.allowHostPaths ?? [] },
    );
  }
  if (kind !== 'BuildConfig' && kind !== 'Build') return causes;
  const spec = obj.spec as z.infer<typeof buildSpec>;
  const uri = spec.source.git?.uri;
  if (uri !== undefined) {
    // Messages show the URI redacted: a refused URI may carry the very password refused.
    const shown = redactUri(uri);
    if (!isAllowedGitUri(uri, true)) {
      causes.push({
        field: 'spec.source.git.uri',
        message: `"${shown}" uses a transport Slipway does not allow; use https, ssh (or user@host:path) or git`,
      });
    } else if (uri.startsWith('file://') && !allowFileSources) {
      causes.push({
        field: 'spec.source.git.uri',
        message: `"${shown}" is a local path; set SLIPWAY_ALLOW_FILE_SOURCES=true on the server to allow file:// sources`,
      });
    } else if (uriHasCredentials(uri)) {
      causes.push({
        field: 'spec.source.git.uri',
        message: `"${shown}" carries credentials in the URI, where logs, labels and Builds would show them; remove them and name a Secret in spec.source.sourceSecret instead`,
      });
    }
  }
  const sourceType =
    spec.source.type ??
    (spec.source.git
      ? 'Git'
      : spec.source.dockerfile !== undefined
        ? 'Dockerfile'
        : spec.source.binary
          ? 'Binary'
          : 'None');
  if (sourceType === 'Git' && !spec.source.git) {
    causes.push({ field: 'spec.source.git', message: 'Required value: source.type is Git' });
  }
  if (sourceType === 'Dockerfile' && spec.source.dockerfile === undefined) {
    causes.push({ field: 'spec.source.dockerfile', message: 'Required value: source.type is Dockerfile' });
  }
  if (sourceType === 'None' && spec.strategy.type === 'Source') {
    causes.push({
      field: 'spec.source',
      message: 'a Source strategy build needs a git, binary or dockerfile source',
    });
  }
  causes.push(...buildInputCauses(spec));
  // Build containers get these limits (src/builders/build-scope.ts): refuse what cannot be parsed now.
  const limits = (spec.resources as { limits?: Record<string, unknown> | null } | undefined)?.limits;
  for (const key of ['memory', 'cpu'] as const) {
    const value = limits?.[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      causes.push({
        field: `spec.resources.limits.${key}`,
        message: 'must be a quantity such as "500m" or "128Mi"',
      });
      continue;
    }
    try {
      parseQuantity(value, key);
    } catch (err) {
      causes.push({ field: `spec.resources.limits.${key}`, message: (err as Error).message });
    }
  }
  const strategy = spec.strategy;
  if (strategy.type === 'Source' && !strategy.sourceStrategy) {
    causes.push({
      field: 'spec.strategy.sourceStrategy',
      message: 'Required value: strategy.type is Source',
    });
  }
  if (strategy.type === 'Custom' || strategy.type === 'JenkinsPipeline') {
    causes.push({
      field: 'spec.strategy.type',
      message: `Unsupported value: "${strategy.type}": supported values: "Docker", "Source"`,
    });
  }
  const to = spec.output?.to;
  if (to) {
    const toKind = to.kind ?? 'ImageStreamTag';
    if (toKind !== 'DockerImage' && toKind !== 'ImageStreamTag') {
      causes.push({
        field: 'spec.output.to.kind',
        message: `Unsupported value: "${toKind}": supported values: "DockerImage", "ImageStreamTag"`,
      });
    } else if (toKind === 'ImageStreamTag' && !/^[a-z0-9][-a-z0-9._]*:[\w][\w.-]{0,127}$/.test(to.name)) {
      causes.push({
        field: 'spec.output.to.name',
        message: `"${to.name}" must be NAME:TAG for an ImageStreamTag`,
      });
    }
  }
  for (const [i, t] of ((spec as z.infer<typeof buildConfigSpec>).triggers ?? []).entries()) {
    const key =
      t.type === 'GitHub'
        ? 'github'
        : t.type === 'GitLab'
          ? 'gitlab'
          : t.type === 'Bitbucket'
            ? 'bitbucket'
            : t.type === 'Generic'
              ? 'generic'
              : undefined;
    if (key) {
      const hook = t[key];
      if (!hook || (hook.secret === undefined && hook.secretReference === undefined)) {
        causes.push({
          field: `spec.triggers[${i}].${key}`,
          message: `Required value: a ${t.type} trigger needs secret or secretReference`,
        });
      }
    }
  }
  return causes;
}

export interface ValidateOptions {
  allowFileSources?: boolean;
  /** SLIPWAY_ALLOW_HOST_PATHS; unset, no hostPath volume is accepted. */
  allowHostPaths?: readonly string[];
}

/** Validates an object of a known kind; throws a 422 InputError listing every bad field. */
export function validateResource(info: KindInfo, obj: Resource, options: ValidateOptions = {}): Resource {
  const schema = SCHEMAS[info.kind] ?? z.looseObject({ metadata });
  const parsed = schema.safeParse(obj);
  const causes = parsed.success ? semanticCauses(info.kind, obj, options) : toCauses(parsed.error);
  if (causes.length > 0) {
    const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : '';
    const detail = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    throw new InputError(`${info.kind}.${info.group || 'core'} "${name}" is invalid: ${detail}`, { causes });
  }
  if (info.kind === 'Secret') return normaliseSecret(obj);
  if (info.kind === 'DeploymentConfig') return withDeploymentConfigDefaults(obj);
  return obj;
}

/** Kubernetes folds `stringData` into `data` on write; Slipway does the same. */
function normaliseSecret(obj: Resource): Resource {
  const { stringData, ...rest } = obj as Resource & {
    stringData?: Record<string, string> | null;
    data?: Record<string, string> | null;
  };
  const data: Record<string, string> = { ...(rest.data ?? {}) };
  for (const [k, v] of Object.entries(stringData ?? {})) data[k] = Buffer.from(v, 'utf8').toString('base64');
  return { ...rest, type: (rest.type as string | undefined) ?? 'Opaque', data };
}

/**
 * `spec.source.secrets` and `configMaps`, as OpenShift checks them: each object once, and
 * a `destinationDir` without `..`; for the Docker strategy it is where the files go inside
 * the context directory, so it must be relative (for Source, an absolute path is one in
 * the builder image). `spec.source.images`: an absolute `sourcePath` in the image, a
 * relative `destinationDir` in the source; `as` is not supported.
 */
function buildInputCauses(spec: z.infer<typeof buildSpec>): FieldCause[] {
  const causes: FieldCause[] = [];
  const docker = spec.strategy.type === 'Docker';
  const lists = [
    ['secrets', 'secret', (spec.source.secrets ?? []).map((i) => ({ ...i, name: i.secret.name }))],
    [
      'configMaps',
      'configMap',
      (spec.source.configMaps ?? []).map((i) => ({ ...i, name: i.configMap.name })),
    ],
  ] as const;
  for (const [list, ref, inputs] of lists) {
    const seen = new Set<string>();
    inputs.forEach((input, i) => {
      const field = `spec.source.${list}[${i}]`;
      if (seen.has(input.name))
        causes.push({ field: `${field}.${ref}.name`, message: `Duplicate value: "${input.name}"` });
      seen.add(input.name);
      const dir = input.destinationDir ?? '';
      if (dir.includes('\0'))
        causes.push({ field: `${field}.destinationDir`, message: 'must not contain NUL' });
      else if (dir.split('/').includes('..'))
        causes.push({ field: `${field}.destinationDir`, message: "must not contain '..'" });
      else if (docker && dir.startsWith('/'))
        causes.push({
          field: `${field}.destinationDir`,
          message:
            'for the Docker strategy, destinationDir must be a relative path (inside the context directory)',
        });
    });
  }
  (spec.source.images ?? []).forEach((image, i) => {
    const field = `spec.source.images[${i}]`;
    if (image.as && image.as.length > 0)
      causes.push({
        field: `${field}.as`,
        message:
          'Slipway does not replace Dockerfile FROM lines by image source; name the image in dockerStrategy.from, or copy paths from it',
      });
    const paths = image.paths ?? [];
    if (paths.length === 0 && !(image.as && image.as.length > 0))
      causes.push({ field: `${field}.paths`, message: 'Required value: the paths to copy out of the image' });
    paths.forEach((p, j) => {
      if (!p.sourcePath.startsWith('/') || p.sourcePath.includes('\0'))
        causes.push({
          field: `${field}.paths[${j}].sourcePath`,
          message: 'must be an absolute path in the image',
        });
      const dir = p.destinationDir ?? '';
      if (dir.startsWith('/') || dir.includes('\0') || dir.split('/').includes('..'))
        causes.push({
          field: `${field}.paths[${j}].destinationDir`,
          message: "must be a relative path without '..' (inside the source)",
        });
    });
  });
  return causes;
}
