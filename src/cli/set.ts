/**
 * `slipway set env` and `slipway set triggers`, as `oc set`: the environment of a
 * DeploymentConfig's containers or a BuildConfig's strategy, and the triggers of either.
 * docs/getting-started.md lists the trigger flags this subset takes.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { BuildConfigSpec, BuildTriggerPolicy, EnvVar } from '../core/build-types.js';
import type { DeploymentConfigSpec, DeploymentTriggerPolicy } from '../core/deploy-types.js';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import type { SlipwayClient } from './client.js';
import { configTarget, editResource, fail, qualifiedName } from './edit.js';
import { serverInfo } from './server-info.js';
import { WEBHOOK_SECRET_KEY, webhookUrl } from './new-app-resources.js';
import { table } from './output.js';

const SECRET = lookupKind('v1', 'Secret')!;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export type EnvChange = { name: string; value: string } | { name: string; remove: true };

/** `K=V` sets, `K-` removes; anything else is refused with the argument named. */
export function parseEnvArgs(args: readonly string[]): EnvChange[] {
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg.endsWith('-') ? arg.slice(0, -1) : undefined;
    if (name === undefined) fail(`"${arg}" is neither NAME=VALUE (set) nor NAME- (remove)`);
    if (!ENV_NAME.test(name))
      fail(
        `"${name}" is not an environment variable name (letters, digits, "_", "-", "."; not starting with a digit)`,
      );
    return eq >= 0 ? { name, value: arg.slice(eq + 1) } : { name, remove: true as const };
  });
}

/** Pure: `env` after the changes, in order; a set of an existing name replaces it in place. */
export function applyEnvChanges(env: readonly EnvVar[], changes: readonly EnvChange[]): EnvVar[] {
  let out = env.map((e) => ({ ...e }));
  for (const ch of changes) {
    if ('remove' in ch) out = out.filter((e) => e.name !== ch.name);
    else {
      const i = out.findIndex((e) => e.name === ch.name);
      if (i >= 0) out[i] = { name: ch.name, value: ch.value };
      else out.push({ name: ch.name, value: ch.value });
    }
  }
  return out;
}

/** The env lists a target holds: each DC container's, or the BC strategy's. */
function envLists(
  obj: Resource,
  kind: 'dc' | 'bc',
  containers: string | undefined,
): { label: string; get: () => EnvVar[]; set: (env: EnvVar[]) => void }[] {
  if (kind === 'dc') {
    const spec = obj.spec as DeploymentConfigSpec;
    const all = spec.template.spec.containers;
    const chosen = containers === undefined ? all : all.filter((c) => c.name === containers);
    if (chosen.length === 0) fail(`dc/${obj.metadata.name} has no container "${containers}"`);
    return chosen.map((c) => ({
      label: `container ${c.name}`,
      get: () => c.env ?? [],
      set: (env) => (c.env = env),
    }));
  }
  if (containers !== undefined) fail('--containers is for dc/NAME; a build config has one environment');
  const strategy = (obj.spec as BuildConfigSpec).strategy;
  const holder =
    strategy.type === 'Source'
      ? strategy.sourceStrategy
      : strategy.type === 'Docker'
        ? (strategy.dockerStrategy ??= {})
        : undefined;
  if (!holder)
    fail(`bc/${obj.metadata.name} has a ${strategy.type} strategy, whose environment set env does not edit`);
  return [
    { label: `${strategy.type} strategy`, get: () => holder.env ?? [], set: (env) => (holder.env = env) },
  ];
}

function envLine(e: EnvVar): string {
  if (e.value !== undefined) return `${e.name}=${e.value}`;
  return `# ${e.name} from ${Object.keys(e.valueFrom ?? {})[0] ?? 'a reference'}`;
}

// ---- triggers -----------------------------------------------------------------------

export interface TriggerFlags {
  auto?: boolean;
  manual?: boolean;
  fromConfig?: boolean;
  fromImage?: string;
  containers?: string;
  fromGithub?: boolean;
  fromWebhook?: boolean;
  remove?: boolean;
  removeAll?: boolean;
}

