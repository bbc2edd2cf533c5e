/**
 * Projects, users and roles from the command line, as `oc` has them: `new-project`,
 * `projects`, `project`, `whoami`, `login --token`, `create user`, `create token`,
 * `delete user`, `policy add-role-to-user` / `remove-role-from-user`.
 */
import type { Command } from 'commander';
import { isProjectRole, PROJECT_ROLES, USER_NAME } from '../core/roles.js';
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import { ApiError, type SlipwayClient } from './client.js';
import { writeCredentials, writeCurrentProject } from './credentials.js';
import { table } from './output.js';

const ROLE_BINDING = lookupKind('rbac.authorization.k8s.io/v1', 'RoleBinding')!;
const PROJECTS = '/apis/project.openshift.io/v1/projects';

/** `24h`, `30m`, `7d`, `3600s` or `3600` → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!m) throw new ApiError(0, `error: "${text}" is not a duration such as 30m, 24h or 7d`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(m[1]) * unit;
  if (seconds < 1) throw new ApiError(0, `error: "${text}" is shorter than a second`);
  return seconds;
}

function userName(name: string): string {
  if (!USER_NAME.test(name))
    throw new ApiError(0, `error: "${name}" is not a user name (letters, digits, '.', '_', '@', '-')`);
  return name;
}

/** Adds `user` to the RoleBinding named after `role` in `namespace`, making it if needed. */
export async function addRoleToUser(
  c: SlipwayClient,
  namespace: string,
  role: string,
  user: string,
): Promise<boolean> {
  const path = resourcePath(ROLE_BINDING, namespace, role);
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await c.get(ROLE_BINDING, namespace, role);
    if (!current) {
      try {
        await c.json('POST', resourcePath(ROLE_BINDING, namespace), {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: role, namespace },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
        });
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.code === 409) continue; // made meanwhile: add to it
        throw err;
      }
    }
    const subjects = ((current as { subjects?: { kind?: string; name?: string }[] }).subjects ?? []).slice();
    if (subjects.some((s) => (s.kind ?? 'User') === 'User' && s.name === user)) return false;
    subjects.push({ kind: 'User', name: user });
    try {
      await c.json('PUT', path, { ...current, subjects });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 409) continue; // changed meanwhile: read again
      throw err;
    }
  }
  throw new ApiError(409, `error: the RoleBinding "${role}" kept changing; try again`);
}

async function removeRoleFromUser(
  c: SlipwayClient,
  namespace: string,
  role: string,
  user: string,
): Promise<boolean> {
  const current = await c.get(ROLE_BINDING, namespace, role);
  const subjects = (current as { subjects?: { kind?: string; name?: string }[] } | undefined)?.subjects ?? [];
  const rest = subjects.filter((s) => !((s.kind ?? 'User') === 'User' && s.name === user));
  if (!current || rest.length === subjects.length) return false;
  if (rest.length === 0) await c.json('DELETE', resourcePath(ROLE_BINDING, namespace, role));
  else await c.json('PUT', resourcePath(ROLE_BINDING, namespace, role), { ...current, subjects: rest });
  return true;
}

