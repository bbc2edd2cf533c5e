/**
 * `slipway new-app`'s decisions without a server: what a repository is (language,
 * Dockerfile, ports), how a hostile checkout is read, the source a directory gives, and
 * the objects made for it.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DetectionError,
  MAX_DOCKERFILE_BYTES,
  detectApp,
  exposedPorts,
  localGitInfo,
  originUrl,
  scanDirectory,
} from '../../src/cli/app-detect.js';
import {
  appNameFrom,
  appNameProblem,
  chooseBuilder,
  newAppResources,
  parseGitUrl,
  parseImageStreamArg,
  remoteSource,
  webhookUrl,
} from '../../src/cli/new-app-resources.js';
import { validateResource } from '../../src/core/validation.js';
import { lookupKind } from '../../src/core/resource.js';

const files = (names: string[], dockerfile?: string) => ({ names: new Set(names), dockerfile });

describe('detectApp', () => {
  it('names the language from the first marker file, as oc new-app does', () => {
    expect(detectApp(files(['package.json', 'server.js']))).toMatchObject({
      strategy: 'Source',
      language: 'nodejs',
      ports: [8080],
      why: 'package.json → nodejs',
    });
    expect(detectApp(files(['requirements.txt', 'app.py'])).language).toBe('python');
    expect(detectApp(files(['pyproject.toml'])).language).toBe('python');
    expect(detectApp(files(['index.html', 'style.css'])).language).toBe('static');
    // Node.js before Python before a static site: a Node app with an index.html is a Node app.
    expect(detectApp(files(['index.html', 'requirements.txt', 'package.json'])).language).toBe('nodejs');
  });

  it('builds a repository with a Dockerfile with the Docker strategy, on its EXPOSEd ports', () => {
    const d = detectApp(files(['Dockerfile', 'package.json'], 'FROM x\nEXPOSE 3000/tcp 53/udp \\\n  9000\n'));
    expect(d).toMatchObject({ strategy: 'Docker', ports: [3000, 9000] });
    expect(d.language).toBeUndefined();
    expect(detectApp(files(['Dockerfile'], 'FROM x\n')).ports).toEqual([8080]);
    // --strategy source uses the language even when there is a Dockerfile.
    expect(detectApp(files(['Dockerfile', 'package.json'], 'FROM x'), { strategy: 'Source' }).language).toBe(
      'nodejs',
    );
  });

  it('refuses what it cannot build, saying what it looked for', () => {
    expect(() => detectApp(files(['README.md']))).toThrow(DetectionError);
    expect(() => detectApp(files(['README.md']))).toThrow(/package\.json, requirements\.txt.*--image-stream/);
    expect(() => detectApp(files(['package.json']), { strategy: 'Docker' })).toThrow(/needs a Dockerfile/);
  });

  it('reads EXPOSE ports, skipping variables and nonsense', () => {
    expect(exposedPorts('EXPOSE $PORT 8080 99999 abc\nexpose 80')).toEqual([8080, 80]);
    expect(exposedPorts('RUN echo EXPOSE 1234')).toEqual([]);
  });
});

describe('reading a hostile checkout', () => {
  it('counts only regular files at the top: a symlink named package.json or Dockerfile is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'new-app-unit-'));
    const outside = mkdtempSync(join(tmpdir(), 'new-app-outside-'));
    try {
      writeFileSync(join(outside, 'Dockerfile'), 'FROM secret\nEXPOSE 1\n');
      symlinkSync(join(outside, 'Dockerfile'), join(dir, 'Dockerfile'));
      symlinkSync('/etc/passwd', join(dir, 'package.json'));
      mkdirSync(join(dir, 'requirements.txt'));
      writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>');
      const scanned = scanDirectory(dir);
      expect([...scanned.names]).toEqual(['index.html']);
      expect(scanned.dockerfile).toBeUndefined();
      expect(detectApp(scanned).language).toBe('static');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reads no more of a Dockerfile than the limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'new-app-unit-'));
    try {
      writeFileSync(
        join(dir, 'Dockerfile'),
        `FROM x\nEXPOSE 3000\n${'#'.repeat(MAX_DOCKERFILE_BYTES * 2)}\n`,
      );
      const scanned = scanDirectory(dir);
      expect(scanned.dockerfile).toHaveLength(MAX_DOCKERFILE_BYTES);
      expect(detectApp(scanned).ports).toEqual([3000]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes the remote and branch from .git's files, and none through a symlinked .git", () => {
    const dir = mkdtempSync(join(tmpdir(), 'new-app-unit-'));
    const other = mkdtempSync(join(tmpdir(), 'new-app-unit-'));
    try {
      mkdirSync(join(dir, '.git'));
      writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/feature/x\n');
      writeFileSync(
        join(dir, '.git', 'config'),
        '[core]\n\turl = nope\n[remote "upstream"]\n\turl = https://a/b.git\n[remote "origin"]\n\turl = git@github.com:me/app.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
      );
      expect(localGitInfo(dir)).toEqual({ remote: 'git@github.com:me/app.git', branch: 'feature/x' });
      symlinkSync(join(dir, '.git'), join(other, '.git'));
      expect(localGitInfo(other)).toBeUndefined();
      expect(originUrl('[remote "origin"]\n')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('sources and names', () => {
  it('takes git URLs with an optional #ref, and refuses option-like or odd ones', () => {
    expect(parseGitUrl('https://github.com/me/app.git#main')).toEqual({
      uri: 'https://github.com/me/app.git',
      ref: 'main',
    });
    expect(parseGitUrl('git@github.com:me/app.git')).toEqual({ uri: 'git@github.com:me/app.git' });
    expect(parseGitUrl('git://127.0.0.1:9418/app')).toEqual({ uri: 'git://127.0.0.1:9418/app' });
    expect(parseGitUrl('ext::sh -c touch% /tmp/x')).toBeUndefined();
    expect(parseGitUrl('ssh://-oProxyCommand=x/app')).toBeUndefined();
    expect(parseGitUrl('./app')).toBeUndefined();
    expect(parseGitUrl('https://h/app.git#$(reboot)')).toBeUndefined();
  });

  it("uses a checkout's network remote, without credentials; a local remote means an upload", () => {
    expect(remoteSource('https://me:tok@github.com/me/app.git')).toEqual({
      uri: 'https://github.com/me/app.git',
      droppedCredentials: true,
    });
    expect(remoteSource('git@github.com:me/app.git')).toEqual({
      uri: 'git@github.com:me/app.git',
      droppedCredentials: false,
    });
    expect(remoteSource('/srv/git/app.git')).toBeUndefined();
    expect(remoteSource('file:///srv/git/app.git')).toBeUndefined();
    expect(remoteSource('../app')).toBeUndefined();
  });

  it('makes an app name from a URL or directory, and checks a given one', () => {
    expect(appNameFrom('https://github.com/org/My_App.git')).toBe('my-app');
    expect(appNameFrom('git@github.com:org/web.git#main')).toBe('web');
    expect(appNameFrom('/home/me/src/2048-game/')).toBe('game');
    expect(appNameFrom('/')).toBeUndefined();
    expect(appNameProblem('web')).toBeUndefined();
    expect(appNameProblem('Web')).toMatch(/lower case/);
    expect(appNameProblem('a'.repeat(41))).toMatch(/longer than 40/);
  });

  it('parses --image-stream and picks a builder by name, supports or tags annotations', () => {
    expect(parseImageStreamArg('openshift/nodejs')).toEqual({
      namespace: 'openshift',
      name: 'nodejs:latest',
    });
    expect(parseImageStreamArg('openshift/nodejs:20')).toEqual({ namespace: 'openshift', name: 'nodejs:20' });
    expect(parseImageStreamArg('nodejs')).toBeUndefined();
    const stream = (name: string, tags: { name: string; annotations?: Record<string, string> }[] = []) => ({
      metadata: { name, namespace: 'openshift' },
      spec: { tags },
    });
    expect(chooseBuilder('nodejs', [stream('python'), stream('nodejs')])).toEqual({
      namespace: 'openshift',
      name: 'nodejs:latest',
    });
    expect(
      chooseBuilder('python', [
        stream('py3', [{ name: '3.11', annotations: { supports: 'python:3.11,python' } }]),
      ]),
    ).toEqual({ namespace: 'openshift', name: 'py3:3.11' });
    expect(
      chooseBuilder('static', [stream('web', [{ name: 'latest', annotations: { tags: 'builder,static' } }])]),
    ).toEqual({
      namespace: 'openshift',
      name: 'web:latest',
    });
    expect(chooseBuilder('static', [stream('nodejs')])).toBeUndefined();
  });
});

describe('newAppResources', () => {
  const secrets = { github: 'gh-secret', generic: 'generic-secret' };

  it('makes an ImageStream, two webhook Secrets, a BuildConfig, a DeploymentConfig and a Service that validate', () => {
    const objects = newAppResources({
      name: 'web',
      namespace: 'ns',
      source: { type: 'Git', uri: 'https://github.com/me/web.git', ref: 'main' },
      detection: detectApp(files(['package.json'])),
      builder: { namespace: 'openshift', name: 'nodejs:latest' },
      secrets,
    });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ImageStream/web',
      'Secret/web-github-webhook-secret',
      'Secret/web-generic-webhook-secret',
      'BuildConfig/web',
      'DeploymentConfig/web',
      'Service/web',
    ]);
    for (const o of objects) {
      expect(o.metadata.labels).toEqual({ app: 'web' });
      expect(() => validateResource(lookupKind(o.apiVersion, o.kind)!, o)).not.toThrow();
    }
    const [, gh, , bc, dc, svc] = objects as any[];
    expect(Buffer.from(gh.data.WebHookSecretKey, 'base64').toString()).toBe('gh-secret');
    expect(bc.spec.source).toEqual({
      type: 'Git',
      git: { uri: 'https://github.com/me/web.git', ref: 'main' },
    });
    expect(bc.spec.strategy.sourceStrategy.from).toEqual({
      kind: 'ImageStreamTag',
      namespace: 'openshift',
      name: 'nodejs:latest',
    });
    expect(bc.spec.triggers.map((t: any) => t.type)).toEqual([
      'GitHub',
      'Generic',
      'ConfigChange',
      'ImageChange',
    ]);
    expect(bc.spec.triggers[0].github).toEqual({ secretReference: { name: 'web-github-webhook-secret' } });
    // No secret value in the BuildConfig itself.
    expect(JSON.stringify(bc)).not.toContain('gh-secret');
    expect(dc.spec.triggers[1].imageChangeParams).toEqual({
      automatic: true,
      containerNames: ['web'],
      from: { kind: 'ImageStreamTag', name: 'web:latest' },
    });
    expect(dc.spec.template.spec.containers[0].ports).toEqual([{ containerPort: 8080, protocol: 'TCP' }]);
    expect(svc.spec).toEqual({
      selector: { deploymentconfig: 'web' },
      ports: [{ name: '8080-tcp', port: 8080, targetPort: 8080, protocol: 'TCP' }],
    });
  });

  it('a Binary source waits for an upload (no ConfigChange); a Dockerfile app has no builder ImageChange trigger', () => {
    const [, , , bc] = newAppResources({
      name: 'site',
      namespace: 'ns',
      source: { type: 'Binary' },
      detection: detectApp(files(['Dockerfile'], 'FROM x\nEXPOSE 3000')),
      secrets,
    }) as any[];
    expect(bc.spec.source).toEqual({ type: 'Binary', binary: {} });
    expect(bc.spec.strategy).toEqual({ type: 'Docker', dockerStrategy: {} });
    expect(bc.spec.triggers.map((t: any) => t.type)).toEqual(['GitHub', 'Generic']);
  });

  it('prints webhook URLs on the path OpenShift serves them', () => {
    expect(webhookUrl('http://127.0.0.1:8080/', 'ns', 'web', 's3cr3t', 'github')).toBe(
      'http://127.0.0.1:8080/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/web/webhooks/s3cr3t/github',
    );
  });
});
