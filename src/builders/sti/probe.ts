/**
 * Looking inside an image before a build container is made from it: the assemble
 * user's uid/gid (from the image's own /etc/passwd), whether the destination and the
 * image:// scripts exist, where the system CA bundle lives. A container is created
 * for this and removed, never started: the engine's archive API reads a created
 * container's filesystem, and what a probe decides (bind mounts) has to be known
 * before the real container is created.
 */
import type Docker from 'dockerode';
import { readContainerFile, statPath, withContainer, type PathStat } from './run-container.js';
import { needsUserDatabase, resolveUser, type NumericUser } from './user-spec.js';

export interface ImageProbe {
  /** The user spec resolved inside the image; an Error when it cannot be. */
  owner: NumericUser | Error;
  stats: Map<string, PathStat | undefined>;
}

export async function probeImage(
  docker: Docker,
  options: {
    image: string;
    user: string;
    paths: readonly string[];
    name: string;
    log: (line: string) => void;
  },
): Promise<ImageProbe> {
  return withContainer(
    docker,
    // Never started: Cmd only has to satisfy the engine.
    {
      name: options.name,
      Image: options.image,
      Entrypoint: [],
      Cmd: ['/slipway-probe'],
      NetworkDisabled: true,
    },
    async (container) => {
      let owner: NumericUser | Error;
      try {
        const passwd = options.user ? await readContainerFile(container, '/etc/passwd') : undefined;
        const group = needsUserDatabase(options.user)
          ? await readContainerFile(container, '/etc/group')
          : undefined;
        owner = resolveUser(options.user, passwd?.toString('utf8'), group?.toString('utf8'));
      } catch (err) {
        owner = err instanceof Error ? err : new Error(String(err));
      }
      const stats = new Map<string, PathStat | undefined>();
      for (const path of new Set(options.paths)) stats.set(path, await statPath(container, path));
      return { owner, stats };
    },
    options.log,
  );
}
