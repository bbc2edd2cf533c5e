/**
 * FakeKubeApiServer: a STAND-IN for the Kubernetes API server. No Kubernetes API server
 * can run on these machines (no kind, minikube or k3s, no images to pull), so the
 * Kubernetes target is tested against this Kubernetes-API-compatible test server instead.
 * It is not a cluster and passing against it is not passing against one.
 *
 * What it serves, as the API server does (paths, verbs, Status objects, resourceVersion):
 * - `/api/v1/namespaces/{ns}/{replicationcontrollers|pods|services|secrets}[/{name}]`,
 *   `/apis/apps/v1/namespaces/{ns}/deployments[/{name}]`: list (labelSelector,
 *   fieldSelector), get, create, replace (resourceVersion required and checked), patch
 *   (merge and strategic merge, with a resourceVersion precondition), delete; `?watch=true`
 *   streams watch events from a resourceVersion (410 Gone when too old);
 * - subresources `pods/{name}/log`, `{kind}/{name}/status`, `replicationcontrollers/{name}/scale`;
 * - over HTTPS with its own certificate, bearer-token auth (401 without it);
 * - every object written is validated (fake-kube-validation.ts: the official schemas from
 *   `kubernetes-models`, strict field names, the server's own checks) and refused with
 *   the Status the API server would send.
 *
 * And a tiny control plane, so there is something to wait for: an RC controller that
 * creates and deletes pods to match `spec.replicas` (not-ready pods removed first) and
 * keeps RC status; a "kubelet" that moves pods through Pending → Running/Ready, stuck
 * waiting reasons (ImagePullBackOff, CrashLoopBackOff), or — restartPolicy Never pods —
 * to Succeeded/Failed with an exit code and a log, as a per-test `PodRule` decides; pod
 * termination after deletion; and garbage collection of objects whose owner is gone.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  KINDS,
  Rejection,
  SCALE,
  apiVersionOf,
  mergePatch,
  strategicMergePatch,
  validateObject,
  type KindDef,
  type KObject,
} from './fake-kube-validation.js';

/** What the stand-in's kubelet does with a pod. */
export type PodBehaviour =
  /** Runs and becomes Ready (after `afterMs`). */
  | { kind: 'ready'; afterMs?: number }
  /** Runs, never Ready (a readiness probe that never passes). */
  | { kind: 'never-ready'; message?: string }
  /** Never starts: the container waits with this reason (ImagePullBackOff, CreateContainerConfigError…). */
  | { kind: 'waiting'; reason: string; message: string }
  /** Starts, exits, is restarted: CrashLoopBackOff. */
  | { kind: 'crash'; exitCode?: number }
  /** Runs to completion (restartPolicy Never pods): exits with `exitCode` after `runMs`, printing `logs`. */
  | { kind: 'exit'; exitCode: number; logs: string; runMs?: number };

/** Decides a pod's behaviour; `env` is the first container's environment, secrets resolved. */
export type PodRule = (pod: KObject, env: Record<string, string>) => PodBehaviour;

/**
 * The default rule, by image name and env: `no-such-image` → ImagePullBackOff; a pod with
 * restartPolicy Never exits with FAKE_EXIT_CODE (0) after FAKE_RUN_MS (50) printing
 * FAKE_LOG; `never-ready` → never Ready; `crash` → CrashLoopBackOff; anything else Ready.
 */
