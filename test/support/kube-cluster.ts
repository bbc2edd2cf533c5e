/**
 * A real Kubernetes cluster for the tests in test/kubernetes/: the kit beside the
 * repository (`../shared/k8s`, started by `.ci/run` or by hand with its `up.sh`), or the
 * user's own cluster named by SLIPWAY_TEST_KUBECONFIG. With neither, the suite is
 * skipped and says so loudly: a skipped cluster suite must never pass for a tested one.
 *
 * Each test file gets namespaces of its own. In each, the RBAC objects of
 * docs/kubernetes-rbac.yaml are applied and Slipway talks to the cluster with a token of
 * the `slipway` ServiceAccount bound only to that Role (TokenRequest API); the admin
 * credentials are only used by the tests to set up and to read back what happened.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { sharedRegistryFile, sharedRegistryState } from './kube-teardown.js';
import { BASE_IMAGE, freePort, tempDir, waitFor, type RegistryHandle } from './stack.js';

/** The repository: the nearest folder above this file with docs/kubernetes-rbac.yaml (also from a compiled bench). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'docs', 'kubernetes-rbac.yaml')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const REPO = repoRoot();
/** The kit lives beside the repository, in CI and on a developer's machine alike. */
export const KIT_DIR = resolve(REPO, '..', 'shared', 'k8s');
const KIT_DATA = process.env.K8S_KIT_DATA ?? '/var/lib/k8s-kit';
export const RBAC_YAML = join(REPO, 'docs', 'kubernetes-rbac.yaml');

export interface ClusterChoice {
  kind: 'kit' | 'external';
  /** Admin credentials: set-up and observation only, never given to Slipway. */
  kubeconfig: string;
}

/** Which cluster the suite runs against, if any. */
export function clusterChoice(env: NodeJS.ProcessEnv = process.env): ClusterChoice | undefined {
  if (env.SLIPWAY_TEST_KUBECONFIG) return { kind: 'external', kubeconfig: env.SLIPWAY_TEST_KUBECONFIG };
  const kitConfig = join(KIT_DATA, 'admin.kubeconfig');
  if (existsSync(join(KIT_DIR, 'up.sh')) && existsSync(kitConfig))
    return { kind: 'kit', kubeconfig: kitConfig };
  return undefined;
}

export const cluster = clusterChoice();

/**
 * `describe` when a cluster is there; otherwise a skipped block and a message nobody
 * can miss in the output.
 */
export function describeOnCluster(name: string, fn: () => void): void {
  if (cluster) {
    describe(name, fn);
    return;
  }
  const banner = '#'.repeat(100);
  process.stderr.write(
    `\n${banner}\n# NOT RUN: "${name}" needs a Kubernetes cluster and none was found.\n` +
      `# Start the kit (bash ../shared/k8s/up.sh, beside this repository) or set SLIPWAY_TEST_KUBECONFIG\n` +
      `# to an admin kubeconfig of your own cluster. These tests were SKIPPED, not passed.\n${banner}\n\n`,
  );
  describe.skip(`${name} [NOT RUN: no Kubernetes cluster]`, fn);
}

/**
 * Records that a test file really ran against a cluster: `.ci/run` sets
 * SLIPWAY_KUBE_TEST_MARKER and fails when the kit was up but nothing was recorded.
 */
export function recordRun(file: string, passed: number): void {
  const marker = process.env.SLIPWAY_KUBE_TEST_MARKER;
  if (!marker || !cluster) return;
  appendFileSync(marker, `${new Date().toISOString()} ${cluster.kind} ${file} ${passed} tests\n`);
}

export interface AdminClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  networking: NetworkingV1Api;
  objects: KubernetesObjectApi;
}

export function adminClients(): AdminClients {
  if (!cluster) throw new Error('no Kubernetes cluster for this test');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfig);
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    networking: kubeConfig.makeApiClient(NetworkingV1Api),
    objects: KubernetesObjectApi.makeApiClient(kubeConfig),
  };
}

/**
 * Lets the nodes pull from a plain-HTTP registry on loopback. On the kit: its up.sh again
 * with the registries it has plus this one (the kit stays up; containerd reads the new
 * host on the next pull). On a user's cluster the registry must already be reachable by
 * the nodes under the same name (SLIPWAY_TEST_REGISTRY).
 */
