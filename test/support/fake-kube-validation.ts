/**
 * Validation and patching for the Kubernetes API STAND-IN (fake-kube-apiserver.ts): no
 * real API server can run on these machines, so what the real one would reject must be
 * rejected here, or tests would pass on manifests a cluster refuses.
 *
 * Three layers, each answering as the API server does:
 * 1. the official OpenAPI schemas, through `kubernetes-models` (types, required fields,
 *    enums) → 422 Invalid;
 * 2. strict field validation (what `fieldValidation=Strict` does): a field the schema
 *    does not know → 400 BadRequest `strict decoding error: unknown field "spec.foo"`;
 *    the field names come from @kubernetes/client-node's generated models of the same
 *    OpenAPI document;
 * 3. the API server's own checks that no schema expresses, for the kinds Slipway sends:
 *    name syntax, label syntax, annotation size, owner references, a ReplicationController
 *    selector matching its template's labels, restart policies, container names and images,
 *    volume mounts naming volumes, Service ports → 422 Invalid with field causes.
 */
import * as k8s from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Scale } from 'kubernetes-models/autoscaling/v1/Scale';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ReplicationController } from 'kubernetes-models/v1/ReplicationController';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';

export type KObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
    [k: string]: any;
  };
  spec?: any;
  status?: any;
  [k: string]: any;
};

export interface FieldCause {
  reason:
    | 'FieldValueInvalid'
    | 'FieldValueRequired'
    | 'FieldValueNotSupported'
    | 'FieldValueDuplicate'
    | 'FieldValueNotFound'
    | 'FieldValueForbidden';
  field: string;
  message: string;
}

/** A rejection, as the API server's Status would carry it. */
export class Rejection extends Error {
  constructor(
    readonly code: 400 | 422,
    message: string,
    readonly causes: FieldCause[] = [],
  ) {
    super(message);
  }
}

type Validatable = { validate(): void };
type ModelClass = new (data: any) => Validatable;

export interface KindDef {
  group: '' | 'apps' | 'autoscaling';
  version: 'v1';
  plural: string;
  kind: string;
  /** The official schema's model (kubernetes-models). */
  model: ModelClass;
  /** The generated client model carrying the field names (strict field validation). */
  clientType: string;
}

export const KINDS: Record<string, KindDef> = {
  pods: {
    group: '',
    version: 'v1',
    plural: 'pods',
    kind: 'Pod',
    model: Pod as ModelClass,
    clientType: 'V1Pod',
  },
  replicationcontrollers: {
    group: '',
    version: 'v1',
    plural: 'replicationcontrollers',
    kind: 'ReplicationController',
    model: ReplicationController as ModelClass,
    clientType: 'V1ReplicationController',
  },
  services: {
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    model: Service as ModelClass,
    clientType: 'V1Service',
  },
  secrets: {
    group: '',
    version: 'v1',
    plural: 'secrets',
    kind: 'Secret',
    model: Secret as ModelClass,
    clientType: 'V1Secret',
  },
  deployments: {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    kind: 'Deployment',
    model: Deployment as ModelClass,
    clientType: 'V1Deployment',
  },
};

export const SCALE: KindDef = {
  group: 'autoscaling',
  version: 'v1',
  plural: 'scale',
  kind: 'Scale',
  model: Scale as ModelClass,
  clientType: 'V1Scale',
};

