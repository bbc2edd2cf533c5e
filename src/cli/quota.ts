/**
 * Quotas and usage from the command line: `slipway describe quota [NAME]` prints the
 * Resource / Used / Hard table `oc describe quota` prints; `slipway usage` prints the
 * project's usage report (build time, image storage per ImageStream, replicas).
 */
import type { Command } from 'commander';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import type { SlipwayClient } from './client.js';
import { table } from './output.js';

const RESOURCE_QUOTA = lookupKind('v1', 'ResourceQuota')!;

/** One quota as `oc describe quota` shows it. */
export function describeQuota(quota: Resource): string {
  const status = (quota.status ?? {}) as { hard?: Record<string, unknown>; used?: Record<string, unknown> };
  const hard = status.hard ?? (quota.spec as { hard?: Record<string, unknown> } | undefined)?.hard ?? {};
  const rows = Object.keys(hard)
    .sort()
    .map((r) => [r, String(status.used?.[r] ?? '0'), String(hard[r])]);
  return [
    `Name:       ${quota.metadata.name}`,
    `Namespace:  ${quota.metadata.namespace ?? ''}`,
    table([['Resource', 'Used', 'Hard'], ['--------', '----', '----'], ...rows]),
  ].join('\n');
}

/** `1.5 GiB`, `12.0 MiB`, `512 B`. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

export interface UsageReport {
  metadata: { name: string };
  builds: { finished: number; seconds: number; minutes: number };
  images: { streams: { name: string; images: number; bytes: number }[]; totalBytes: number };
  replicas: { running: number; ready: number; revisions: { name: string; running: number; ready: number }[] };
  quotas: { name: string; hard?: Record<string, unknown>; used?: Record<string, unknown> }[];
}

export function formatUsage(u: UsageReport): string {
  const lines = [
    `Project:        ${u.metadata.name}`,
    `Build minutes:  ${u.builds.minutes} (${u.builds.finished} finished builds)`,
    `Image storage:  ${humanBytes(u.images.totalBytes)} (layers shared between image streams counted once)`,
    `Replicas:       ${u.replicas.running} running, ${u.replicas.ready} ready`,
  ];
  if (u.images.streams.length > 0)
    lines.push(
      '',
      table([
        ['IMAGESTREAM', 'IMAGES', 'STORAGE'],
        ...u.images.streams.map((s) => [s.name, String(s.images), humanBytes(s.bytes)]),
      ]),
    );
  if (u.replicas.revisions.length > 0)
    lines.push(
      '',
      table([
        ['REVISION', 'RUNNING', 'READY'],
        ...u.replicas.revisions.map((r) => [r.name, String(r.running), String(r.ready)]),
      ]),
    );
  for (const q of u.quotas) {
    const rows = Object.keys(q.hard ?? {})
      .sort()
      .map((r) => [r, String(q.used?.[r] ?? '0'), String(q.hard?.[r])]);
    lines.push('', `Quota ${q.name}:`, table([['Resource', 'Used', 'Hard'], ...rows]));
  }
  return lines.join('\n');
}

/** `slipway describe quota` without a name: every quota of the project, as `oc describe quota` does. */
export async function describeQuotas(c: SlipwayClient, namespace: string, name?: string): Promise<string> {
  const quotas =
    name !== undefined
      ? [await c.json<Resource>('GET', resourcePath(RESOURCE_QUOTA, namespace, name))]
      : await c.list(RESOURCE_QUOTA, namespace);
  if (quotas.length === 0) return `No resource quotas found in namespace "${namespace}".`;
  return quotas.map(describeQuota).join('\n\n');
}

export function registerQuotaCommands(program: Command, client: () => SlipwayClient, ns: () => string): void {
  program
    .command('usage')
    .description("the project's usage: build minutes, image storage per image stream, replicas, quotas")
    .option('-o, --output <format>', 'json for the report as the server sends it')
    .action(async (opts: { output?: string }) => {
      const c = client();
      const report = await c.json<UsageReport>(
        'GET',
        `/apis/slipway.dev/v1/namespaces/${encodeURIComponent(ns())}/usage`,
      );
      console.log(opts.output === 'json' ? JSON.stringify(report, null, 2) : formatUsage(report));
    });
}
