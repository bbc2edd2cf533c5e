/**
 * Hostile repositories for the security tests: real git repositories made on disk with
 * whatever a stranger can commit (symbolic links to host paths, submodules with odd
 * URLs), served to Slipway as file:// sources. Also "host" files outside every checkout
 * that a test checks were neither changed nor read.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Hostile Author',
  GIT_AUTHOR_EMAIL: 'hostile@slipway.invalid',
  GIT_COMMITTER_NAME: 'Hostile Author',
  GIT_COMMITTER_EMAIL: 'hostile@slipway.invalid',
};

export function git(args: string[], cwd: string): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: GIT_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/** What a commit holds: file contents, or `{ symlink: target }` for a link (to anywhere). */
export type Entry = string | { symlink: string } | { mode: number; content: string };

const made: string[] = [];

/** A directory the test owns, removed by `cleanupRepos()`. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `slipway-sec-${prefix}-`));
  made.push(dir);
  return dir;
}

/** A bare repository with one commit of `entries` on `main`; returns its file:// URL and the commit. */
export function hostileRepo(
  entries: Record<string, Entry>,
  options: { gitlinks?: Record<string, string> } = {},
): { url: string; commit: string; bare: string } {
  const root = scratchDir('repo');
  const bare = join(root, 'repo.git');
  const work = join(root, 'work');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  mkdirSync(work);
  git(['init', '-q', '-b', 'main'], work);
  for (const [path, entry] of Object.entries(entries)) {
    const file = join(work, path);
    mkdirSync(dirname(file), { recursive: true });
    if (typeof entry === 'string') writeFileSync(file, entry);
    else if ('symlink' in entry) symlinkSync(entry.symlink, file);
    else writeFileSync(file, entry.content, { mode: entry.mode });
  }
  git(['add', '-A'], work);
  // Submodules without fetching them: a gitlink entry names the commit, .gitmodules the URL.
  for (const [path, sha] of Object.entries(options.gitlinks ?? {})) {
    git(['update-index', '--add', '--cacheinfo', `160000,${sha},${path}`], work);
  }
  git(['commit', '-q', '-m', 'hostile content'], work);
  git(['push', '-q', bare, 'HEAD:refs/heads/main'], work);
  return { url: `file://${bare}`, commit: git(['rev-parse', 'HEAD'], work), bare };
}

/** A file outside every checkout, with content the test can look for afterwards. */
export function hostFile(
  name: string,
  content = `host-secret-${randomUUID()}`,
): { path: string; content: string } {
  const path = join(scratchDir('host'), name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return { path, content };
}

/** A path no process has written yet; `touched()` says whether one did. */
export function canary(): { path: string; touched(): boolean } {
  const path = join(scratchDir('canary'), `canary-${randomUUID()}`);
  return { path, touched: () => existsSync(path) };
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function cleanupRepos(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