/** `IS:TAG`, `NS/IS:TAG` (`:latest` when no tag) → an ImageStreamTag reference. */
export function parseImageTrigger(value: string): {
  kind: 'ImageStreamTag';
  name: string;
  namespace?: string;
} {
  const m =
    /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([\w][\w.-]{0,127}))?$/.exec(
      value,
    );
  if (!m) fail(`--from-image "${value}" is not IMAGESTREAM:TAG or NAMESPACE/IMAGESTREAM:TAG`);
  return {
    kind: 'ImageStreamTag',
    name: `${m[3]}:${m[5] ?? 'latest'}`,
    ...(m[1] ? { namespace: m[1] } : {}),
  };
}

const sameRef = (
  a: { name: string; namespace?: string | undefined } | undefined,
  b: { name: string; namespace?: string | undefined },
): boolean => a !== undefined && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');

/** Pure: a DeploymentConfig's triggers after the flags; throws on flags that do not apply. */
export function editDeploymentTriggers(
  triggers: readonly DeploymentTriggerPolicy[],
  flags: TriggerFlags,
): DeploymentTriggerPolicy[] {
  if (flags.fromGithub || flags.fromWebhook)
    fail('--from-github and --from-webhook are build triggers: use bc/NAME');
  let out = structuredClone([...triggers]);
  if (flags.removeAll) return [];
  if (flags.fromConfig) {
    out = out.filter((t) => t.type !== 'ConfigChange');
    if (!flags.remove) out.unshift({ type: 'ConfigChange' });
  }
  if (flags.fromImage !== undefined) {
    const from = parseImageTrigger(flags.fromImage);
    out = out.filter((t) => !(t.type === 'ImageChange' && sameRef(t.imageChangeParams?.from, from)));
    if (!flags.remove) {
      if (!flags.containers)
        fail('--from-image on a deployment config needs --containers NAME[,NAME] to update');
      out.push({
        type: 'ImageChange',
        imageChangeParams: { automatic: true, containerNames: flags.containers.split(','), from },
      });
    }
  }
  if (flags.auto || flags.manual) {
    // As oc: --manual stops every trigger from acting (ConfigChange goes, images stop
    // being followed); --auto turns them back on.
    if (flags.manual) out = out.filter((t) => t.type !== 'ConfigChange');
    else if (!out.some((t) => t.type === 'ConfigChange')) out.unshift({ type: 'ConfigChange' });
    for (const t of out) if (t.imageChangeParams) t.imageChangeParams.automatic = flags.auto === true;
  }
  return out;
}

/** Pure: a BuildConfig's triggers after the flags; webhook triggers name `secretName(type)`. */
export function editBuildTriggers(
  triggers: readonly BuildTriggerPolicy[],
  flags: TriggerFlags,
  secretName: (type: 'github' | 'generic') => string,
): BuildTriggerPolicy[] {
  if (flags.auto || flags.manual)
    fail('--auto and --manual are for dc/NAME; on a build config add or --remove triggers');
  if (flags.containers) fail('--containers is for dc/NAME');
  let out = structuredClone([...triggers]);
  if (flags.removeAll) return [];
  const toggle = (type: BuildTriggerPolicy['type'], make: () => BuildTriggerPolicy): void => {
    out = out.filter((t) => t.type !== type);
    if (!flags.remove) out.push(make());
  };
  if (flags.fromConfig) toggle('ConfigChange', () => ({ type: 'ConfigChange' }));
  if (flags.fromGithub)
    toggle('GitHub', () => ({ type: 'GitHub', github: { secretReference: { name: secretName('github') } } }));
  if (flags.fromWebhook)
    toggle('Generic', () => ({
      type: 'Generic',
      generic: { secretReference: { name: secretName('generic') } },
    }));
  if (flags.fromImage !== undefined) {
    const from = parseImageTrigger(flags.fromImage);
    out = out.filter((t) => !(t.type === 'ImageChange' && sameRef(t.imageChange?.from, from)));
    if (!flags.remove) out.push({ type: 'ImageChange', imageChange: { from } });
  }
  return out;
}

