/** How the CLI prints resources: `oc`-style tables, or JSON/YAML/name. */
import type { BuildStatus } from '../core/build-types.js';
import type { ImageStreamStatus } from '../core/image-types.js';
import type { KindInfo, Resource } from '../core/resource.js';

/** YAML text of a value; the yaml package loads only for the output that needs it. */
async function yamlText(value: unknown): Promise<string> {
  const { stringify } = await import('yaml');
  return stringify(value).trimEnd();
}

export function age(timestamp: string | undefined, now = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const s = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function duration(nanos: number | undefined): string {
  if (nanos === undefined) return '';
  return `${Math.round(nanos / 1e9)}s`;
}

function fromOf(spec: Record<string, unknown> | undefined): string {
  const strategy = (spec?.strategy ?? {}) as {
    type?: string;
    sourceStrategy?: { from?: { name: string } };
    dockerStrategy?: { from?: { name: string } };
  };
  const source = (spec?.source ?? {}) as { git?: { uri?: string }; dockerfile?: string; type?: string };
  if (source.git?.uri) return 'Git';
  if (source.dockerfile !== undefined) return 'Dockerfile';
  return source.type ?? strategy.type ?? '';
}

function columns(info: KindInfo, obj: Resource, allNamespaces: boolean): string[] {
  const ns = allNamespaces ? [obj.metadata.namespace ?? ''] : [];
  const spec = obj.spec as Record<string, unknown> | undefined;
  switch (info.kind) {
    case 'BuildConfig': {
      const strategy = (spec?.strategy as { type?: string } | undefined)?.type ?? '';
      const last = (obj.status as { lastVersion?: number } | undefined)?.lastVersion ?? 0;
      return [...ns, obj.metadata.name, strategy, fromOf(spec), String(last)];
    }
    case 'Build': {
      const s = (obj.status ?? {}) as BuildStatus;
      const strategy = (spec?.strategy as { type?: string } | undefined)?.type ?? '';
      const commit = (spec?.revision as { git?: { commit?: string } } | undefined)?.git?.commit;
      const phase = s.reason && s.phase !== 'Complete' ? `${s.phase} (${s.reason})` : (s.phase ?? 'New');
      return [
        ...ns,
        obj.metadata.name,
        strategy,
        `${fromOf(spec)}${commit ? `@${commit.slice(0, 7)}` : ''}`,
        phase,
        age(s.startTimestamp),
        duration(s.duration),
      ];
    }
    case 'ImageStream': {
      const s = (obj.status ?? {}) as ImageStreamStatus;
      const tags = (s.tags ?? []).map((t) => t.tag).join(',');
      const updated = (s.tags ?? [])
        .map((t) => t.items[0]?.created ?? '')
        .sort()
        .pop();
      return [...ns, obj.metadata.name, s.dockerImageRepository ?? '', tags, updated ? age(updated) : ''];
    }
    case 'Secret': {
      const data = (obj as { data?: Record<string, string> }).data ?? {};
      return [
        ...ns,
        obj.metadata.name,
        String((obj as { type?: string }).type ?? 'Opaque'),
        String(Object.keys(data).length),
        age(obj.metadata.creationTimestamp),
      ];
    }
    case 'DeploymentConfig': {
      // As `oc get dc`: the revision, replicas wanted and running, what triggers it.
      const st = (obj.status ?? {}) as { latestVersion?: number; replicas?: number };
      const triggers = (
        (spec?.triggers ?? []) as { type: string; imageChangeParams?: { from?: { name?: string } } }[]
      )
        .map((t) =>
          t.type === 'ConfigChange' ? 'config' : `image(${t.imageChangeParams?.from?.name ?? ''})`,
        )
        .join(',');
      return [
        ...ns,
        obj.metadata.name,
        String(st.latestVersion ?? 0),
        String(spec?.replicas ?? 1),
        String(st.replicas ?? 0),
        triggers,
      ];
    }
    case 'Deployment': {
      // As `kubectl get deploy`.
      const st = (obj.status ?? {}) as {
        readyReplicas?: number;
        updatedReplicas?: number;
        availableReplicas?: number;
      };
      return [
        ...ns,
        obj.metadata.name,
        `${st.readyReplicas ?? 0}/${String(spec?.replicas ?? 1)}`,
        String(st.updatedReplicas ?? 0),
        String(st.availableReplicas ?? 0),
        age(obj.metadata.creationTimestamp),
      ];
    }
    case 'ReplicationController': {
      const st = (obj.status ?? {}) as { replicas?: number; readyReplicas?: number };
      return [
        ...ns,
        obj.metadata.name,
        String(spec?.replicas ?? 0),
        String(st.replicas ?? 0),
        String(st.readyReplicas ?? 0),
        obj.metadata.annotations?.['openshift.io/deployment.phase'] ?? '',
        age(obj.metadata.creationTimestamp),
      ];
    }
    case 'Template': {
      // As `oc get templates`: what it is for, its parameters (how many generated), its objects.
      const t = obj as { parameters?: { generate?: string }[]; objects?: unknown[] };
      const params = t.parameters ?? [];
      const generated = params.filter((p) => p.generate === 'expression').length;
      const description = (obj.metadata.annotations?.description ?? '').replace(/\s+/g, ' ');
      return [
        ...ns,
        obj.metadata.name,
        description.length > 50 ? `${description.slice(0, 47)}...` : description,
        `${params.length} (${generated} generated)`,
        String((t.objects ?? []).length),
      ];
    }
    case 'ResourceQuota': {
      // As `oc get quota`: used/hard of each resource, object counts and pods apart from limits.
      const st = (obj.status ?? {}) as { hard?: Record<string, unknown>; used?: Record<string, unknown> };
      const hard = st.hard ?? ((spec?.hard ?? {}) as Record<string, unknown>);
      const pairs = (keep: (r: string) => boolean): string =>
        Object.keys(hard)
          .filter(keep)
          .sort()
          .map((r) => `${r}: ${String(st.used?.[r] ?? '0')}/${String(hard[r])}`)
          .join(', ');
      return [
        ...ns,
        obj.metadata.name,
        age(obj.metadata.creationTimestamp),
        pairs((r) => !r.startsWith('limits.')),
        pairs((r) => r.startsWith('limits.')),
      ];
    }
    default:
      return [...ns, obj.metadata.name, age(obj.metadata.creationTimestamp)];
  }
}

function headers(info: KindInfo, allNamespaces: boolean): string[] {
  const ns = allNamespaces ? ['NAMESPACE'] : [];
  switch (info.kind) {
    case 'BuildConfig':
      return [...ns, 'NAME', 'TYPE', 'FROM', 'LATEST'];
    case 'Build':
      return [...ns, 'NAME', 'TYPE', 'FROM', 'STATUS', 'STARTED', 'DURATION'];
    case 'ImageStream':
      return [...ns, 'NAME', 'IMAGE REPOSITORY', 'TAGS', 'UPDATED'];
    case 'Secret':
      return [...ns, 'NAME', 'TYPE', 'DATA', 'AGE'];
    case 'DeploymentConfig':
      return [...ns, 'NAME', 'REVISION', 'DESIRED', 'CURRENT', 'TRIGGERED BY'];
    case 'Deployment':
      return [...ns, 'NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'];
    case 'ReplicationController':
      return [...ns, 'NAME', 'DESIRED', 'CURRENT', 'READY', 'PHASE', 'AGE'];
    case 'Template':
      return [...ns, 'NAME', 'DESCRIPTION', 'PARAMETERS', 'OBJECTS'];
    case 'ResourceQuota':
      return [...ns, 'NAME', 'AGE', 'REQUEST', 'LIMIT'];
    default:
      return [...ns, 'NAME', 'AGE'];
  }
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

export async function formatResources(
  info: KindInfo,
  items: Resource[],
  format: string | undefined,
  allNamespaces = false,
): Promise<string> {
  if (format === 'json')
    return JSON.stringify(items.length === 1 ? items[0] : { kind: 'List', apiVersion: 'v1', items }, null, 2);
  if (format === 'yaml')
    return yamlText(items.length === 1 ? items[0] : { kind: 'List', apiVersion: 'v1', items });
  if (format === 'name')
    return items
      .map((i) => `${info.kind.toLowerCase()}.${info.group || 'core'}/${i.metadata.name}`)
      .join('\n');
  if (format !== undefined && format !== 'wide')
    throw new Error(`error: unknown output format "${format}": use json, yaml, name or wide`);
  if (items.length === 0) return 'No resources found.';
  return table([headers(info, allNamespaces), ...items.map((i) => columns(info, i, allNamespaces))]);
}

/** `oc describe`-style: a summary for builds, then the object as YAML. */
export async function describe(info: KindInfo, obj: Resource): Promise<string> {
  const lines = [
    `Name:\t\t${obj.metadata.name}`,
    `Namespace:\t${obj.metadata.namespace}`,
    `Created:\t${age(obj.metadata.creationTimestamp)} ago`,
  ];
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) lines.push(`Label:\t\t${k}=${v}`);
  if (info.kind === 'Build') {
    const s = (obj.status ?? {}) as BuildStatus;
    lines.push(`Status:\t\t${s.phase ?? 'New'}${s.reason ? ` (${s.reason})` : ''}`);
    if (s.message) lines.push(`Message:\t${s.message}`);
    if (s.startTimestamp) lines.push(`Started:\t${s.startTimestamp}`);
    if (s.duration !== undefined) lines.push(`Duration:\t${duration(s.duration)}`);
    if (s.outputDockerImageReference) lines.push(`Output to:\t${s.outputDockerImageReference}`);
    if (s.output?.to?.imageDigest) lines.push(`Digest:\t\t${s.output.to.imageDigest}`);
    for (const st of s.stages ?? []) lines.push(`Stage:\t\t${st.name} ${st.durationMilliseconds}ms`);
    if (s.logSnippet) lines.push('Log Tail:', ...s.logSnippet.split('\n').map((l) => `\t${l}`));
  }
  lines.push('', await yamlText({ spec: obj.spec, status: obj.status }));
  return lines.join('\n');
}
