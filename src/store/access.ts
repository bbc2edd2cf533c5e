/**
 * Users and projects in Redis, and a user's role in a project from its RoleBindings.
 *
 * Users (`user.openshift.io/v1`) and Projects (`project.openshift.io/v1`) are outside any
 * namespace, so they live in two hashes of their own (`{prefix}:users`, `{prefix}:projects`,
 * name → the object's JSON). RoleBindings are ordinary namespaced resources in the resource
 * store. Nothing is cached in the process: every server of a fleet answers from Redis, so a
 * role granted or a user deleted on one is seen by all at once.
 */
import type { Redis } from 'ioredis';
import { AlreadyExistsError, InputError, NotFoundError } from '../core/errors.js';
import { lookupKind, nowTimestamp, type Resource } from '../core/resource.js';
import { isProjectRole, ROLE_RANK, USER_NAME, type ProjectRole } from '../core/roles.js';
import type { ResourceStore } from './resource-store.js';

export const ROLE_BINDING = lookupKind('rbac.authorization.k8s.io/v1', 'RoleBinding')!;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface RoleBindingSubject {
  kind?: string;
  name?: string;
}

/** The strongest role `user` holds through `bindings` (a namespace's RoleBindings). */
export function roleFromBindings(bindings: Resource[], user: string): ProjectRole | undefined {
  let best: ProjectRole | undefined;
  for (const b of bindings) {
    const role = (b as { roleRef?: { name?: unknown } }).roleRef?.name;
    if (!isProjectRole(role)) continue;
    const subjects = ((b as { subjects?: RoleBindingSubject[] }).subjects ?? []) as RoleBindingSubject[];
    if (!subjects.some((s) => (s.kind ?? 'User') === 'User' && s.name === user)) continue;
    if (!best || ROLE_RANK[role] > ROLE_RANK[best]) best = role;
  }
  return best;
}

export class AccessStore {
  constructor(
    private readonly redis: Redis,
    private readonly store: ResourceStore,
    private readonly prefix = 'slipway',
  ) {}

  private get usersKey(): string {
    return `${this.prefix}:users`;
  }
  private get projectsKey(): string {
    return `${this.prefix}:projects`;
  }

  async roleOf(user: string, namespace: string): Promise<ProjectRole | undefined> {
    return roleFromBindings(await this.store.list(ROLE_BINDING, namespace), user);
  }

  // --- users

  async createUser(name: string, fullName?: string): Promise<Resource> {
    if (!USER_NAME.test(name))
      throw new InputError(
        `User "${name}" is invalid: metadata.name: letters, digits, '.', '_', '@' and '-'`,
        {
          causes: [
            { field: 'metadata.name', message: "letters, digits, '.', '_', '@' and '-', at most 253" },
          ],
        },
      );
    const user: Resource = {
      apiVersion: 'user.openshift.io/v1',
      kind: 'User',
      metadata: { name, creationTimestamp: nowTimestamp() },
      ...(fullName ? { fullName } : {}),
      identities: [],
      groups: [],
    };
    if (!(await this.redis.hsetnx(this.usersKey, name, JSON.stringify(user))))
      throw new AlreadyExistsError(`users.user.openshift.io "${name}" already exists`);
    return user;
  }

  async getUser(name: string): Promise<Resource | undefined> {
    const raw = await this.redis.hget(this.usersKey, name);
    return raw ? (JSON.parse(raw) as Resource) : undefined;
  }

  async listUsers(): Promise<Resource[]> {
    return Object.values(await this.redis.hgetall(this.usersKey))
      .map((raw) => JSON.parse(raw) as Resource)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async deleteUser(name: string): Promise<Resource> {
    const user = await this.getUser(name);
    if (!user || !(await this.redis.hdel(this.usersKey, name)))
      throw new NotFoundError(`users.user.openshift.io "${name}" not found`);
    return user;
  }

  // --- projects

  async createProject(
    name: string,
    options: { displayName?: string; description?: string; requester?: string },
  ): Promise<Resource> {
    if (!DNS1123_LABEL.test(name))
      throw new InputError(`ProjectRequest "${name}" is invalid: metadata.name: must be a DNS-1123 label`, {
        causes: [
          {
            field: 'metadata.name',
            message:
              "lower case letters, digits and '-', starting and ending with a letter or digit, at most 63",
          },
        ],
      });
    const annotations: Record<string, string> = {};
    if (options.displayName) annotations['openshift.io/display-name'] = options.displayName;
    if (options.description) annotations['openshift.io/description'] = options.description;
    if (options.requester) annotations['openshift.io/requester'] = options.requester;
    const project: Resource = {
      apiVersion: 'project.openshift.io/v1',
      kind: 'Project',
      metadata: { name, creationTimestamp: nowTimestamp(), annotations },
      spec: { finalizers: [] },
      status: { phase: 'Active' },
    };
    if (!(await this.redis.hsetnx(this.projectsKey, name, JSON.stringify(project))))
      throw new AlreadyExistsError(`project.project.openshift.io "${name}" already exists`);
    return project;
  }

  async getProject(name: string): Promise<Resource | undefined> {
    const raw = await this.redis.hget(this.projectsKey, name);
    return raw ? (JSON.parse(raw) as Resource) : undefined;
  }

  async listProjects(): Promise<Resource[]> {
    return Object.values(await this.redis.hgetall(this.projectsKey))
      .map((raw) => JSON.parse(raw) as Resource)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** Marks a project Terminating while its objects go; returns it, or undefined if there is none. */
  async markTerminating(name: string): Promise<Resource | undefined> {
    const project = await this.getProject(name);
    if (!project) return undefined;
    const terminating = { ...project, status: { phase: 'Terminating' } };
    await this.redis.hset(this.projectsKey, name, JSON.stringify(terminating));
    return terminating;
  }

  async removeProject(name: string): Promise<void> {
    await this.redis.hdel(this.projectsKey, name);
  }
}