export function apiVersionOf(def: KindDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

// ---- layer 1: the official schema -------------------------------------------------------

interface AjvError {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

export function schemaCauses(def: KindDef, obj: unknown): FieldCause[] {
  try {
    new def.model(obj).validate();
    return [];
  } catch (err) {
    const errors = ((err as { errors?: AjvError[] }).errors ?? []) as AjvError[];
    if (errors.length === 0)
      return [{ reason: 'FieldValueInvalid', field: '', message: String((err as Error).message) }];
    return errors.map((e) => {
      const base = (e.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
      const missing = e.params?.missingProperty as string | undefined;
      return missing
        ? {
            reason: 'FieldValueRequired' as const,
            field: base ? `${base}.${missing}` : missing,
            message: 'Required value',
          }
        : {
            reason: 'FieldValueInvalid' as const,
            field: base,
            message: `Invalid value: ${e.message ?? 'invalid'}`,
          };
    });
  }
}

// ---- layer 2: strict field validation ---------------------------------------------------

type AttributeMap = { baseName: string; type: string }[];

function attributesOf(type: string): AttributeMap | undefined {
  const cls = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>)[
    type
  ];
  return cls?.getAttributeTypeMap?.();
}

export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`));
  }
  const attrs = attributesOf(type);
  if (!attrs || typeof value !== 'object' || Array.isArray(value)) return [];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue; // not on the wire: JSON has no undefined
    const attr = attrs.find((a) => a.baseName === key);
    const here = path ? `${path}.${key}` : key;
    if (!attr) out.push(here);
    else out.push(...unknownFields(v, attr.type, here));
  }
  return out;
}

// ---- layer 3: the API server's own checks -----------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const TOTAL_ANNOTATION_SIZE = 256 * 1024;

function checkQualifiedName(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a qualified name must consist of an optional DNS subdomain prefix and a name';
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2 && (!DNS1123_SUBDOMAIN.test(parts[0]!) || parts[0]!.length > 253))
    return 'prefix part must be a DNS-1123 subdomain';
  if (!LABEL_NAME.test(name) || name.length > 63)
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63)";
  return undefined;
}

function checkMetadata(def: KindDef, obj: KObject, causes: FieldCause[]): void {
  const m = obj.metadata ?? ({} as KObject['metadata']);
  const name = m.name;
  if (!name)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    });
  else if (
    def.plural === 'services'
      ? !DNS1035_LABEL.test(name) || name.length > 63
      : !DNS1123_SUBDOMAIN.test(name) || name.length > 253
  ) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: "${name}": a ${def.plural === 'services' ? 'DNS-1035 label' : 'lowercase RFC 1123 subdomain'} is required`,
    });
  }
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    const bad = checkQualifiedName(k);
    if (bad)
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message: `Invalid value: "${k}": ${bad}`,
      });
    if (typeof v !== 'string' || (v !== '' && (!LABEL_NAME.test(v) || v.length > 63))) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.' (max 63)`,
      });
    }
  }
  let size = 0;
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    const bad = checkQualifiedName(k);
    if (bad)
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'metadata.annotations',
        message: `Invalid value: "${k}": ${bad}`,
      });
    size += k.length + String(v).length;
  }
  if (size > TOTAL_ANNOTATION_SIZE) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.annotations',
      message: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE} bytes`,
    });
  }
  (m.ownerReferences ?? []).forEach((o, i) => {
    for (const key of ['apiVersion', 'kind', 'name', 'uid'] as const) {
      if (!o[key])
        causes.push({
          reason: 'FieldValueInvalid',
          field: `metadata.ownerReferences[${i}].${key}`,
          message: `Invalid value: "": ${key} must not be empty`,
        });
    }
  });
}

function checkPodSpec(spec: any, path: string, template: boolean, causes: FieldCause[]): void {
  if (!spec) return;
  const restart = spec.restartPolicy;
  if (template && restart !== undefined && restart !== 'Always') {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: `${path}.restartPolicy`,
      message: `Unsupported value: "${restart}": supported values: "Always"`,
    });
  } else if (restart !== undefined && !['Always', 'OnFailure', 'Never'].includes(restart)) {
    causes.push({
      reason: 'FieldValueNotSupported',
      field: `${path}.restartPolicy`,
      message: `Unsupported value: "${restart}": supported values: "Always", "OnFailure", "Never"`,
    });
  }
  if (spec.serviceAccountName !== undefined && !DNS1123_SUBDOMAIN.test(spec.serviceAccountName)) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: `${path}.serviceAccountName`,
      message: `Invalid value: "${spec.serviceAccountName}": a lowercase RFC 1123 subdomain is required`,
    });
  }
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((v: any, i: number) => {
    if (!DNS1123_LABEL.test(v.name ?? ''))
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${path}.volumes[${i}].name`,
        message: `Invalid value: "${v.name}": a lowercase RFC 1123 label is required`,
      });
    if (volumes.has(v.name))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `${path}.volumes[${i}].name`,
        message: `Duplicate value: "${v.name}"`,
      });
    volumes.add(v.name);
  });
  const containers: any[] = spec.containers ?? [];
  if (containers.length === 0)
    causes.push({ reason: 'FieldValueRequired', field: `${path}.containers`, message: 'Required value' });
  const names = new Set<string>();
  const portNames = new Set<string>();
  containers.forEach((c, i) => {
    const at = `${path}.containers[${i}]`;
    if (!DNS1123_LABEL.test(c.name ?? '') || String(c.name).length > 63)
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${at}.name`,
        message: `Invalid value: "${c.name}": a lowercase RFC 1123 label is required`,
      });
    if (names.has(c.name))
      causes.push({
        reason: 'FieldValueDuplicate',
        field: `${at}.name`,
        message: `Duplicate value: "${c.name}"`,
      });
    names.add(c.name);
    if (!c.image)
      causes.push({ reason: 'FieldValueRequired', field: `${at}.image`, message: 'Required value' });
    else if (c.image !== c.image.trim())
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${at}.image`,
        message: `Invalid value: "${c.image}": must not have leading or trailing whitespace`,
      });
    (c.env ?? []).forEach((e: any, j: number) => {
      if (!e.name)
        causes.push({
          reason: 'FieldValueRequired',
          field: `${at}.env[${j}].name`,
          message: 'Required value',
        });
      if (e.value !== undefined && e.valueFrom !== undefined)
        causes.push({
          reason: 'FieldValueInvalid',
          field: `${at}.env[${j}].valueFrom`,
          message: 'Invalid value: may not be specified when `value` is not empty',
        });
    });
    (c.ports ?? []).forEach((p: any, j: number) => {
      if (!(p.containerPort >= 1 && p.containerPort <= 65535))
        causes.push({
          reason: 'FieldValueInvalid',
          field: `${at}.ports[${j}].containerPort`,
          message: `Invalid value: ${p.containerPort}: must be between 1 and 65535, inclusive`,
        });
      if (p.name !== undefined) {
        if (!IANA_SVC_NAME.test(p.name) || p.name.length > 15)
          causes.push({
            reason: 'FieldValueInvalid',
            field: `${at}.ports[${j}].name`,
            message: `Invalid value: "${p.name}": must be no more than 15 characters`,
          });
        if (portNames.has(p.name))
          causes.push({
            reason: 'FieldValueDuplicate',
            field: `${at}.ports[${j}].name`,
            message: `Duplicate value: "${p.name}"`,
          });
        portNames.add(p.name);
      }
    });
    (c.volumeMounts ?? []).forEach((vm: any, j: number) => {
      if (!volumes.has(vm.name))
        causes.push({
          reason: 'FieldValueNotFound',
          field: `${at}.volumeMounts[${j}].name`,
          message: `Not found: "${vm.name}"`,
        });
      if (!String(vm.mountPath ?? '').startsWith('/'))
        causes.push({
          reason: 'FieldValueInvalid',
          field: `${at}.volumeMounts[${j}].mountPath`,
          message: 'Invalid value: must be an absolute path',
        });
    });
  });
}

