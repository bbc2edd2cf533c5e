/**
 * `slipway status`'s join (src/cli/status-format.ts) and the pure parts of `set env`,
 * `set triggers` and `scale`: no server.
 */
import { describe, expect, it } from '@jest/globals';
import { detectApp } from '../../src/cli/app-detect.js';
import { newAppResources } from '../../src/cli/new-app-resources.js';
import { routeFor, serviceName } from '../../src/cli/expose.js';
import { parseReplicas } from '../../src/cli/scale.js';
import { routeUrls } from '../../src/cli/server-info.js';
import {
  applyEnvChanges,
  editBuildTriggers,
  editDeploymentTriggers,
  parseEnvArgs,
  triggerRows,
} from '../../src/cli/set.js';
import { appStatuses, formatStatus, type NamespaceObjects } from '../../src/cli/status-format.js';
import type { Resource } from '../../src/core/resource.js';

const NS = 'ns';
const COMMIT = '1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

function app(name: string): Resource[] {
  return newAppResources({
    name,
    namespace: NS,
    source: { type: 'Git', uri: `https://github.com/me/${name}.git` },
    detection: detectApp({ names: new Set(['package.json']) }),
    builder: { namespace: 'openshift', name: 'nodejs:latest' },
    secrets: { github: 'a', generic: 'b' },
  });
}

const build = (bc: string, n: number, status: Record<string, unknown>): Resource => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: {
    name: `${bc}-${n}`,
    namespace: NS,
    annotations: { 'openshift.io/build-config.name': bc, 'openshift.io/build.number': String(n) },
  },
  spec: { revision: { git: { commit: COMMIT } } },
  status,
});

const rc = (dc: string, n: number, phase: string, reason?: string): Resource => ({
  apiVersion: 'v1',
  kind: 'ReplicationController',
  metadata: {
    name: `${dc}-${n}`,
    namespace: NS,
    annotations: {
      'openshift.io/deployment-config.name': dc,
      'openshift.io/deployment.phase': phase,
      ...(reason ? { 'openshift.io/deployment.status-reason': reason } : {}),
    },
  },
});

function objects(list: Resource[]): NamespaceObjects {
  const of = (kind: string) => list.filter((o) => o.kind === kind);
  return {
    buildConfigs: of('BuildConfig'),
    builds: of('Build'),
    imageStreams: of('ImageStream'),
    deploymentConfigs: of('DeploymentConfig'),
    replicationControllers: of('ReplicationController'),
    services: of('Service'),
    routes: of('Route'),
  };
}

function served(name: string): Resource[] {
  const [is, , , bc, dc, svc] = app(name) as [Resource, Resource, Resource, Resource, Resource, Resource];
  is.status = {
    tags: [{ tag: 'latest', items: [{ image: DIGEST, dockerImageReference: `r/${NS}/${name}@${DIGEST}` }] }],
  };
  dc.status = { latestVersion: 2, readyReplicas: 1 };
  return [
    is,
    bc,
    dc,
    svc,
    build(name, 1, { phase: 'Failed' }),
    build(name, 2, { phase: 'Complete' }),
    rc(name, 1, 'Complete'),
    rc(name, 2, 'Complete'),
    {
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name, namespace: NS },
      spec: { to: { kind: 'Service', name } },
    },
  ];
}

