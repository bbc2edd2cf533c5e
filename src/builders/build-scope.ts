/**
 * What one build leaves in the Docker engine, and how to find it again from another
 * process. Every container a build makes is named `slipway-build_{namespace}_{build}_…`
 * and its result is tagged `slipway-build/{namespace}/{build}:latest`; `_` and `/` never
 * occur in namespace or build names, so a name points at exactly one build. Names and
 * not labels carry the identity: Docker copies a container's labels into the image a
 * commit makes (S2I's output), and from there onto every replica of that image, where a
 * label filter would find them too.
 *
 * The same wrapper applies the BuildConfig's `resources.limits` to everything the build
 * runs, as OpenShift applies them to the build pod.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { errorMessage } from '../core/errors.js';
import type { ContainerLimits } from '../core/quantity.js';

export interface BuildIdentity {
  namespace: string;
  name: string;
}

/** Docker limits a repository name to 255 characters; long names are shortened by a hash. */
function shortened(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 17)}-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** The local tag a build's image gets until it is pushed. */
export function buildTag(build: BuildIdentity): string {
  return `slipway-build/${build.namespace}/${shortened(build.name, 180)}:latest`;
}

/** The prefix of every container name this build makes. */
export function buildContainerPrefix(build: BuildIdentity): string {
  return `slipway-build_${build.namespace}_${shortened(build.name, 120)}_`;
}

/** The Engine API's /build limits: memory without swap (as in a Kubernetes pod), CPU as a CFS quota. */
export function imageBuildLimits(limits: ContainerLimits): Record<string, number> {
  const out: Record<string, number> = {};
  if (limits.memory !== undefined) {
    out.memory = limits.memory;
    out.memswap = limits.memory;
  }
  if (limits.nanoCpus !== undefined) {
    out.cpuperiod = 100000;
    out.cpuquota = Math.max(1000, Math.round((limits.nanoCpus / 1e9) * 100000));
  }
  return out;
}

/** HostConfig limits of a build container: the same memory and CPU as the image build gets. */
export function containerHostLimits(limits: ContainerLimits): Docker.HostConfig {
  const out: Docker.HostConfig = {};
  if (limits.memory !== undefined) {
    out.Memory = limits.memory;
    out.MemorySwap = limits.memory;
  }
  if (limits.nanoCpus !== undefined) out.NanoCpus = limits.nanoCpus;
  return out;
}

/**
 * A Docker client for one build: containers it creates are named for the build and get
 * its limits, image builds get its limits; everything else passes through unchanged.
 */
export function buildScopedDocker(docker: Docker, build: BuildIdentity, limits: ContainerLimits): Docker {
  const prefix = buildContainerPrefix(build);
  const hostLimits = containerHostLimits(limits);
  const buildLimits = imageBuildLimits(limits);
  return new Proxy(docker, {
    get(target, prop) {
      if (prop === 'createContainer') {
        return (options: Docker.ContainerCreateOptions) =>
          target.createContainer({
            ...options,
            name: `${prefix}${options.name ?? randomBytes(6).toString('hex')}`.slice(0, 250),
            HostConfig: { ...(options.HostConfig ?? {}), ...hostLimits },
          });
      }
      if (prop === 'buildImage') {
        return (file: Parameters<Docker['buildImage']>[0], options?: Record<string, unknown>) =>
          target.buildImage(file, { ...(options ?? {}), ...buildLimits } as Parameters<
            Docker['buildImage']
          >[1]);
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Removes every container and the tag a build left: called when the build ends, whatever
 * the outcome, and by the worker that finds a dead worker's build. Returns what it could
 * not remove (the engine may be busy), for the log; never throws.
 */
export async function removeBuildLeftovers(docker: Docker, build: BuildIdentity): Promise<string[]> {
  const problems: string[] = [];
  const prefix = buildContainerPrefix(build);
  try {
    // The engine's name filter matches anywhere in the name: keep only exact prefixes.
    const found = await docker.listContainers({ all: true, filters: { name: [prefix] } });
    for (const c of found) {
      if (!c.Names.some((n) => n.replace(/^\//, '').startsWith(prefix))) continue;
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch((err: unknown) => {
          if ((err as { statusCode?: number }).statusCode !== 404)
            problems.push(`container ${c.Id.slice(0, 12)}: ${errorMessage(err)}`);
        });
    }
  } catch (err) {
    problems.push(`listing containers: ${errorMessage(err)}`);
  }
  const tag = buildTag(build);
  await docker
    .getImage(tag)
    .remove({ noprune: true })
    .catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode !== 404)
        problems.push(`image ${tag}: ${errorMessage(err)}`);
    });
  return problems;
}

const CONTAINER_NAME = /^\/?slipway-build_([a-z0-9-]+)_([a-z0-9.-]+)_/;
const TAG_NAME = /^slipway-build\/([a-z0-9-]+)\/([a-z0-9.-]+):latest$/;

/** A build's identity from its container name or tag; undefined when the name was shortened by a hash. */
function identityFrom(re: RegExp, text: string, shortenedAt: number): BuildIdentity | undefined {
  const m = re.exec(text);
  if (!m || m[2]!.length >= shortenedAt) return undefined;
  return { namespace: m[1]!, name: m[2]! };
}

export interface SweepOptions {
  /**
   * When the build ended (ms since the epoch), or undefined when it has not ended or this
   * Slipway does not know it (it may be another installation's, on a shared engine).
   */
  endedAt(build: BuildIdentity): Promise<number | undefined>;
}

/** Docker's timestamps are whole seconds: allow one on either side. */
const CLOCK_SLACK_MS = 1000;

/**
 * Removes what ended builds left in this engine: run when a worker starts, for an engine
 * whose worker died and whose builds another worker, on another engine, ended. Only what
 * was made before its build ended goes: a build this Slipway does not know, one still
 * running, or a newer namesake's container (another installation sharing the engine) is
 * never touched. Returns what it removed.
 */
export async function sweepBuildLeftovers(docker: Docker, options: SweepOptions): Promise<string[]> {
  const ended = new Map<string, Promise<number | undefined>>();
  const endOf = (id: BuildIdentity): Promise<number | undefined> => {
    const key = `${id.namespace}/${id.name}`;
    if (!ended.has(key)) ended.set(key, options.endedAt(id));
    return ended.get(key)!;
  };
  const removed: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters: { name: ['slipway-build_'] } })) {
    const name = c.Names.find((n) => identityFrom(CONTAINER_NAME, n, 120));
    const id = name ? identityFrom(CONTAINER_NAME, name, 120) : undefined;
    const end = id && (await endOf(id));
    if (end === undefined || c.Created * 1000 > end + CLOCK_SLACK_MS) continue;
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .then(() => removed.push(name!.replace(/^\//, '')))
      .catch(() => undefined);
  }
  for (const image of await docker.listImages({ filters: { reference: ['slipway-build/*/*'] } })) {
    for (const tag of image.RepoTags ?? []) {
      const id = identityFrom(TAG_NAME, tag, 180);
      const end = id && (await endOf(id));
      if (end === undefined || image.Created * 1000 > end + CLOCK_SLACK_MS) continue;
      await docker
        .getImage(tag)
        .remove({ noprune: true })
        .then(() => removed.push(tag))
        .catch(() => undefined);
    }
  }
  return removed;
}