export function registerRegistryWithNodes(host: string): void {
  if (cluster?.kind !== 'kit') return;
  const certsDir = join(KIT_DATA, 'containerd', 'certs.d');
  const known = existsSync(certsDir) ? readdirSync(certsDir) : [];
  if (known.includes(host)) return;
  const list = [...new Set([...known.filter((h) => h.startsWith('127.0.0.1:')), '127.0.0.1:5000', host])];
  execFileSync('bash', [join(KIT_DIR, 'up.sh')], {
    env: { ...process.env, K8S_KIT_REGISTRIES: list.join(' ') },
    stdio: 'pipe',
  });
}

/**
 * The registry the tests push to and the nodes pull from: SLIPWAY_TEST_REGISTRY (host:port,
 * reachable from the test and from the nodes, plain HTTP, no credentials) when given; else
 * one docker-registry on loopback for the whole test run, registered with the kit's nodes.
 * It is shared by the test files of one run (SLIPWAY_KUBE_RUN_ID, set by the global
 * set-up) so that each layer is pushed, and pulled by the kubelet, once; the global
 * teardown stops it (`stopSharedRegistry`).
 */
export async function nodeRegistry(): Promise<RegistryHandle> {
  const given = process.env.SLIPWAY_TEST_REGISTRY;
  const keep = async (): Promise<void> => undefined;
  if (given) return { host: given, port: Number(given.split(':').pop()), stop: keep };
  const state = sharedRegistryState();
  if (state && (await registryAnswers(state.port))) return { host: state.host, port: state.port, stop: keep };
  const port = await freePort();
  const dir = tempDir('slipway-kube-registry-');
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  // Detached: it outlives this test file and is stopped by the global teardown.
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  await waitFor('the test registry', () => registryAnswers(port));
  const host = `127.0.0.1:${port}`;
  writeFileSync(sharedRegistryFile(), JSON.stringify({ host, port, pid: child.pid, dir }));
  registerRegistryWithNodes(host);
  return { host, port, stop: keep };
}

async function registryAnswers(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200;
  } catch {
    return false;
  }
}