/** The rows `set triggers` prints: TYPE, VALUE, AUTO. */
export function triggerRows(
  kind: 'dc' | 'bc',
  triggers: readonly (DeploymentTriggerPolicy | BuildTriggerPolicy)[],
): string[][] {
  return triggers.map((t) => {
    if (t.type === 'ConfigChange') return ['config', '', 'true'];
    const p = kind === 'dc' ? (t as DeploymentTriggerPolicy).imageChangeParams : undefined;
    if (p) {
      const from = `${p.from.namespace ? `${p.from.namespace}/` : ''}${p.from.name}`;
      return ['image', `${from} (${(p.containerNames ?? []).join(',')})`, String(p.automatic ?? false)];
    }
    const b = t as BuildTriggerPolicy;
    if (b.type === 'ImageChange')
      return [
        'image',
        b.imageChange?.from ? b.imageChange.from.name : "the strategy's builder image",
        String(!b.imageChange?.paused),
      ];
    const hook = b.github ?? b.generic ?? b.gitlab ?? b.bitbucket;
    return [
      b.type === 'Generic' ? 'webhook' : b.type.toLowerCase(),
      hook?.secretReference ? `secret ${hook.secretReference.name}` : '<inline secret>',
      'true',
    ];
  });
}

function generateSecret(): string {
  return randomBytes(20).toString('base64url');
}

/** Finds `set` (deploy-target.ts may have made it) or makes it: a command may be added once. */
function setCommand(program: Command): Command {
  const existing = program.commands.find((cmd) => cmd.name() === 'set');
  return (existing ?? program.command('set')).description(
    "set a property: env and triggers of dc/bc, or a namespace's deploy-target",
  );
}

