/**
 * What `slipway new-app` builds: the source's language (or its Dockerfile) and the port
 * the app listens on, decided from the names of the repository's top-level files as
 * `oc new-app` does. Repositories are hostile: only regular files count (a symlink named
 * package.json is not one), nothing outside the directory is followed, and no file is
 * read past a size limit.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';

export type Language = 'nodejs' | 'python' | 'static';
export type BuildStrategyType = 'Source' | 'Docker';

/** The top-level regular files of a repository, and its Dockerfile's text when it has one. */
export interface RepoFiles {
  names: ReadonlySet<string>;
  dockerfile?: string | undefined;
}

export interface Detection {
  strategy: BuildStrategyType;
  /** The builder's language (Source strategy). */
  language?: Language;
  /** Ports the app listens on: EXPOSE of a Dockerfile, else the builders' 8080. */
  ports: number[];
  /** One line on why: `package.json → nodejs`. */
  why: string;
}

/** Files that name a language, first match wins (oc's detectors put Node.js before Python). */
export const LANGUAGE_MARKERS: readonly { language: Language; files: readonly string[] }[] = [
  { language: 'nodejs', files: ['package.json'] },
  { language: 'python', files: ['requirements.txt', 'setup.py', 'pyproject.toml', 'Pipfile'] },
  { language: 'static', files: ['index.html'] },
];

/** Slipway's builder images listen on $PORT, 8080 (builder-images/{nodejs,python,static}/s2i/bin/run). */
export const BUILDER_PORT = 8080;

/** A Dockerfile larger than this is not read (its head is enough to find EXPOSE). */
export const MAX_DOCKERFILE_BYTES = 256 * 1024;
/** A repository whose top level has more entries than this is not scanned further. */
export const MAX_TOP_LEVEL_ENTRIES = 10_000;

export class DetectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectionError';
  }
}

/** Ports of a Dockerfile's EXPOSE lines (`EXPOSE 8080 9000/tcp`); variables are skipped. */
export function exposedPorts(dockerfile: string): number[] {
  const ports: number[] = [];
  // Continuation lines join first, as the Dockerfile parser does.
  const text = dockerfile.replace(/\\\r?\n/g, ' ');
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*EXPOSE\s+(.*)$/i.exec(line);
    if (!m) continue;
    for (const word of m[1]!.trim().split(/\s+/)) {
      const p = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(word);
      if (!p || p[2]?.toLowerCase() === 'udp') continue;
      const port = Number(p[1]);
      if (port >= 1 && port <= 65535 && !ports.includes(port)) ports.push(port);
    }
  }
  return ports;
}

/**
 * Pure: what to build from a repository's files. A Dockerfile means the Docker strategy
 * unless `strategy` says Source; otherwise the first language marker decides.
 */
export function detectApp(files: RepoFiles, options: { strategy?: BuildStrategyType } = {}): Detection {
  const hasDockerfile = files.names.has('Dockerfile') && files.dockerfile !== undefined;
  if (options.strategy === 'Docker' && !hasDockerfile)
    throw new DetectionError('--strategy docker needs a Dockerfile at the top of the repository; none found');
  if (hasDockerfile && options.strategy !== 'Source') {
    const ports = exposedPorts(files.dockerfile!);
    return {
      strategy: 'Docker',
      ports: ports.length > 0 ? ports : [BUILDER_PORT],
      why: `Dockerfile → Docker build${ports.length > 0 ? `, EXPOSE ${ports.join(' ')}` : `, port ${BUILDER_PORT} (no EXPOSE)`}`,
    };
  }
  for (const marker of LANGUAGE_MARKERS) {
    const found = marker.files.find((f) => files.names.has(f));
    if (found)
      return {
        strategy: 'Source',
        language: marker.language,
        ports: [BUILDER_PORT],
        why: `${found} → ${marker.language}`,
      };
  }
  const looked = [...LANGUAGE_MARKERS.flatMap((m) => m.files), 'Dockerfile'].join(', ');
  throw new DetectionError(
    `no language detected: the repository's top level has none of ${looked}; add one, or name a builder with --image-stream NS/NAME`,
  );
}

/** Reads at most `limit` bytes of a regular file inside `dir`, never through a symlink. */
export function readRegularFile(dir: string, name: string, limit: number): string | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink swapped in after the listing fails here instead of being followed.
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(limit);
    let total = 0;
    while (total < limit) {
      const n = readSync(fd, buf, total, limit - total, null);
      if (n === 0) break;
      total += n;
    }
    return buf.subarray(0, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The top-level regular files of a local directory (symlinks and folders do not count). */
export function scanDirectory(dir: string): RepoFiles {
  const names = new Set<string>();
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.length > MAX_TOP_LEVEL_ENTRIES)
    throw new DetectionError(
      `${dir} has ${entries.length} entries at its top level; that is more than new-app reads`,
    );
  for (const e of entries) if (e.isFile()) names.add(e.name);
  return {
    names,
    dockerfile: names.has('Dockerfile')
      ? readRegularFile(dir, 'Dockerfile', MAX_DOCKERFILE_BYTES)
      : undefined,
  };
}

/** Whether the path the user gave is a directory (their own argument: a symlink to one is fine). */
export function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** `.git/config` and `.git/HEAD` are small; anything larger is not a checkout's own. */
const MAX_GIT_FILE_BYTES = 64 * 1024;

export interface LocalGitInfo {
  /** `remote.origin.url`, when the repository has one. */
  remote?: string;
  /** The branch checked out (`HEAD` → `refs/heads/NAME`); undefined on a detached HEAD. */
  branch?: string;
}

/** Pure: `remote.origin.url` from the text of a `.git/config`. */
export function originUrl(config: string): string | undefined {
  let inOrigin = false;
  for (const raw of config.split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[\s*remote\s+"([^"]*)"\s*\]$/.exec(line);
    if (section) {
      inOrigin = section[1] === 'origin';
      continue;
    }
    if (line.startsWith('[')) {
      inOrigin = false;
      continue;
    }
    if (!inOrigin) continue;
    const kv = /^url\s*=\s*(.*)$/i.exec(line);
    if (kv) return kv[1]!.replace(/^"(.*)"$/, '$1').trim() || undefined;
  }
  return undefined;
}

/**
 * The git remote and branch of a local checkout, read from `.git/config` and `.git/HEAD`
 * as files: running git in a hostile checkout could run its configured commands
 * (core.fsmonitor and the like). A `.git` that is a file (worktree) or a symlink is not
 * read: such a directory is treated as having no remote.
 */
export function localGitInfo(dir: string): LocalGitInfo | undefined {
  const gitDir = join(dir, '.git');
  if (!lstatSync(gitDir, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  const info: LocalGitInfo = {};
  const config = readRegularFile(gitDir, 'config', MAX_GIT_FILE_BYTES);
  const remote = config === undefined ? undefined : originUrl(config);
  if (remote) info.remote = remote;
  const head = readRegularFile(gitDir, 'HEAD', MAX_GIT_FILE_BYTES);
  const branch = head && /^ref:\s*refs\/heads\/(\S+)\s*$/.exec(head)?.[1];
  if (branch) info.branch = branch;
  return info;
}