/** A static busybox (httpd, wget, sh): the kit's own, or Debian's busybox-static. */
function busyboxLayerDir(): string | undefined {
  const archive = join(KIT_DIR, 'images', 'busybox.tar.xz');
  if (!existsSync(archive)) return undefined;
  const dir = tempDir('slipway-busybox-');
  execFileSync('bash', ['-c', 'xz -dc "$1" | tar -x -C "$2"', 'extract', archive, dir]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  for (const layer of manifest[0]?.Layers ?? []) {
    try {
      execFileSync('tar', ['-x', '-f', join(dir, layer), '-C', dir, 'bin/busybox'], { stdio: 'pipe' });
      return dir;
    } catch {
      // not in this layer
    }
  }
  return undefined;
}

/**
 * The app every cluster test runs: a busybox httpd on 8080 answering `$MESSAGE` (or the
 * image's own version), `wget` for the exec readiness probe, and an entrypoint that
 * stops at once on SIGTERM. MODE=never-ready starts no server (the probe never passes);
 * MODE=crash exits 3 at once.
 */
const ENTRYPOINT = `#!/bin/sh
mkdir -p /tmp/www
echo "\${MESSAGE:-$(cat /version)}" > /tmp/www/index.html
case "\${MODE:-serve}" in
  crash) echo "crashing as asked"; exit 3 ;;
  never-ready) trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done ;;
esac
busybox httpd -f -p 8080 -h /tmp/www &
pid=$!
trap 'kill $pid; exit 0' TERM
wait $pid
`;

export interface TestImages {
  /** `host/slipway-kube-test/web@sha256:…` per version. */
  v1: string;
  v2: string;
  /** Docker's local tags, removed by `remove`. */
  localTags: string[];
  remove(): void;
}

/** Builds two versions of the test app FROM Slipway's base image and pushes them; returns digest references. */
export function buildTestImages(registry: RegistryHandle, repo = 'slipway-kube-test/web'): TestImages {
  const ctx = mkdtempSync(join(tmpdir(), 'slipway-kube-image-'));
  const localTags: string[] = [];
  try {
    const layer = busyboxLayerDir();
    let install: string;
    if (layer) {
      execFileSync('cp', [join(layer, 'bin', 'busybox'), join(ctx, 'busybox')]);
      rmSync(layer, { recursive: true, force: true });
      install = 'COPY busybox /bin/busybox';
    } else {
      install =
        'RUN apt-get update && apt-get install -y --no-install-recommends busybox-static && rm -rf /var/lib/apt/lists/*';
    }
    writeFileSync(join(ctx, 'serve.sh'), ENTRYPOINT, { mode: 0o755 });
    const refs: string[] = [];
    for (const version of ['v1', 'v2']) {
      writeFileSync(
        join(ctx, 'Dockerfile'),
        [
          `FROM ${BASE_IMAGE}`,
          install,
          'RUN ln -s /bin/busybox /usr/local/bin/wget && ln -s /bin/busybox /usr/local/bin/httpd',
          'COPY serve.sh /serve.sh',
          `RUN echo ${version} > /version`,
          'CMD ["/serve.sh"]',
          '',
        ].join('\n'),
      );
      const tag = `${registry.host}/${repo}:${version}`;
      execFileSync('docker', ['build', '-q', '-t', tag, ctx], { stdio: 'pipe' });
      localTags.push(tag);
      const out = execFileSync('docker', ['push', tag], { encoding: 'utf8' });
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
      if (!digest) throw new Error(`docker push ${tag} printed no digest:\n${out}`);
      refs.push(`${registry.host}/${repo}@${digest}`);
    }
    return {
      v1: refs[0]!,
      v2: refs[1]!,
      localTags,
      remove: () => {
        for (const t of localTags) execFileSync('docker', ['rmi', '-f', t], { stdio: 'pipe' });
      },
    };
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** The exec readiness probe of every test app: the app answers inside its own pod. */
export const WGET_PROBE = {
  exec: { command: ['wget', '-q', '-O-', 'http://127.0.0.1:8080/'] },
  periodSeconds: 1,
  failureThreshold: 1,
  successThreshold: 1,
  timeoutSeconds: 2,
};

export interface TestNamespace {
  name: string;
  /** A kubeconfig with only the `slipway` ServiceAccount's token: what Slipway is given. */
  slipwayKubeconfig: string;
  delete(): Promise<void>;
}

/** The objects of docs/kubernetes-rbac.yaml, for `namespace`. */
export function rbacObjects(namespace: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(RBAC_YAML, 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => Boolean(o))
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/**
 * A fresh namespace with README's Role bound to the `slipway` ServiceAccount, and a
 * kubeconfig holding a token of that account (an hour; the TokenRequest API).
 */
export async function createTestNamespace(admin: AdminClients, prefix = 'slipway-t'): Promise<TestNamespace> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await admin.core.createNamespace({ body: { metadata: { name, labels: { 'slipway.dev/test': 'true' } } } });
  // Admission rejects bare pods until the namespace's default ServiceAccount exists.
  await waitFor(
    `the default ServiceAccount of ${name}`,
    async () => Boolean(await admin.core.readNamespacedServiceAccount({ namespace: name, name: 'default' })),
    30_000,
    200,
  );
  for (const obj of rbacObjects(name)) await admin.objects.create(obj);
  const request = await admin.core.createNamespacedServiceAccountToken({
    namespace: name,
    name: 'slipway',
    body: { spec: { expirationSeconds: 3600, audiences: [] } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token for ServiceAccount ${name}/slipway`);
  const server = admin.kubeConfig.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...server, name: 'cluster' }],
    users: [{ name: 'slipway', token }],
    contexts: [{ name: 'slipway', cluster: 'cluster', user: 'slipway', namespace: name }],
    currentContext: 'slipway',
  });
  const dir = tempDir('slipway-kubeconfig-');
  const slipwayKubeconfig = join(dir, 'kubeconfig');
  writeFileSync(slipwayKubeconfig, kc.exportConfig(), { mode: 0o600 });
  return {
    name,
    slipwayKubeconfig,
    delete: async () => {
      rmSync(dir, { recursive: true, force: true });
      // Not waited for: the namespace controller removes the rest while the next test runs.
      await admin.core.deleteNamespace({ name }).catch(() => undefined);
    },
  };
}

/** Pods of a namespace as the API server has them now. */
export async function listPods(admin: AdminClients, namespace: string, selector?: string): Promise<V1Pod[]> {
  const list = await admin.core.listNamespacedPod({
    namespace,
    ...(selector ? { labelSelector: selector } : {}),
  });
  return list.items;
}

export function podReady(pod: V1Pod): boolean {
  return Boolean(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/**
 * A Custom-strategy deployer that does the rollout itself through the Kubernetes API, as
 * OpenShift's deployer does: with its pod's ServiceAccount token and CA it scales the new
 * revision ($OPENSHIFT_DEPLOYMENT_NAME) to $SLIPWAY_DESIRED_REPLICAS through the `scale`
 * subresource, waits until the RC reports that many ready replicas, and scales the previous
 * one ($SLIPWAY_PREVIOUS_DEPLOYMENT) to 0. DEPLOYER_FAIL=msg makes it exit 5 with that message.
 */
const DEPLOYER_JS = `
const fs = require('fs');
const https = require('https');
const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const token = fs.readFileSync(SA + '/token', 'utf8').trim();
const ca = fs.readFileSync(SA + '/ca.crt');
const env = process.env;
const ns = env.OPENSHIFT_DEPLOYMENT_NAMESPACE;
const name = env.OPENSHIFT_DEPLOYMENT_NAME;
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: env.KUBERNETES_SERVICE_HOST, port: env.KUBERNETES_SERVICE_PORT, method, path, ca,
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } },
      (res) => { let data = ''; res.on('data', (c) => (data += c)); res.on('end', () => {
        if (res.statusCode >= 300) reject(new Error(method + ' ' + path + ': ' + res.statusCode + ' ' + data));
        else resolve(JSON.parse(data)); }); });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
async function scale(rc, replicas) {
  const path = '/api/v1/namespaces/' + ns + '/replicationcontrollers/' + rc + '/scale';
  const current = await call('GET', path);
  current.spec.replicas = replicas;
  await call('PUT', path, current);
  console.log('scaled ' + rc + ' to ' + replicas);
}
(async () => {
  const who = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub;
  console.log('deploying ' + name + ' in ' + ns + ' as ' + who);
  if (env.DEPLOYER_FAIL) { console.log(env.DEPLOYER_FAIL); process.exit(5); }
  const want = Number(env.SLIPWAY_DESIRED_REPLICAS);
  await scale(name, want);
  for (let i = 0; ; i++) {
    const rc = await call('GET', '/api/v1/namespaces/' + ns + '/replicationcontrollers/' + name);
    if ((rc.status.readyReplicas || 0) >= want) break;
    if (i > 240) throw new Error(name + ' not ready after 120s');
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(name + ' has ' + want + ' ready replicas');
  if (env.SLIPWAY_PREVIOUS_DEPLOYMENT) await scale(env.SLIPWAY_PREVIOUS_DEPLOYMENT, 0);
})().catch((err) => { console.log('deployer failed: ' + err.message); process.exit(1); });
`;

/** The deployer image (Node from Slipway's nodejs builder image, itself FROM the base image), pushed by digest. */
export function buildDeployerImage(registry: RegistryHandle): { image: string; remove(): void } {
  const ctx = mkdtempSync(join(tmpdir(), 'slipway-kube-deployer-'));
  const tag = `${registry.host}/slipway-kube-test/deployer:1`;
  try {
    writeFileSync(join(ctx, 'deploy.js'), DEPLOYER_JS);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        `FROM ${process.env.SLIPWAY_NODEJS_BUILDER ?? 'slipway/s2i-nodejs:latest'}`,
        'COPY deploy.js /deploy.js',
        'ENTRYPOINT []',
        'CMD ["node", "/deploy.js"]',
        '',
      ].join('\n'),
    );
    execFileSync('docker', ['build', '-q', '-t', tag, ctx], { stdio: 'pipe' });
    const out = execFileSync('docker', ['push', tag], { encoding: 'utf8' });
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    if (!digest) throw new Error(`docker push ${tag} printed no digest:\n${out}`);
    return {
      image: `${registry.host}/slipway-kube-test/deployer@${digest}`,
      remove: () => execFileSync('docker', ['rmi', '-f', tag], { stdio: 'pipe' }),
    };
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** Removes the Docker engine's images of one namespace's builds (`HOST/NAMESPACE/…`), tags and dangling alike. */
export function removeBuildImages(registryHost: string, namespace: string): void {
  const prefix = `${registryHost}/${namespace}/`;
  const lines = execFileSync('docker', ['images', '--format', '{{.Repository}} {{.ID}}'], {
    encoding: 'utf8',
  });
  const ids = new Set(
    lines
      .split('\n')
      .filter((l) => l.startsWith(prefix))
      .map((l) => l.split(' ')[1]!),
  );
  for (const id of ids) {
    try {
      execFileSync('docker', ['rmi', '-f', id], { stdio: 'pipe' });
    } catch {
      // another image of the list already took it with it
    }
  }
}