export const defaultPodRule: PodRule = (pod, env) => {
  const image: string = pod.spec?.containers?.[0]?.image ?? '';
  if (image.includes('no-such-image')) {
    return { kind: 'waiting', reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` };
  }
  if (pod.spec?.restartPolicy === 'Never' || pod.spec?.restartPolicy === 'OnFailure') {
    return {
      kind: 'exit',
      exitCode: Number(env.FAKE_EXIT_CODE ?? 0),
      logs: env.FAKE_LOG ?? '',
      runMs: Number(env.FAKE_RUN_MS ?? 50),
    };
  }
  if (image.includes('never-ready')) return { kind: 'never-ready' };
  if (image.includes('crash')) return { kind: 'crash' };
  return { kind: 'ready', afterMs: Number(env.FAKE_READY_MS ?? 0) };
};

export interface FakeKubeApiServerOptions {
  namespaces?: string[];
  rule?: PodRule;
  /** Period of the controller and kubelet loop. */
  tickMs?: number;
  /** How long a new pod stays Pending (ContainerCreating). */
  podStartMs?: number;
  /** How long a deleted pod stays Terminating. */
  terminationMs?: number;
  /** Watch events kept for watches that start from an older resourceVersion. */
  historyLimit?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  plural?: string;
  name?: string;
  subresource?: string;
  status: number;
}

interface Fault {
  method: string;
  plural: string;
  name?: string;
  subresource?: string;
  code: number;
  remaining: number;
}

interface Watcher {
  plural: string;
  namespace: string;
  matches(obj: KObject): boolean;
  send(type: string, obj: unknown): void;
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  obj: KObject;
}

interface KubeletState {
  behaviour: PodBehaviour;
  createdAt: number;
  logs: string;
}

interface Route {
  def: KindDef;
  namespace: string;
  name?: string;
  subresource?: string;
}

function nowRfc3339(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function status(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** Equality- and set-based label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`. */
export function parseLabelSelector(
  selector: string | undefined,
): (labels: Record<string, string> | undefined) => boolean {
  if (!selector) return () => true;
  const terms =
    selector
      .match(/[^,(]+(\([^)]*\))?/g)
      ?.map((t) => t.trim())
      .filter(Boolean) ?? [];
  const tests = terms.map((term): ((l: Record<string, string>) => boolean) => {
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      const key = m[1]!;
      return m[2] === 'in' ? (l) => values.includes(l[key] ?? '\0') : (l) => !values.includes(l[key] ?? '\0');
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m;
      return op === '!=' ? (l) => l[key!] !== value : (l) => l[key!] === value;
    }
    if (term.startsWith('!')) return (l) => !(term.slice(1) in l);
    return (l) => term in l;
  });
  return (labels) => tests.every((t) => t(labels ?? {}));
}

/** Field selectors on `metadata.name`, `metadata.namespace`, `status.phase`, with `=`/`==`/`!=`. */
function parseFieldSelector(selector: string | undefined): (obj: KObject) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((term) => {
    const m = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) throw new Rejection(400, `invalid field selector: ${term}`);
    const [, field, op, value] = m;
    const read = (o: KObject): unknown => field!.split('.').reduce<any>((v, k) => v?.[k], o);
    return op === '!=' ? (o: KObject) => read(o) !== value : (o: KObject) => read(o) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}

export class FakeKubeApiServer {
  readonly token = randomBytes(16).toString('hex');
  /** Every request, in order, for assertions (`which patch type`, `how many PUTs`). */
  readonly requests: RecordedRequest[] = [];
  /** Objects the stand-in itself produced that its own schema check refused: must stay empty. */
  readonly internalErrors: string[] = [];
  url = '';
  kubeconfigPath = '';

  private server!: Server;
  private readonly dir = mkdtempSync(join(tmpdir(), 'fake-kube-apiserver-'));
  private readonly namespaces: Set<string>;
  private readonly objects = new Map<string, KObject>();
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly kubelet = new Map<string, KubeletState>();
  /** When each terminating pod (by uid) is finally removed. */
  private readonly removals = new Map<string, number>();
  private readonly faults: Fault[] = [];
  private rule: PodRule;
  private createError: ((rc: KObject) => string | undefined) | undefined;
  private rv = 1000;
  private nextIp = 10;
  private timer: NodeJS.Timeout | undefined;
  private readonly options: Required<Omit<FakeKubeApiServerOptions, 'namespaces' | 'rule'>>;

  private constructor(options: FakeKubeApiServerOptions) {
    this.namespaces = new Set(options.namespaces ?? ['default']);
    this.rule = options.rule ?? defaultPodRule;
    this.options = {
      tickMs: options.tickMs ?? 20,
      podStartMs: options.podStartMs ?? 30,
      terminationMs: options.terminationMs ?? 60,
      historyLimit: options.historyLimit ?? 5000,
    };
  }

  /** Starts the stand-in on a free loopback port with a fresh certificate and writes its kubeconfig. */
  static async start(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
    const api = new FakeKubeApiServer(options);
    await api.listen();
    return api;
  }

  private async listen(): Promise<void> {
    const key = join(this.dir, 'key.pem');
    const cert = join(this.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=fake-kube-apiserver',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    this.server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          this.send(res, 500, status(500, 'InternalError', `stand-in error: ${String(err)}`));
        else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    const port = addr && typeof addr === 'object' ? addr.port : 0;
    this.url = `https://127.0.0.1:${port}`;
    // A kubeconfig as a user would have one: a cluster with its CA, a token user, a context.
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'stand-in',
          cluster: { server: this.url, 'certificate-authority-data': readFileSync(cert).toString('base64') },
        },
      ],
      users: [{ name: 'slipway', user: { token: this.token } }],
      contexts: [
        { name: 'stand-in', context: { cluster: 'stand-in', user: 'slipway', namespace: 'default' } },
      ],
      'current-context': 'stand-in',
    };
    this.kubeconfigPath = join(this.dir, 'kubeconfig');
    writeFileSync(this.kubeconfigPath, toYaml(kubeconfig));
    this.timer = setInterval(() => this.reconcile(), this.options.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers) w.send('__close__', undefined);
    this.watchers.clear();
    await new Promise<void>((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Ends every open watch, as an API server restart or an idle-timeout proxy does. */
  closeWatches(): void {
    for (const w of this.watchers) w.send('__close__', undefined);
    this.watchers.clear();
  }

  addNamespace(namespace: string): void {
    this.namespaces.add(namespace);
  }

  setPodRule(rule: PodRule): void {
    this.rule = rule;
  }

  /** Makes the RC controller fail to create pods for RCs where `fn` answers a message (quota, admission). */
  setCreateError(fn: ((rc: KObject) => string | undefined) | undefined): void {
    this.createError = fn;
  }

  /** The next `times` requests matching answer `code` (409 → Conflict) instead of being served. */
  failNext(
    match: { method: string; plural: string; name?: string; subresource?: string },
    code: number,
    times = 1,
  ): void {
    this.faults.push({ ...match, code, remaining: times });
  }

  get(plural: string, namespace: string, name: string): KObject | undefined {
    const o = this.objects.get(`${plural}/${namespace}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  list(plural: string, namespace: string): KObject[] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${plural}/${namespace}/`))
      .map(([, o]) => structuredClone(o));
  }

  /** Creates an object as a user's `kubectl create` would (validated, defaulted). */
  seed(obj: KObject): KObject {
    const def = Object.values(KINDS).find((d) => d.kind === obj.kind && apiVersionOf(d) === obj.apiVersion);
    if (!def) throw new Error(`the stand-in does not serve ${obj.apiVersion} ${obj.kind}`);
    const ns = obj.metadata.namespace ?? 'default';
    validateObject(def, obj, ns);
    return structuredClone(this.create(def, ns, structuredClone(obj)));
  }

  // ---- HTTP ------------------------------------------------------------------------------

  private send(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(path: string): Route | undefined {
    const m =
      /^\/(?:api\/v1|apis\/(apps)\/v1)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
    if (!m) return undefined;
    const def = KINDS[m[3]!];
    if (!def || (def.group || undefined) !== m[1]) return undefined;
    const route: Route = { def, namespace: decodeURIComponent(m[2]!) };
    if (m[4]) route.name = decodeURIComponent(m[4]);
    if (m[5]) route.subresource = m[5];
    return route;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams.entries());
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const route = this.route(url.pathname);
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      contentType: req.headers['content-type']?.split(';')[0],
      status: 0,
    };
    if (route) {
      record.plural = route.def.plural;
      if (route.name) record.name = route.name;
      if (route.subresource) record.subresource = route.subresource;
    }
    this.requests.push(record);
    const answer = (code: number, body: unknown, contentType?: string): void => {
      record.status = code;
      this.send(res, code, body, contentType);
    };

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return answer(401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    if (!route)
      return answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const { def, namespace, name, subresource } = route;

    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 &&
        f.method === method &&
        f.plural === def.plural &&
        (f.name === undefined || f.name === name) &&
        f.subresource === subresource,
    );
    if (fault) {
      fault.remaining--;
      if (fault.code === 409) {
        return answer(
          409,
          status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${def.plural} "${name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, kind: def.plural },
          ),
        );
      }
      return answer(fault.code, status(fault.code, 'InternalError', `injected failure ${fault.code}`));
    }

    try {
      if (!this.namespaces.has(namespace)) {
        throw Object.assign(new Error(), {
          status: status(404, 'NotFound', `namespaces "${namespace}" not found`, {
            name: namespace,
            kind: 'namespaces',
          }),
        });
      }
      const key = name ? `${def.plural}/${namespace}/${name}` : '';
      const notFound = (): Record<string, unknown> =>
        status(404, 'NotFound', `${def.plural}${def.group ? `.${def.group}` : ''} "${name}" not found`, {
          name,
          ...(def.group ? { group: def.group } : {}),
          kind: def.plural,
        });
      const body = (): KObject => {
        try {
          return JSON.parse(raw) as KObject;
        } catch {
          throw new Rejection(400, 'the request body is not JSON');
        }
      };

      if (!name) {
        if (method === 'GET' && query.watch === 'true') return this.watch(res, record, def, namespace, query);
        if (method === 'GET') {
          const labels = parseLabelSelector(query.labelSelector);
          const fields = parseFieldSelector(query.fieldSelector);
          const items = this.list(def.plural, namespace)
            .filter((o) => labels(o.metadata.labels) && fields(o))
            .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
          return answer(200, {
            kind: `${def.kind}List`,
            apiVersion: apiVersionOf(def),
            metadata: { resourceVersion: String(this.rv) },
            items,
          });
        }
        if (method === 'POST') {
          const obj = body();
          if (this.objects.has(`${def.plural}/${namespace}/${obj.metadata?.name}`)) {
            return answer(
              409,
              status(409, 'AlreadyExists', `${def.plural} "${obj.metadata.name}" already exists`, {
                name: obj.metadata.name,
                kind: def.plural,
              }),
            );
          }
          validateObject(def, obj, namespace);
          if (obj.metadata.resourceVersion) {
            // What etcd3's storage answers, surfaced by the API server as a 500.
            return answer(
              500,
              status(
                500,
                'InternalError',
                'Internal error occurred: resourceVersion should not be set on objects to be created',
              ),
            );
          }
          return answer(201, this.create(def, namespace, obj));
        }
        return answer(
          405,
          status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`),
        );
      }

      const current = this.objects.get(key);
      if (subresource === 'log') {
        if (def.plural !== 'pods' || method !== 'GET')
          return answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));
        if (!current) return answer(404, notFound());
        return this.podLog(current, query, answer);
      }
      if (subresource === 'scale') {
        if (def.plural !== 'replicationcontrollers')
          return answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));
        if (!current) return answer(404, notFound());
        return this.scale(current, method, raw, record.contentType, answer);
      }
      if (subresource && subresource !== 'status')
        return answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));

      switch (method) {
        case 'GET':
          return current ? answer(200, current) : answer(404, notFound());
        case 'PUT': {
          if (!current) return answer(404, notFound());
          const obj = body();
          if (obj.metadata?.name !== name)
            throw new Rejection(400, 'the name of the object does not match the name on the URL');
          if (!obj.metadata.resourceVersion) {
            throw new Rejection(
              422,
              `${def.kind} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
              [
                {
                  reason: 'FieldValueInvalid',
                  field: 'metadata.resourceVersion',
                  message: 'Invalid value: 0x0: must be specified for an update',
                },
              ],
            );
          }
          if (obj.metadata.resourceVersion !== current.metadata.resourceVersion)
            return answer(409, this.conflict(def, name));
          return answer(200, this.update(def, namespace, current, obj, subresource === 'status'));
        }
        case 'PATCH': {
          if (!current) return answer(404, notFound());
          const patch = body();
          const type = record.contentType;
          let next: KObject;
          if (type === 'application/merge-patch+json') next = mergePatch(current, patch) as KObject;
          else if (type === 'application/strategic-merge-patch+json')
            next = strategicMergePatch(current, patch) as KObject;
          else {
            return answer(
              415,
              status(
                415,
                'UnsupportedMediaType',
                `the stand-in serves merge and strategic-merge patches, not ${type}`,
              ),
            );
          }
          const precondition = patch.metadata?.resourceVersion;
          if (precondition !== undefined && precondition !== current.metadata.resourceVersion)
            return answer(409, this.conflict(def, name));
          next.metadata = { ...next.metadata, resourceVersion: current.metadata.resourceVersion! };
          return answer(200, this.update(def, namespace, current, next, subresource === 'status'));
        }
        case 'DELETE': {
          if (!current) return answer(404, notFound());
          const options = raw ? (JSON.parse(raw) as { gracePeriodSeconds?: number }) : {};
          const grace =
            query.gracePeriodSeconds !== undefined
              ? Number(query.gracePeriodSeconds)
              : options.gracePeriodSeconds;
          if (def.plural === 'pods' && grace !== 0) return answer(200, this.terminate(current, grace));
          this.remove(def.plural, current);
          return answer(200, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: {
              name,
              ...(def.group ? { group: def.group } : {}),
              kind: def.plural,
              uid: current.metadata.uid,
            },
          });
        }
        default:
          return answer(
            405,
            status(
              405,
              'MethodNotAllowed',
              'the server does not allow this method on the requested resource',
            ),
          );
      }
    } catch (err) {
      const s = (err as { status?: Record<string, unknown> }).status;
      if (s) return answer(s.code as number, s);
      if (err instanceof Rejection) {
        const reason = err.code === 422 ? 'Invalid' : 'BadRequest';
        const details = err.causes.length > 0 ? { name, kind: def.kind, causes: err.causes } : undefined;
        return answer(err.code, status(err.code, reason, err.message, details));
      }
      throw err;
    }
  }

  private conflict(def: KindDef, name: string): Record<string, unknown> {
    return status(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${def.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, kind: def.plural },
    );
  }

  // ---- storage ---------------------------------------------------------------------------

  private commit(type: HistoryEvent['type'], plural: string, obj: KObject): KObject {
    const key = `${plural}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const rv = ++this.rv;
    if (type === 'DELETED') this.objects.delete(key);
    else {
      obj.metadata.resourceVersion = String(rv);
      this.objects.set(key, obj);
    }
    const copy = structuredClone(obj);
    if (type === 'DELETED') copy.metadata.resourceVersion = String(rv);
    this.history.push({ rv, type, plural, obj: copy });
    if (this.history.length > this.options.historyLimit) this.history.shift();
    for (const w of this.watchers) {
      if (w.plural === plural && w.namespace === obj.metadata.namespace && w.matches(copy))
        w.send(type, copy);
    }
    return structuredClone(obj);
  }

  /** The server's side of a create: identity, timestamps and the defaults the cluster applies. */
  private create(def: KindDef, namespace: string, obj: KObject): KObject {
    obj.metadata = { ...obj.metadata, namespace, uid: randomUUID(), creationTimestamp: nowRfc3339() };
    if (def.plural === 'replicationcontrollers' || def.plural === 'deployments') {
      obj.metadata.generation = 1;
      obj.spec.replicas ??= 1;
      obj.status = { replicas: 0 };
    }
    if (def.plural === 'replicationcontrollers') {
      obj.spec.template.spec.restartPolicy ??= 'Always';
    }
    if (def.plural === 'pods') {
      obj.spec.restartPolicy ??= 'Always';
      obj.spec.serviceAccountName ??= 'default';
      obj.spec.terminationGracePeriodSeconds ??= 30;
      obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
    }
    if (def.plural === 'services') {
      const spec = obj.spec;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.clusterIP === undefined && spec.type !== 'ExternalName') {
        spec.clusterIP = `10.96.0.${this.nextIp++}`;
        spec.clusterIPs = [spec.clusterIP];
      }
      for (const p of spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
        if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort === undefined)
          p.nodePort = 30000 + this.nextIp++;
      }
      obj.status = { loadBalancer: {} };
    }
    if (def.plural === 'secrets') this.foldStringData(obj);
    return this.commit('ADDED', def.plural, obj);
  }

  private foldStringData(obj: KObject): void {
    // As the API server does: stringData is write-only, merged into data.
    if (!obj.stringData) return;
    obj.data = { ...(obj.data ?? {}) };
    for (const [k, v] of Object.entries(obj.stringData as Record<string, string>))
      obj.data[k] = Buffer.from(v).toString('base64');
    delete obj.stringData;
    obj.type ??= 'Opaque';
  }

  /** Replace or patch: the main resource keeps its status, `/status` keeps its spec. */
  private update(
    def: KindDef,
    namespace: string,
    current: KObject,
    next: KObject,
    statusOnly: boolean,
  ): KObject {
    next.metadata = {
      ...next.metadata,
      namespace,
      uid: current.metadata.uid!,
      creationTimestamp: current.metadata.creationTimestamp!,
    };
    if (current.metadata.generation !== undefined) next.metadata.generation = current.metadata.generation;
    if (current.metadata.deletionTimestamp)
      next.metadata.deletionTimestamp = current.metadata.deletionTimestamp;
    if (statusOnly) {
      const status = next.status;
      next = { ...structuredClone(current), status };
    } else {
      if (current.status === undefined) delete next.status;
      else next.status = structuredClone(current.status);
      if (def.plural === 'services') {
        const spec = next.spec ?? {};
        // Since Kubernetes 1.20 an update without clusterIP keeps the allocated one.
        if (spec.clusterIP === undefined || spec.clusterIP === '') {
          spec.clusterIP = current.spec.clusterIP;
          if (current.spec.clusterIPs) spec.clusterIPs = current.spec.clusterIPs;
        } else if (spec.clusterIP !== current.spec.clusterIP) {
          throw new Rejection(
            422,
            `Service "${next.metadata.name}" is invalid: spec.clusterIP: Invalid value: "${spec.clusterIP}": field is immutable`,
            [
              {
                reason: 'FieldValueInvalid',
                field: 'spec.clusterIP',
                message: `Invalid value: "${spec.clusterIP}": field is immutable`,
              },
            ],
          );
        }
      }
      if (def.plural === 'secrets') this.foldStringData(next);
      if (
        next.metadata.generation !== undefined &&
        JSON.stringify(next.spec) !== JSON.stringify(current.spec)
      )
        next.metadata.generation++;
    }
    validateObject(def, next, namespace);
    return this.commit('MODIFIED', def.plural, next);
  }

  private remove(plural: string, obj: KObject): void {
    this.kubelet.delete(obj.metadata.uid!);
    this.removals.delete(obj.metadata.uid!);
    this.commit('DELETED', plural, structuredClone(obj));
  }

  /** Graceful pod deletion: Terminating now (out of endpoints), gone after `terminationMs`. */
  private terminate(pod: KObject, grace: number | undefined): KObject {
    if (pod.metadata.deletionTimestamp) return structuredClone(pod);
    const seconds = grace ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const next = structuredClone(pod);
    next.metadata.deletionTimestamp = nowRfc3339(Date.now() + seconds * 1000);
    next.metadata.deletionGracePeriodSeconds = seconds;
    this.removals.set(pod.metadata.uid!, Date.now() + this.options.terminationMs);
    return this.commit('MODIFIED', 'pods', next);
  }

  private scale(
    rc: KObject,
    method: string,
    raw: string,
    contentType: string | undefined,
    answer: (code: number, body: unknown) => void,
  ): void {
    const view = (o: KObject): KObject => ({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name: o.metadata.name,
        namespace: o.metadata.namespace!,
        uid: o.metadata.uid!,
        resourceVersion: o.metadata.resourceVersion!,
        creationTimestamp: o.metadata.creationTimestamp!,
      },
      spec: { replicas: o.spec.replicas },
      status: {
        replicas: o.status?.replicas ?? 0,
        selector: Object.entries(o.spec.selector ?? {})
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(','),
      },
    });
    if (method === 'GET') return answer(200, view(rc));
    let scale: KObject;
    if (method === 'PUT') scale = JSON.parse(raw) as KObject;
    else if (
      method === 'PATCH' &&
      (contentType === 'application/merge-patch+json' ||
        contentType === 'application/strategic-merge-patch+json')
    ) {
      scale = mergePatch(view(rc), JSON.parse(raw)) as KObject;
    } else
      return answer(
        405,
        status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'),
      );
    validateObject(SCALE, scale, rc.metadata.namespace!);
    if (scale.metadata.resourceVersion && scale.metadata.resourceVersion !== rc.metadata.resourceVersion) {
      return answer(409, this.conflict(KINDS.replicationcontrollers!, rc.metadata.name));
    }
    const next = structuredClone(rc);
    next.spec.replicas = scale.spec?.replicas ?? 0;
    if (next.spec.replicas !== rc.spec.replicas)
      next.metadata.generation = (next.metadata.generation ?? 1) + 1;
    return answer(200, view(this.commit('MODIFIED', 'replicationcontrollers', next)));
  }

  private podLog(
    pod: KObject,
    query: Record<string, string>,
    answer: (code: number, body: unknown, contentType?: string) => void,
  ): void {
    const names: string[] = (pod.spec.containers ?? []).map((c: { name: string }) => c.name);
    const container = query.container ?? (names.length === 1 ? names[0] : undefined);
    if (!container)
      return answer(
        400,
        status(
          400,
          'BadRequest',
          `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]`,
        ),
      );
    if (!names.includes(container))
      return answer(
        400,
        status(400, 'BadRequest', `container ${container} is not valid for pod ${pod.metadata.name}`),
      );
    const cs = pod.status?.containerStatuses?.find((c: { name: string }) => c.name === container);
    if (!cs || cs.state?.waiting) {
      const reason = cs?.state?.waiting?.reason ?? 'ContainerCreating';
      return answer(
        400,
        status(
          400,
          'BadRequest',
          `container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${reason}`,
        ),
      );
    }
    let lines = (this.kubelet.get(pod.metadata.uid!)?.logs ?? '').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (query.tailLines !== undefined) lines = lines.slice(-Number(query.tailLines));
    return answer(200, lines.length > 0 ? `${lines.join('\n')}\n` : '', 'text/plain');
  }

  private watch(
    res: ServerResponse,
    record: RecordedRequest,
    def: KindDef,
    namespace: string,
    query: Record<string, string>,
  ): void {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(query.fieldSelector);
    const matches = (o: KObject): boolean => labels(o.metadata.labels) && fields(o);
    record.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const write = (type: string, obj: unknown): void => {
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    const from = query.resourceVersion;
    if (!from || from === '0') {
      for (const o of this.list(def.plural, namespace).filter(matches)) write('ADDED', o);
    } else {
      const since = Number(from);
      const oldest = this.history[0]?.rv ?? this.rv + 1;
      if (since < oldest - 1) {
        write('ERROR', status(410, 'Expired', `too old resource version: ${since} (${oldest - 1})`));
        res.end();
        return;
      }
      for (const e of this.history) {
        if (
          e.rv > since &&
          e.plural === def.plural &&
          e.obj.metadata.namespace === namespace &&
          matches(e.obj)
        )
          write(e.type, e.obj);
      }
    }
    const watcher: Watcher = {
      plural: def.plural,
      namespace,
      matches,
      send: (type, obj) => {
        if (type === '__close__') res.end();
        else write(type, obj);
      },
    };
    this.watchers.add(watcher);
    const end = (): void => {
      this.watchers.delete(watcher);
      if (timeout) clearTimeout(timeout);
    };
    const timeout = query.timeoutSeconds
      ? setTimeout(
          () => {
            end();
            res.end();
          },
          Number(query.timeoutSeconds) * 1000,
        )
      : undefined;
    res.on('close', end);
  }

  // ---- the control plane -----------------------------------------------------------------

  private reconcile(): void {
    try {
      this.runReplicationControllers();
      this.runKubelet();
      this.collectGarbage();
    } catch (err) {
      this.internalErrors.push(String((err as Error).stack ?? err));
    }
  }

  private all(plural: string): KObject[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${plural}/`)).map(([, o]) => o);
  }

  private isReady(pod: KObject): boolean {
    return (
      pod.status?.conditions?.some(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      ) ?? false
    );
  }

  private runReplicationControllers(): void {
    const pods = this.all('pods');
    for (const rc of this.all('replicationcontrollers')) {
      const owned = pods.filter((p) =>
        p.metadata.ownerReferences?.some((o) => o.uid === rc.metadata.uid && o.controller),
      );
      const active = owned.filter(
        (p) => !p.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase),
      );
      const want: number = rc.spec.replicas ?? 1;
      let failure: string | undefined;
      if (active.length < want) {
        failure = this.createError?.(rc);
        if (!failure) for (let i = active.length; i < want; i++) active.push(this.createPod(rc));
      } else if (active.length > want) {
        // As the RC controller does: not-ready pods go first, then the newest.
        const victims = [...active]
          .sort(
            (a, b) =>
              Number(this.isReady(a)) - Number(this.isReady(b)) ||
              Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion),
          )
          .slice(0, active.length - want);
        for (const v of victims) this.terminate(v, undefined);
        active.splice(0, active.length, ...active.filter((p) => !victims.includes(p)));
      }
      const minReadyMs = (rc.spec.minReadySeconds ?? 0) * 1000;
      const ready = active.filter((p) => this.isReady(p));
      const available = ready.filter((p) => {
        const c = p.status.conditions.find((x: { type: string }) => x.type === 'Ready');
        return Date.parse(c.lastTransitionTime) <= Date.now() - minReadyMs;
      });
      const nextStatus: Record<string, unknown> = {
        replicas: active.length,
        fullyLabeledReplicas: active.length,
        readyReplicas: ready.length,
        availableReplicas: available.length,
        observedGeneration: rc.metadata.generation,
      };
      const prior = (rc.status?.conditions ?? []).find((c: { type: string }) => c.type === 'ReplicaFailure');
      if (failure) {
        nextStatus.conditions = [
          {
            type: 'ReplicaFailure',
            status: 'True',
            reason: 'FailedCreate',
            message: failure,
            lastTransitionTime: prior?.lastTransitionTime ?? nowRfc3339(),
          },
        ];
      }
      if (JSON.stringify(nextStatus) !== JSON.stringify(rc.status)) {
        const next = structuredClone(rc);
        next.status = nextStatus;
        this.selfCheck(KINDS.replicationcontrollers!, next);
        this.commit('MODIFIED', 'replicationcontrollers', next);
      }
    }
  }

  private createPod(rc: KObject): KObject {
    const template = rc.spec.template;
    const name = `${rc.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const pod: KObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: rc.metadata.namespace!,
        labels: { ...(template.metadata?.labels ?? {}) },
        annotations: { ...(template.metadata?.annotations ?? {}) },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'ReplicationController',
            name: rc.metadata.name,
            uid: rc.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(template.spec),
    };
    this.selfCheck(KINDS.pods!, pod);
    return this.create(KINDS.pods!, rc.metadata.namespace!, pod);
  }

  private selfCheck(def: KindDef, obj: KObject): void {
    try {
      validateObject(def, obj, obj.metadata.namespace ?? 'default');
    } catch (err) {
      this.internalErrors.push(`the stand-in made an invalid ${def.kind}: ${(err as Error).message}`);
    }
  }

  /** The first container's environment, secrets resolved as the kubelet does; throws when one is missing. */
  private resolveEnv(pod: KObject): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of pod.spec.containers?.[0]?.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) continue;
      const secret = this.objects.get(`secrets/${pod.metadata.namespace}/${ref.name}`);
      if (!secret) throw new Error(`secret "${ref.name}" not found`);
      const value = secret.data?.[ref.key];
      if (value === undefined)
        throw new Error(`couldn't find key ${ref.key} in Secret ${pod.metadata.namespace}/${ref.name}`);
      env[e.name] = Buffer.from(value, 'base64').toString('utf8');
    }
    return env;
  }

  private runKubelet(): void {
    const now = Date.now();
    for (const pod of this.all('pods')) {
      const removeAt = this.removals.get(pod.metadata.uid!);
      if (pod.metadata.deletionTimestamp) {
        if (removeAt !== undefined && now >= removeAt) this.remove('pods', pod);
        continue;
      }
      if (['Succeeded', 'Failed'].includes(pod.status?.phase)) continue;
      let state = this.kubelet.get(pod.metadata.uid!);
      const container: string = pod.spec.containers[0].name;
      const image: string = pod.spec.containers[0].image;
      const base = { name: container, image, imageID: '', restartCount: 0, ready: false, started: false };
      if (!state) {
        let behaviour: PodBehaviour;
        try {
          behaviour = this.rule(pod, this.resolveEnv(pod));
        } catch (err) {
          behaviour = {
            kind: 'waiting',
            reason: 'CreateContainerConfigError',
            message: (err as Error).message,
          };
        }
        state = { behaviour, createdAt: now, logs: behaviour.kind === 'exit' ? behaviour.logs : '' };
        this.kubelet.set(pod.metadata.uid!, state);
      }
      const started = nowRfc3339(state.createdAt + this.options.podStartMs);
      const ready = (value: boolean, message?: string): Record<string, unknown> => {
        const prior = pod.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        const status = value ? 'True' : 'False';
        return {
          type: 'Ready',
          status,
          lastTransitionTime: prior?.status === status ? prior.lastTransitionTime : nowRfc3339(),
          ...(value
            ? {}
            : {
                reason: 'ContainersNotReady',
                message: message ?? `containers with unready status: [${container}]`,
              }),
        };
      };
      const scheduled = {
        type: 'PodScheduled',
        status: 'True',
        lastTransitionTime: nowRfc3339(state.createdAt),
      };
      let next: Record<string, unknown>;
      const b = state.behaviour;
      const common = {
        hostIP: '10.0.0.2',
        podIP: `10.244.0.${(Number(pod.metadata.resourceVersion) % 250) + 2}`,
        startTime: nowRfc3339(state.createdAt),
        qosClass: 'BestEffort',
      };
      if (now - state.createdAt < this.options.podStartMs) {
        next = {
          phase: 'Pending',
          conditions: [scheduled, ready(false)],
          containerStatuses: [{ ...base, state: { waiting: { reason: 'ContainerCreating' } } }],
          ...common,
        };
      } else if (b.kind === 'waiting') {
        next = {
          phase: 'Pending',
          conditions: [scheduled, ready(false)],
          containerStatuses: [{ ...base, state: { waiting: { reason: b.reason, message: b.message } } }],
          ...common,
        };
      } else if (b.kind === 'crash') {
        const restarts = Math.floor((now - state.createdAt) / 200) + 1;
        next = {
          phase: 'Running',
          conditions: [scheduled, ready(false)],
          containerStatuses: [
            {
              ...base,
              restartCount: restarts,
              state: {
                waiting: {
                  reason: 'CrashLoopBackOff',
                  message: `back-off 10s restarting failed container=${container} pod=${pod.metadata.name}`,
                },
              },
              lastState: {
                terminated: {
                  exitCode: b.exitCode ?? 1,
                  reason: 'Error',
                  startedAt: started,
                  finishedAt: started,
                },
              },
            },
          ],
          ...common,
        };
      } else if (b.kind === 'exit' && now - state.createdAt >= this.options.podStartMs + (b.runMs ?? 50)) {
        const finished = nowRfc3339();
        next = {
          phase: b.exitCode === 0 ? 'Succeeded' : 'Failed',
          conditions: [
            scheduled,
            { type: 'Ready', status: 'False', lastTransitionTime: finished, reason: 'PodCompleted' },
          ],
          containerStatuses: [
            {
              ...base,
              state: {
                terminated: {
                  exitCode: b.exitCode,
                  reason: b.exitCode === 0 ? 'Completed' : 'Error',
                  startedAt: started,
                  finishedAt: finished,
                },
              },
            },
          ],
          ...common,
        };
      } else {
        const isReady =
          b.kind === 'ready' && now - state.createdAt >= this.options.podStartMs + (b.afterMs ?? 0);
        next = {
          phase: 'Running',
          conditions: [scheduled, ready(isReady, b.kind === 'never-ready' ? b.message : undefined)],
          containerStatuses: [
            { ...base, ready: isReady, started: true, state: { running: { startedAt: started } } },
          ],
          ...common,
        };
      }
      if (JSON.stringify(next) !== JSON.stringify(pod.status)) {
        const updated = structuredClone(pod);
        updated.status = next;
        this.selfCheck(KINDS.pods!, updated);
        this.commit('MODIFIED', 'pods', updated);
      }
    }
  }

  /** Objects whose owner (by uid) is gone are deleted, as the garbage collector does. */
  private collectGarbage(): void {
    const uids = new Set([...this.objects.values()].map((o) => o.metadata.uid));
    for (const [key, obj] of [...this.objects.entries()]) {
      const owners = obj.metadata.ownerReferences ?? [];
      if (owners.length === 0 || owners.some((o) => uids.has(o.uid))) continue;
      const plural = key.split('/')[0]!;
      if (plural === 'pods') this.terminate(obj, undefined);
      else this.remove(plural, obj);
    }
  }
}
