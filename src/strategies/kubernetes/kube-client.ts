/**
 * The thin adapter between Slipway and a Kubernetes API server: loading credentials
 * (a kubeconfig file or the pod's service account), the typed API clients of
 * `@kubernetes/client-node`, and the mapping of the API server's `Status` answers to
 * Slipway's named errors. Everything else in this folder speaks Slipway's verbs.
 */
import { existsSync } from 'node:fs';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  InputError,
  NotFoundError,
  UnauthorizedError,
  errorMessage,
  type FieldCause,
} from '../../core/errors.js';
import { sleep } from '../strategy.js';

/** Where a pod finds its service account; its presence (with the env below) means "in a cluster". */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Whether this process runs in a Kubernetes pod that can talk to its own cluster. */
export function inClusterAvailable(
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && exists(SERVICE_ACCOUNT_TOKEN));
}

/**
 * Loads the credentials Slipway uses: the kubeconfig file when one is named
 * (SLIPWAY_KUBECONFIG), else the pod's service account when running in a cluster.
 */
export function loadKubeConfig(options: {
  kubeconfig?: string | undefined;
  env?: NodeJS.ProcessEnv;
}): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) {
      throw new InputError(
        `SLIPWAY_KUBECONFIG: ${options.kubeconfig} does not exist; name a kubeconfig file or unset it`,
        {
          code: 400,
        },
      );
    }
    try {
      kc.loadFromFile(options.kubeconfig);
    } catch (err) {
      throw new InputError(`SLIPWAY_KUBECONFIG: cannot read ${options.kubeconfig}: ${errorMessage(err)}`, {
        code: 400,
        cause: err,
      });
    }
    if (!kc.getCurrentCluster()) {
      throw new InputError(
        `SLIPWAY_KUBECONFIG: ${options.kubeconfig} has no current context with a cluster; run \`kubectl config use-context NAME\` on it`,
        { code: 400 },
      );
    }
    return kc;
  }
  if (inClusterAvailable(options.env)) {
    kc.loadFromCluster();
    return kc;
  }
  throw new InputError(
    'no Kubernetes cluster configured: set SLIPWAY_KUBECONFIG to a kubeconfig file, or run Slipway in a pod',
    { code: 400 },
  );
}

/** The API clients one target uses, made once from one KubeConfig. */
export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  networking: NetworkingV1Api;
  /** The API server's URL, for error messages. */
  server: string;
}

export function makeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    networking: kubeConfig.makeApiClient(NetworkingV1Api),
    server: kubeConfig.getCurrentCluster()?.server ?? '(no cluster)',
  };
}

/** The generated client sends JSON Patch unless told otherwise; Slipway's patches are merge patches. */
export const MERGE_PATCH: ConfigurationOptions = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Strategic merge: lists such as `containers` merge by their key (`name`), as `kubectl set image` does. */
export const STRATEGIC_MERGE_PATCH: ConfigurationOptions = setHeaderOptions(
  'Content-Type',
  PatchStrategy.StrategicMergePatch,
);

/** A Kubernetes `Status` object, as the API server answers errors. */
export interface KubeStatus {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: {
    name?: string;
    kind?: string;
    causes?: { field?: string; message?: string; reason?: string }[];
  };
}

function parseStatus(body: unknown): KubeStatus | undefined {
  if (typeof body === 'string') {
    try {
      return parseStatus(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (body && typeof body === 'object' && (body as KubeStatus).kind === 'Status') return body as KubeStatus;
  return undefined;
}

/**
 * The API server's answer as one of Slipway's errors, saying what was being done:
 * 404 → NotFoundError, 409 → AlreadyExistsError/ConflictError, 400/422 → InputError
 * (with the field causes), 401/403 → UnauthorizedError/ForbiddenError.
 */
export function kubeError(err: unknown, what: string, server: string): Error {
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const message =
      status?.message ?? (typeof err.body === 'string' && err.body ? err.body : `HTTP ${err.code}`);
    const text = `${what}: ${message}`;
    switch (err.code) {
      case 404:
        return new NotFoundError(text, { cause: err });
      case 409:
        return status?.reason === 'AlreadyExists'
          ? new AlreadyExistsError(text, { cause: err })
          : new ConflictError(text, { cause: err });
      case 400:
      case 422: {
        const causes: FieldCause[] = (status?.details?.causes ?? []).map((c) => ({
          field: c.field ?? '',
          message: c.message ?? c.reason ?? '',
        }));
        return new InputError(`${text} (the cluster rejected it)`, { code: err.code, causes, cause: err });
      }
      case 401:
        return new UnauthorizedError(
          `${what}: the Kubernetes API server at ${server} refused Slipway's credentials; check the user in SLIPWAY_KUBECONFIG`,
          { cause: err },
        );
      case 403:
        return new ForbiddenError(
          `${text}; Slipway's account needs the RBAC rules listed in README "Kubernetes target"`,
          { cause: err },
        );
      default:
        return new Error(`${what}: the Kubernetes API server answered ${err.code}: ${message}`, {
          cause: err,
        });
    }
  }
  return new Error(`${what}: cannot reach the Kubernetes API server at ${server}: ${errorMessage(err)}`, {
    cause: err,
  });
}

/**
 * Retries `fn` while it fails with a 409 (someone else wrote the object between our read
 * and our write), as client-go's RetryOnConflict does: a few quick attempts, then the
 * conflict goes to the caller.
 */
export async function retryOnConflict<T>(
  fn: () => Promise<T>,
  options: { attempts?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const signal = options.signal ?? new AbortController().signal;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= attempts) throw err;
      await sleep(10 * 2 ** attempt + Math.floor(Math.random() * 10), signal);
    }
  }
}

/**
 * A typed client object as plain JSON, the shape the rest of Slipway reads. The client
 * turns timestamps into Dates; they go back to RFC 3339 at Kubernetes' one-second
 * precision, so an object read and written back is what the server sent.
 */
export function plain<T>(obj: unknown): T {
  return JSON.parse(
    JSON.stringify(obj, function (this: Record<string, unknown>, key: string, value: unknown) {
      const original = this[key];
      return original instanceof Date ? original.toISOString().replace(/\.000Z$/, 'Z') : value;
    }),
  ) as T;
}