export function registerSetCommands(
  program: Command,
  client: () => SlipwayClient,
  namespace: () => string,
): void {
  const set = setCommand(program);

  set
    .command('env')
    .description(
      'set (NAME=VALUE) or remove (NAME-) environment variables of dc/NAME or bc/NAME, or --list them',
    )
    .argument('<target>', 'dc/NAME or bc/NAME')
    .argument('[changes...]', 'NAME=VALUE to set, NAME- to remove')
    .option('--list', 'print the environment')
    .option('-c, --containers <name>', 'only this container of a deployment config')
    .action(async (target: string, args: string[], opts: { list?: boolean; containers?: string }) => {
      const { info, short, name } = configTarget(target);
      const c = client();
      const ns = namespace();
      if (opts.list) {
        if (args.length > 0) fail('--list prints the environment; give no changes with it');
        const obj = await c.json('GET', resourcePath(info, ns, name));
        for (const list of envLists(obj, short, opts.containers)) {
          console.log(`# ${info.plural}/${name}, ${list.label}`);
          for (const e of list.get()) console.log(envLine(e));
        }
        return;
      }
      if (args.length === 0) fail('give NAME=VALUE or NAME- arguments, or --list');
      const changes = parseEnvArgs(args);
      const { changed } = await editResource(c, info, ns, name, (obj) => {
        let any = false;
        for (const list of envLists(obj, short, opts.containers)) {
          const before = list.get();
          const after = applyEnvChanges(before, changes);
          if (JSON.stringify(before) !== JSON.stringify(after)) {
            list.set(after);
            any = true;
          }
        }
        return any;
      });
      console.log(`${qualifiedName(info, name)} ${changed ? 'updated' : 'not changed'}`);
    });

  set
    .command('triggers')
    .description(
      'list or change the triggers of dc/NAME or bc/NAME: --from-config, --from-image, --from-github, --from-webhook (add, or take away with --remove), --remove-all; --auto/--manual (dc)',
    )
    .argument('<target>', 'dc/NAME or bc/NAME')
    .option('--auto', 'dc: triggers act (ConfigChange present, image triggers automatic)')
    .option('--manual', 'dc: triggers do not act (no ConfigChange, image triggers not automatic)')
    .option('--from-config', 'the ConfigChange trigger')
    .option(
      '--from-image <is:tag>',
      'an ImageChange trigger on IMAGESTREAM:TAG (or NAMESPACE/IMAGESTREAM:TAG)',
    )
    .option('-c, --containers <names>', 'dc: the containers an image trigger updates, comma-separated')
    .option('--from-github', 'bc: a GitHub webhook trigger (its secret is generated and its URL printed)')
    .option('--from-webhook', 'bc: a generic webhook trigger (its secret is generated and its URL printed)')
    .option('--remove', 'take away the triggers named by the --from flags instead of adding them')
    .option('--remove-all', 'take away every trigger')
    .action(async (target: string, flags: TriggerFlags) => {
      const { info, short, name } = configTarget(target);
      if (flags.auto && flags.manual) fail('--auto and --manual cannot go together');
      const adds = flags.fromConfig || flags.fromImage !== undefined || flags.fromGithub || flags.fromWebhook;
      if (flags.remove && !adds)
        fail(
          '--remove takes away the triggers named by --from-config, --from-image, --from-github or --from-webhook',
        );
      const c = client();
      const ns = namespace();
      const changing = adds || flags.auto || flags.manual || flags.removeAll;
      const secretName = (type: 'github' | 'generic'): string => `${name}-${type}-webhook-secret`;
      // Flags that do not apply fail here, before any Secret is made for them.
      if (short === 'dc') editDeploymentTriggers([], flags);
      else editBuildTriggers([], flags, secretName);
      // New webhook triggers need their secret before the trigger names it.
      const madeSecrets: { type: 'github' | 'generic'; value: string }[] = [];
      if (short === 'bc' && !flags.remove && !flags.removeAll) {
        for (const type of [
          flags.fromGithub ? 'github' : undefined,
          flags.fromWebhook ? 'generic' : undefined,
        ]) {
          if (!type) continue;
          const t = type as 'github' | 'generic';
          const existing = await c.get(SECRET, ns, secretName(t));
          if (existing) {
            const data = (existing as { data?: Record<string, string> }).data?.[WEBHOOK_SECRET_KEY];
            if (data) madeSecrets.push({ type: t, value: Buffer.from(data, 'base64').toString('utf8') });
            continue;
          }
          const value = generateSecret();
          await c.json('POST', resourcePath(SECRET, ns), {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: secretName(t), namespace: ns, labels: { app: name } },
            type: 'Opaque',
            data: { [WEBHOOK_SECRET_KEY]: Buffer.from(value, 'utf8').toString('base64') },
          });
          madeSecrets.push({ type: t, value });
        }
      }
      let obj: Resource;
      if (changing) {
        let changed: boolean;
        ({ obj, changed } = await editResource(c, info, ns, name, (cur) => {
          if (short === 'dc') {
            const spec = cur.spec as DeploymentConfigSpec;
            const next = editDeploymentTriggers(spec.triggers ?? [], flags);
            if (JSON.stringify(next) === JSON.stringify(spec.triggers ?? [])) return false;
            spec.triggers = next;
          } else {
            const spec = cur.spec as BuildConfigSpec;
            const next = editBuildTriggers(spec.triggers ?? [], flags, secretName);
            if (JSON.stringify(next) === JSON.stringify(spec.triggers ?? [])) return false;
            spec.triggers = next;
          }
          return true;
        }));
        console.log(`${qualifiedName(info, name)} ${changed ? 'triggers updated' : 'triggers not changed'}`);
      } else obj = await c.json('GET', resourcePath(info, ns, name));
      const triggers =
        (obj.spec as { triggers?: (DeploymentTriggerPolicy | BuildTriggerPolicy)[] }).triggers ?? [];
      if (triggers.length === 0) console.log(`${info.plural}/${name} has no triggers`);
      else console.log(table([['TYPE', 'VALUE', 'AUTO'], ...triggerRows(short, triggers)]));
      if (madeSecrets.length > 0) {
        const base = (await serverInfo(c)).publicUrl ?? c.server;
        for (const s of madeSecrets)
          console.log(
            `${s.type === 'github' ? 'GitHub' : 'Generic'} webhook URL: ${webhookUrl(base, ns, name, s.value, s.type)}`,
          );
      }
    });
}
