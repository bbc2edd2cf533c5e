/**
 * `slipway status`, as `oc status`: each app of the namespace as one line of its path,
 * repository@commit → build → image → revision → URL, and what is failing on it
 * (src/cli/status-format.ts decides; this file reads).
 */
import type { Command } from 'commander';
import { lookupKind } from '../core/resource.js';
import type { SlipwayClient } from './client.js';
import { serverInfo } from './server-info.js';
import { appStatuses, formatStatus, type NamespaceObjects } from './status-format.js';

const kind = (apiVersion: string, k: string) => lookupKind(apiVersion, k)!;

export async function readNamespace(c: SlipwayClient, ns: string): Promise<NamespaceObjects> {
  const [buildConfigs, builds, imageStreams, deploymentConfigs, replicationControllers, services, routes] =
    await Promise.all([
      c.list(kind('build.openshift.io/v1', 'BuildConfig'), ns),
      c.list(kind('build.openshift.io/v1', 'Build'), ns),
      c.list(kind('image.openshift.io/v1', 'ImageStream'), ns),
      c.list(kind('apps.openshift.io/v1', 'DeploymentConfig'), ns),
      c.list(kind('v1', 'ReplicationController'), ns),
      c.list(kind('v1', 'Service'), ns),
      c.list(kind('route.openshift.io/v1', 'Route'), ns),
    ]);
  return { buildConfigs, builds, imageStreams, deploymentConfigs, replicationControllers, services, routes };
}

export function registerStatusCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  program
    .command('status')
    .description(
      'show each app of the namespace as its path, repository@commit → build → image → revision → URL, and what is failing',
    )
    .option('-o, --output <format>', 'json: the apps as data')
    .action(async (opts: { output?: string }) => {
      const c = client();
      const ns = namespace();
      if (opts.output !== undefined && opts.output !== 'json')
        throw new Error(`-o ${opts.output}: status prints text, or json with -o json`);
      const [objects, info] = await Promise.all([readNamespace(c, ns), serverInfo(c)]);
      const apps = appStatuses(objects, ns, info.router);
      console.log(
        opts.output === 'json'
          ? JSON.stringify({ namespace: ns, apps }, null, 2)
          : formatStatus(ns, c.server, apps),
      );
    });
}