function selectorMismatch(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length === 0 || entries.some(([k, v]) => labels?.[k] !== v);
}

function checkKind(def: KindDef, obj: KObject, causes: FieldCause[]): void {
  const spec = obj.spec ?? {};
  switch (def.plural) {
    case 'pods':
      checkPodSpec(spec, 'spec', false, causes);
      break;
    case 'replicationcontrollers':
      if (Object.keys(spec.selector ?? {}).length === 0)
        causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
      else if (selectorMismatch(spec.selector, spec.template?.metadata?.labels)) {
        causes.push({
          reason: 'FieldValueInvalid',
          field: 'spec.template.metadata.labels',
          message: `Invalid value: ${JSON.stringify(spec.template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\``,
        });
      }
      if (spec.replicas !== undefined && spec.replicas < 0)
        causes.push({
          reason: 'FieldValueInvalid',
          field: 'spec.replicas',
          message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
        });
      if (!spec.template)
        causes.push({ reason: 'FieldValueRequired', field: 'spec.template', message: 'Required value' });
      checkPodSpec(spec.template?.spec, 'spec.template.spec', true, causes);
      break;
    case 'deployments':
      if (selectorMismatch(spec.selector?.matchLabels, spec.template?.metadata?.labels)) {
        causes.push({
          reason: 'FieldValueInvalid',
          field: 'spec.template.metadata.labels',
          message: 'Invalid value: `selector` does not match template `labels`',
        });
      }
      checkPodSpec(spec.template?.spec, 'spec.template.spec', true, causes);
      break;
    case 'services': {
      const ports: any[] = spec.ports ?? [];
      if (ports.length === 0 && spec.type !== 'ExternalName' && spec.clusterIP !== 'None')
        causes.push({ reason: 'FieldValueRequired', field: 'spec.ports', message: 'Required value' });
      const seen = new Set<string>();
      ports.forEach((p, i) => {
        if (ports.length > 1 && !p.name)
          causes.push({
            reason: 'FieldValueRequired',
            field: `spec.ports[${i}].name`,
            message: 'Required value',
          });
        if (p.name) {
          if (seen.has(p.name))
            causes.push({
              reason: 'FieldValueDuplicate',
              field: `spec.ports[${i}].name`,
              message: `Duplicate value: "${p.name}"`,
            });
          seen.add(p.name);
        }
        if (!(p.port >= 1 && p.port <= 65535))
          causes.push({
            reason: 'FieldValueInvalid',
            field: `spec.ports[${i}].port`,
            message: `Invalid value: ${p.port}: must be between 1 and 65535, inclusive`,
          });
        const t = p.targetPort;
        if (typeof t === 'number' && !(t >= 1 && t <= 65535))
          causes.push({
            reason: 'FieldValueInvalid',
            field: `spec.ports[${i}].targetPort`,
            message: `Invalid value: ${t}: must be between 1 and 65535, inclusive`,
          });
        if (typeof t === 'string' && (!IANA_SVC_NAME.test(t) || t.length > 15))
          causes.push({
            reason: 'FieldValueInvalid',
            field: `spec.ports[${i}].targetPort`,
            message: `Invalid value: "${t}": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
          });
        if (p.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(p.protocol))
          causes.push({
            reason: 'FieldValueNotSupported',
            field: `spec.ports[${i}].protocol`,
            message: `Unsupported value: "${p.protocol}": supported values: "SCTP", "TCP", "UDP"`,
          });
      });
      if (
        spec.type !== undefined &&
        !['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'].includes(spec.type)
      ) {
        causes.push({
          reason: 'FieldValueNotSupported',
          field: 'spec.type',
          message: `Unsupported value: "${spec.type}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
        });
      }
      break;
    }
    case 'secrets':
      for (const [k, v] of Object.entries(obj.data ?? {})) {
        if (typeof v !== 'string' || Buffer.from(v, 'base64').toString('base64') !== v) {
          causes.push({
            reason: 'FieldValueInvalid',
            field: `data[${k}]`,
            message: 'Invalid value: illegal base64 data',
          });
        }
      }
      break;
    default:
      break;
  }
}

/**
 * Every check of the three layers, in the API server's order: decoding (strict fields),
 * then schema, then the server's own validation. Throws Rejection.
 */
export function validateObject(def: KindDef, obj: KObject, urlNamespace: string): void {
  if (obj.apiVersion !== apiVersionOf(def) || obj.kind !== def.kind) {
    throw new Rejection(
      400,
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(def)}), or the kind (${obj.kind}) is not ${def.kind}`,
    );
  }
  if (obj.metadata?.namespace && obj.metadata.namespace !== urlNamespace) {
    throw new Rejection(
      400,
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  }
  const unknown = unknownFields(obj, def.clientType);
  if (unknown.length > 0) {
    throw new Rejection(
      400,
      `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  }
  const causes = schemaCauses(def, obj);
  if (def.plural !== 'scale') {
    checkMetadata(def, obj, causes);
    checkKind(def, obj, causes);
  }
  if (causes.length > 0) {
    const detail = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
    throw new Rejection(422, `${def.kind} "${obj.metadata?.name ?? ''}" is invalid: ${detail}`, causes);
  }
}

// ---- patches ----------------------------------------------------------------------------

/** RFC 7386 JSON merge patch: objects merge, `null` deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * The merge keys of the lists Slipway's patches touch (from the Kubernetes API's
 * `x-kubernetes-patch-merge-key` markers); any other list is replaced whole.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
};

/** Strategic merge patch for the lists above: items merge by key; `$patch: delete` removes one. */
export function strategicMergePatch(target: unknown, patch: unknown, key = ''): unknown {
  if (Array.isArray(patch)) {
    const mergeKey = MERGE_KEYS[key];
    if (!mergeKey || !Array.isArray(target)) return structuredClone(patch);
    const out = structuredClone(target) as Record<string, unknown>[];
    for (const item of patch as Record<string, unknown>[]) {
      const i = out.findIndex((o) => o[mergeKey] === item[mergeKey]);
      if (item.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = strategicMergePatch(out[i], item) as Record<string, unknown>;
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (patch === null || typeof patch !== 'object') return structuredClone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys') continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}
