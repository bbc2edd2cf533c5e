/**
 * `slipway rollout latest|undo|history|status|cancel|pause|resume dc/NAME`, as `oc rollout`.
 */
import type { Command } from 'commander';
import type { DeploymentCause, DeploymentConfig } from '../core/deploy-types.js';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import { ApiError, type SlipwayClient } from './client.js';
import { age, table } from './output.js';

const DC = lookupKind('apps.openshift.io/v1', 'DeploymentConfig')!;
const RC = lookupKind('v1', 'ReplicationController')!;
const PHASE = 'openshift.io/deployment.phase';

/** `dc/web`, `deploymentconfig/web` or `web` → `web`. */
export function dcName(target: string): string {
  const m =
    /^(?:(dc|deploymentconfig|deploymentconfigs|deploymentconfigs\.apps\.openshift\.io)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(
      target,
    );
  if (!m) throw new ApiError(0, `error: "${target}" is not dc/NAME`);
  return m[2]!;
}

function causeText(causes: DeploymentCause[]): string {
  return causes
    .map((c) =>
      c.type === 'ImageChange' && c.imageTrigger
        ? `image change (${c.imageTrigger.from.name})`
        : c.type === 'ConfigChange'
          ? 'config change'
          : c.type === 'Rollback'
            ? 'rollback'
            : 'manual change',
    )
    .join(', ');
}

async function revisions(c: SlipwayClient, ns: string, name: string): Promise<Resource[]> {
  return c.list(RC, ns, `openshift.io/deployment-config.name=${name}`);
}

/** Waits for the rollout of `version` to end, printing progress lines; resolves its phase. */
async function watchRollout(
  c: SlipwayClient,
  ns: string,
  name: string,
  version: number,
  timeoutMs: number,
): Promise<string> {
  const rc = `${name}-${version}`;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await c.get(RC, ns, rc);
    const phase = r?.metadata.annotations?.[PHASE] ?? 'New';
    const st = (r?.status ?? {}) as { replicas?: number; readyReplicas?: number };
    const spec = (r?.spec ?? {}) as { replicas?: number };
    const line = `Waiting for rollout to finish: ${st.readyReplicas ?? 0} of ${spec.replicas ?? 0} updated replicas are ready (${phase})...`;
    if (phase === 'Complete' || phase === 'Failed') return phase;
    if (line !== last) console.log(line);
    last = line;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new ApiError(0, `error: timed out waiting for ${rc}`);
}

export function registerRolloutCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  const rollout = program
    .command('rollout')
    .description(
      'manage rollouts of DeploymentConfigs: latest, undo, history, status, cancel, pause, resume',
    );

  rollout
    .command('latest')
    .description('start a new rollout now, with the newest images of its triggers')
    .argument('<dc>', 'dc/NAME')
    .action(async (target: string) => {
      const c = client();
      const name = dcName(target);
      const dc = await c.json<DeploymentConfig>(
        'POST',
        `${resourcePath(DC, namespace(), name)}/instantiate`,
        {
          kind: 'DeploymentRequest',
          apiVersion: 'apps.openshift.io/v1',
          name,
          latest: true,
          force: true,
        },
      );
      console.log(
        `deploymentconfig.apps.openshift.io/${name} rolled out (revision ${dc.status?.latestVersion ?? 0})`,
      );
    });

  rollout
    .command('undo')
    .description(
      'roll back to the previous complete revision, or --to-revision N; turns automatic image triggers off',
    )
    .argument('<dc>', 'dc/NAME')
    .option('--to-revision <n>', 'the revision to roll back to')
    .action(async (target: string, opts: { toRevision?: string }) => {
      const c = client();
      const name = dcName(target);
      const body: Record<string, unknown> = {
        kind: 'DeploymentConfigRollback',
        apiVersion: 'apps.openshift.io/v1',
        name,
        spec: {},
      };
      if (opts.toRevision !== undefined) {
        const n = Number(opts.toRevision);
        if (!Number.isInteger(n) || n < 1)
          throw new ApiError(0, `error: --to-revision "${opts.toRevision}" is not a revision number`);
        body.spec = { revision: n };
      }
      const res = await c.json<DeploymentConfig & { rollback?: { to: string; disabledTriggers: string[] } }>(
        'POST',
        `${resourcePath(DC, namespace(), name)}/rollback`,
        body,
      );
      console.log(
        `deploymentconfig.apps.openshift.io/${name} rolled back to ${res.rollback?.to ?? '?'} (new revision ${res.status?.latestVersion ?? 0})`,
      );
      if (res.rollback?.disabledTriggers.length) {
        console.log(
          `Warning: the following image triggers were disabled: ${res.rollback.disabledTriggers.join(', ')}`,
        );
        console.log(
          `  Re-enable them by setting spec.triggers[].imageChangeParams.automatic: true and applying dc/${name} again.`,
        );
      }
    });

  rollout
    .command('history')
    .description('list the revisions of a DeploymentConfig, or show one with --revision')
    .argument('<dc>', 'dc/NAME')
    .option('--revision <n>', 'show the template of this revision')
    .action(async (target: string, opts: { revision?: string }) => {
      const c = client();
      const name = dcName(target);
      // An unknown config is a 404 (as in oc), not an empty history.
      await c.json('GET', resourcePath(DC, namespace(), name));
      const items = await revisions(c, namespace(), name);
      if (opts.revision) {
        const rc = items.find((r) => r.metadata.name === `${name}-${opts.revision}`);
        if (!rc) throw new ApiError(0, `error: revision ${opts.revision} of ${name} not found`);
        console.log(JSON.stringify((rc.spec as { template?: unknown }).template, null, 2));
        return;
      }
      if (items.length === 0) return console.log(`No rollout history found for dc/${name}.`);
      const rows = items.map((r) => {
        const causes = JSON.parse(
          r.metadata.annotations?.['slipway.dev/deployment.causes'] ?? '[]',
        ) as DeploymentCause[];
        const reason = r.metadata.annotations?.['openshift.io/deployment.status-reason'];
        return [
          r.metadata.annotations?.['openshift.io/deployment-config.latest-version'] ?? '',
          r.metadata.annotations?.[PHASE] ?? 'New',
          causeText(causes),
          age(r.metadata.creationTimestamp),
          reason ?? '',
        ];
      });
      console.log(`deploymentconfigs "${name}"`);
      console.log(table([['REVISION', 'STATUS', 'CAUSE', 'AGE', 'REASON'], ...rows]));
    });

  rollout
    .command('status')
    .description('wait for the latest rollout to finish; exit non-zero if it failed')
    .argument('<dc>', 'dc/NAME')
    .option('--timeout <seconds>', 'give up after this long', '900')
    .option('-w, --watch <bool>', 'wait for the rollout (false: print the state once)', 'true')
    .action(async (target: string, opts: { timeout: string; watch: string }) => {
      const c = client();
      const name = dcName(target);
      const dc = await c.json<DeploymentConfig>('GET', resourcePath(DC, namespace(), name));
      const version = dc.status?.latestVersion ?? 0;
      if (version === 0)
        throw new ApiError(
          0,
          `error: dc/${name} has no rollout yet${dc.spec.paused ? ' (it is paused)' : ''}`,
        );
      const phase =
        opts.watch === 'false'
          ? ((await c.get(RC, namespace(), `${name}-${version}`))?.metadata.annotations?.[PHASE] ?? 'New')
          : await watchRollout(c, namespace(), name, version, Number(opts.timeout) * 1000);
      if (phase === 'Complete')
        console.log(`replication controller "${name}-${version}" successfully rolled out`);
      else if (phase === 'Failed') {
        const after = await c.json<DeploymentConfig>('GET', resourcePath(DC, namespace(), name));
        const cond = after.status?.conditions?.find((x) => x.type === 'Progressing');
        process.stderr.write(
          `error: replication controller "${name}-${version}" has failed progressing${cond?.message ? `: ${cond.message}` : ''}\n`,
        );
        process.exitCode = 1;
      } else console.log(`rollout of ${name}-${version} is ${phase}`);
    });

  rollout
    .command('cancel')
    .description('cancel the rollout in progress; the previous revision keeps serving')
    .argument('<dc>', 'dc/NAME')
    .action(async (target: string) => {
      const c = client();
      const name = dcName(target);
      const rc = await c.json('POST', `${resourcePath(DC, namespace(), name)}/cancel`, {});
      console.log(`deploymentconfig.apps.openshift.io/${name}: cancelling rollout ${rc.metadata.name}`);
    });

  for (const verb of ['pause', 'resume'] as const) {
    rollout
      .command(verb)
      .description(
        verb === 'pause' ? 'stop triggers from starting rollouts' : 'let triggers start rollouts again',
      )
      .argument('<dc>', 'dc/NAME')
      .action(async (target: string) => {
        const c = client();
        const name = dcName(target);
        await c.json('POST', `${resourcePath(DC, namespace(), name)}/${verb}`, {});
        console.log(`deploymentconfig.apps.openshift.io/${name} ${verb}d`);
      });
  }
}