export function registerAccessCommands(
  program: Command,
  client: () => SlipwayClient,
  ns: () => string,
  server: () => string,
): void {
  program
    .command('new-project')
    .description('create a project; you become its admin, and it becomes your current project')
    .argument('<name>')
    .option('--display-name <text>', 'a name for people')
    .option('--description <text>', 'what the project is for')
    .action(async (name: string, opts: { displayName?: string; description?: string }) => {
      const c = client();
      await c.json('POST', '/apis/project.openshift.io/v1/projectrequests', {
        kind: 'ProjectRequest',
        apiVersion: 'project.openshift.io/v1',
        metadata: { name },
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
        ...(opts.description ? { description: opts.description } : {}),
      });
      writeCurrentProject(name);
      console.log(`Now using project "${name}" on server "${server()}".`);
    });

  program
    .command('projects')
    .description('list the projects you have a role in')
    .action(async () => {
      const items = (await client().json<{ items: Resource[] }>('GET', PROJECTS)).items;
      if (items.length === 0) {
        console.log('You have no projects. Create one with: slipway new-project NAME');
        return;
      }
      const current = ns();
      console.log(
        table([
          ['', 'NAME', 'DISPLAY NAME', 'STATUS'],
          ...items.map((p) => [
            p.metadata.name === current ? '*' : '',
            p.metadata.name,
            p.metadata.annotations?.['openshift.io/display-name'] ?? '',
            String((p.status as { phase?: string } | undefined)?.phase ?? ''),
          ]),
        ]),
      );
    });

  program
    .command('project')
    .description('show the current project, or switch to another')
    .argument('[name]')
    .action(async (name: string | undefined) => {
      if (!name) {
        console.log(`Using project "${ns()}" on server "${server()}".`);
        return;
      }
      await client().json('GET', `${PROJECTS}/${encodeURIComponent(name)}`);
      writeCurrentProject(name);
      console.log(`Now using project "${name}" on server "${server()}".`);
    });

  program
    .command('whoami')
    .description('the user your token belongs to')
    .action(async () => {
      const me = await client().json('GET', '/apis/user.openshift.io/v1/users/~');
      console.log(me.metadata.name);
    });

  program
    .command('login')
    .description(
      'keep a token (yours, from `slipway create token`) for later commands: slipway login --token T',
    )
    .action(async () => {
      const token = program.opts<{ token?: string }>().token ?? process.env.SLIPWAY_TOKEN;
      if (!token) throw new ApiError(0, 'error: give the token: slipway login --token TOKEN');
      const url = server();
      const me = await client().json('GET', '/apis/user.openshift.io/v1/users/~');
      writeCredentials({ server: url, token });
      console.log(`Logged into "${url}" as "${me.metadata.name}".`);
    });

  const create =
    program.commands.find((c) => c.name() === 'create') ??
    program.command('create').description('create users and tokens');
  create
    .command('user')
    .description('create a user (cluster admin)')
    .argument('<name>')
    .option('--full-name <text>', "the person's name")
    .action(async (name: string, opts: { fullName?: string }) => {
      await client().json('POST', '/apis/user.openshift.io/v1/users', {
        kind: 'User',
        apiVersion: 'user.openshift.io/v1',
        metadata: { name: userName(name) },
        ...(opts.fullName ? { fullName: opts.fullName } : {}),
      });
      console.log(`user.user.openshift.io/${name} created`);
    });
  create
    .command('token')
    .description('issue a token to a user (cluster admin); it is printed once and stored hashed')
    .argument('<user>')
    .option('--expires <duration>', 'how long it lasts: 30m, 24h, 7d (at most 365d)', '24h')
    .action(async (user: string, opts: { expires: string }) => {
      const issued = await client().json<{ token: string; expiresAt: string }>(
        'POST',
        `/apis/slipway.dev/v1/users/${encodeURIComponent(userName(user))}/tokens`,
        { expiresInSeconds: parseDuration(opts.expires) },
      );
      console.log(issued.token);
      process.stderr.write(`token for "${user}" expires ${issued.expiresAt}; it is not shown again\n`);
    });

  program
    .command('revoke-tokens')
    .description('revoke every token of a user (cluster admin)')
    .argument('<user>')
    .action(async (user: string) => {
      const res = await client().json<{ details: { revoked: number } }>(
        'DELETE',
        `/apis/slipway.dev/v1/users/${encodeURIComponent(userName(user))}/tokens`,
      );
      console.log(`${res.details.revoked} token(s) of "${user}" revoked`);
    });

  const policy = program.command('policy').description('manage who has which role in a project');
  for (const [verb, add] of [
    ['add-role-to-user', true],
    ['remove-role-from-user', false],
  ] as const) {
    policy
      .command(verb)
      .description(
        `${add ? 'give' : 'take back'} a role (${PROJECT_ROLES.join(', ')}) in the current project`,
      )
      .argument('<role>')
      .argument('<users...>')
      .action(async (role: string, users: string[]) => {
        if (!isProjectRole(role))
          throw new ApiError(0, `error: role "${role}" is not one of: ${PROJECT_ROLES.join(', ')}`);
        const c = client();
        for (const user of users) {
          const changed = add
            ? await addRoleToUser(c, ns(), role, userName(user))
            : await removeRoleFromUser(c, ns(), role, userName(user));
          console.log(
            add
              ? changed
                ? `clusterrole.rbac.authorization.k8s.io/${role} added: "${user}"`
                : `"${user}" already has ${role} in "${ns()}"`
              : changed
                ? `clusterrole.rbac.authorization.k8s.io/${role} removed: "${user}"`
                : `"${user}" had no ${role} binding in "${ns()}"`,
          );
        }
      });
  }
}
