/**
 * The sample `slipway up --sample` builds: a real git repository made on this machine
 * (a Dockerfile over the offline Debian base image), a BuildConfig pushing to the
 * internal registry, and one build followed to its end.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '../core/resource.js';

export function ensureSampleRepo(dataDir: string, baseImage: string): string {
  const bare = join(dataDir, 'samples', 'hello.git');
  if (existsSync(join(bare, 'HEAD'))) return bare;
  mkdirSync(join(dataDir, 'samples'), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'slipway-sample-'));
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Slipway',
    GIT_AUTHOR_EMAIL: 'slipway@localhost',
    GIT_COMMITTER_NAME: 'Slipway',
    GIT_COMMITTER_EMAIL: 'slipway@localhost',
  };
  try {
    mkdirSync(join(work, 'app'));
    writeFileSync(
      join(work, 'app', 'Dockerfile'),
      [
        `FROM ${baseImage}`,
        'ARG GREETING=hello',
        'RUN echo "$GREETING from a Slipway build" > /greeting.txt',
        'CMD ["cat", "/greeting.txt"]',
        '',
      ].join('\n'),
    );
    writeFileSync(join(work, 'README.md'), 'A sample repository for `slipway up --sample`.\n');
    execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: work, env });
    execFileSync('git', ['add', '-A'], { cwd: work, env });
    execFileSync('git', ['commit', '-q', '-m', 'Sample app'], { cwd: work, env });
    execFileSync('git', ['clone', '-q', '--bare', work, bare], { env });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bare;
}

export function sampleBuildConfig(repoPath: string): Resource {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'hello', namespace: 'default', labels: { app: 'hello' } },
    spec: {
      source: { git: { uri: `file://${repoPath}`, ref: 'main' }, contextDir: 'app' },
      strategy: { type: 'Docker', dockerStrategy: { buildArgs: [{ name: 'GREETING', value: 'Hello' }] } },
      output: { to: { kind: 'ImageStreamTag', name: 'hello:latest' } },
      triggers: [],
    },
  };
}