describe('appStatuses', () => {
  it('shows an app served end to end as repository@commit → build → image → revision → URL, nothing failing', () => {
    const apps = appStatuses(objects(served('web')), NS, { port: 8081, domain: 'localhost' });
    expect(apps).toEqual([
      {
        name: 'web',
        path: [
          'https://github.com/me/web.git@1a2b3c4',
          'build web-2 Complete',
          'web:latest@sha256:abababababab',
          'dc/web revision 2 (1/1 ready)',
          'http://web-ns.localhost:8081/',
        ],
        problems: [],
      },
    ]);
    expect(formatStatus(NS, 'http://api', apps).split('\n')).toEqual([
      'In namespace "ns" on server http://api',
      '',
      'web: https://github.com/me/web.git@1a2b3c4 → build web-2 Complete → web:latest@sha256:abababababab → dc/web revision 2 (1/1 ready) → http://web-ns.localhost:8081/',
      '',
      '1 app(s), nothing failing.',
    ]);
  });

  it('says what is failing: a failed build, a failed rollout, replicas not ready, no route', () => {
    const list = served('web').filter((o) => o.kind !== 'Route');
    list.push(build('web', 3, { phase: 'Failed', reason: 'AssembleFailed', message: 'npm install failed' }));
    list.push(rc('web', 3, 'Failed', 'readiness timed out'));
    const dc = list.find((o) => o.kind === 'DeploymentConfig')!;
    dc.status = { latestVersion: 3, readyReplicas: 1 };
    const [status] = appStatuses(objects(list), NS, { port: 8081, domain: 'localhost' });
    expect(status!.path[1]).toBe('build web-3 Failed');
    expect(status!.path[3]).toBe('dc/web revision 3 Failed (1/1 ready)');
    expect(status!.problems).toEqual([
      "build web-3 failed (AssembleFailed: npm install failed): see 'slipway logs build/web-3'",
      "rollout web-3 failed (readiness timed out): see 'slipway rollout history dc/web'",
      "not exposed: run 'slipway expose svc/web'",
    ]);

    const scaled = served('web');
    (scaled.find((o) => o.kind === 'DeploymentConfig')!.spec as any).replicas = 3;
    expect(appStatuses(objects(scaled), NS)[0]!.problems).toEqual(['dc/web: 1 of 3 replicas ready']);
  });

  it('a new app waiting for its first build is not failing; a build config no deployment follows is an app too', () => {
    const fresh = app('web').filter((o) => o.kind !== 'Secret');
    fresh.push(build('web', 1, { phase: 'Running' }));
    const lone = app('tool').find((o) => o.kind === 'BuildConfig')!;
    const apps = appStatuses(objects([...fresh, lone]), NS, { port: 80, domain: 'apps.example.com' });
    expect(apps.map((a) => [a.name, a.path, a.problems])).toEqual([
      [
        'web',
        [
          'https://github.com/me/web.git@1a2b3c4',
          'build web-1 Running',
          'web:latest (no image yet)',
          'dc/web (not deployed yet)',
        ],
        ["not exposed: run 'slipway expose svc/web'"],
      ],
      [
        'tool',
        ['https://github.com/me/tool.git', 'bc/tool (no build)', 'tool:latest (no image yet)'],
        ["no build yet: start one with 'slipway start-build tool'"],
      ],
    ]);
    expect(formatStatus(NS, 'http://api', [])).toContain("No apps yet. Make one with 'slipway new-app");
  });
});

describe('set env, set triggers, scale', () => {
  it('parses K=V and K-, and refuses anything else', () => {
    expect(parseEnvArgs(['A=1', 'B=x=y', 'C-', 'D='])).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'x=y' },
      { name: 'C', remove: true },
      { name: 'D', value: '' },
    ]);
    expect(() => parseEnvArgs(['A'])).toThrow(/neither NAME=VALUE/);
    expect(() => parseEnvArgs(['1A=x'])).toThrow(/not an environment variable name/);
    expect(() => parseEnvArgs(['A B=x'])).toThrow(/not an environment variable name/);
  });

  it('replaces in place, appends new names and removes', () => {
    expect(
      applyEnvChanges(
        [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
        [
          { name: 'A', value: 'one' },
          { name: 'C', value: '3' },
          { name: 'B', remove: true },
        ],
      ),
    ).toEqual([
      { name: 'A', value: 'one' },
      { name: 'C', value: '3' },
    ]);
  });

  it('turns deployment triggers manual and back, and adds or removes an image trigger', () => {
    const dc = app('web').find((o) => o.kind === 'DeploymentConfig')!;
    const triggers = (dc.spec as any).triggers;
    const manual = editDeploymentTriggers(triggers, { manual: true });
    expect(manual).toEqual([
      { type: 'ImageChange', imageChangeParams: { ...triggers[1].imageChangeParams, automatic: false } },
    ]);
    expect(editDeploymentTriggers(manual, { auto: true })).toEqual(triggers);
    expect(editDeploymentTriggers(triggers, { fromImage: 'web:latest', remove: true })).toEqual([
      { type: 'ConfigChange' },
    ]);
    expect(() => editDeploymentTriggers(triggers, { fromImage: 'other:v1' })).toThrow(/needs --containers/);
    expect(editDeploymentTriggers([], { fromImage: 'tools/other:v1', containers: 'web' })).toEqual([
      {
        type: 'ImageChange',
        imageChangeParams: {
          automatic: true,
          containerNames: ['web'],
          from: { kind: 'ImageStreamTag', name: 'other:v1', namespace: 'tools' },
        },
      },
    ]);
    expect(() => editDeploymentTriggers(triggers, { fromGithub: true })).toThrow(/build triggers/);
    expect(rowsOf('dc', triggers)).toEqual([
      ['config', '', 'true'],
      ['image', 'web:latest (web)', 'true'],
    ]);
  });

  it('adds and removes build triggers; webhook triggers name their Secret', () => {
    const bc = app('web').find((o) => o.kind === 'BuildConfig')!;
    const triggers = (bc.spec as any).triggers;
    const secretName = (t: string) => `web-${t}-webhook-secret`;
    const without = editBuildTriggers(
      triggers,
      { fromGithub: true, fromConfig: true, remove: true },
      secretName,
    );
    expect(without.map((t) => t.type)).toEqual(['Generic', 'ImageChange']);
    expect(editBuildTriggers(without, { fromGithub: true }, secretName).at(-1)).toEqual({
      type: 'GitHub',
      github: { secretReference: { name: 'web-github-webhook-secret' } },
    });
    expect(editBuildTriggers(triggers, { removeAll: true }, secretName)).toEqual([]);
    expect(() => editBuildTriggers(triggers, { manual: true }, secretName)).toThrow(/for dc\/NAME/);
    expect(() => editBuildTriggers(triggers, { fromImage: 'Bad Name' }, secretName)).toThrow(
      /IMAGESTREAM:TAG/,
    );
  });

  it('scales to a whole number of replicas within the limit', () => {
    expect(parseReplicas('3')).toBe(3);
    expect(parseReplicas('0')).toBe(0);
    expect(() => parseReplicas(undefined)).toThrow(/--replicas=N/);
    expect(() => parseReplicas('-1')).toThrow(/not a whole number/);
    expect(() => parseReplicas('2.5')).toThrow(/not a whole number/);
    expect(() => parseReplicas('1000')).toThrow(/more than 100/);
  });
});

describe('expose', () => {
  it('makes a Route to the Service by its first port, and prints the URL (with a curl line when there is no DNS)', () => {
    const svc = app('web').find((o) => o.kind === 'Service')!;
    expect(routeFor(svc, {}).spec).toEqual({
      to: { kind: 'Service', name: 'web', weight: 100 },
      port: { targetPort: '8080-tcp' },
    });
    expect(routeFor(svc, { hostname: 'web.example.com', path: '/api', name: 'api' })).toMatchObject({
      metadata: { name: 'api', labels: { app: 'web' } },
      spec: { host: 'web.example.com', path: '/api' },
    });
    expect(serviceName('svc/web')).toBe('web');
    expect(() => serviceName('dc/web')).toThrow(/is not svc\/NAME/);
    expect(() => serviceName('svc/Web')).toThrow(/not a valid Service name/);
    expect(
      routeUrls({ host: 'web-ns.localhost', routerPort: 8081, serverUrl: 'http://127.0.0.1:8080' }),
    ).toEqual({
      url: 'http://web-ns.localhost:8081/',
    });
    expect(routeUrls({ host: 'web.example.com', routerPort: 80, serverUrl: 'http://10.0.0.5:8080' })).toEqual(
      {
        url: 'http://web.example.com/',
        curl: "curl -H 'Host: web.example.com' http://10.0.0.5/",
      },
    );
  });
});

function rowsOf(kind: 'dc' | 'bc', triggers: any[]): string[][] {
  return triggerRows(kind, triggers);
}
