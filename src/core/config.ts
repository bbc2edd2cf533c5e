/**
 * Configuration: every setting has an environment variable `SLIPWAY_*` and a key in an
 * optional config file (JSON or YAML, `--config`); flags override both, the file
 * overrides the environment's defaults only where the environment is silent.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from './errors.js';

const bool = z.union([
  z.boolean(),
  z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
]);
const int = z.coerce.number().int().positive();

export const configSchema = z.object({
  listen: z.string().default('127.0.0.1:8080'),
  redisUrl: z.string().default('redis://127.0.0.1:6379'),
  /** The internal registry: `ImageStreamTag` outputs push here. */
  registry: z.string().default('127.0.0.1:5000'),
  adminToken: z.string().optional(),
  registryNotifyToken: z.string().optional(),
  githubSecret: z.string().optional(),
  routerListen: z.string().default('127.0.0.1:8081'),
  /** Routes without `spec.host` answer to `{name}-{namespace}.{routerDomain}` (`*.localhost` resolves to loopback). */
  routerDomain: z.string().default('localhost'),
  /** A CA bundle handed to every build (OpenShift's mountTrustedCA). */
  trustedCA: z.string().optional(),
  httpProxy: z.string().optional(),
  httpsProxy: z.string().optional(),
  noProxy: z.string().optional(),
  kubeconfig: z.string().optional(),
  /**
   * Kubernetes target: Custom deployer pods run with hostNetwork, so that they reach a
   * Slipway API and a Kubernetes API listening on the node's loopback (a single-node test
   * cluster such as the kit). Off: they use the pod network, as on a real cluster.
   */
  kubeDeployerHostNetwork: bool.default(false),
  workerConcurrency: int.default(2),
  allowFileSources: bool.default(false),
  /**
   * Path prefixes a DeploymentConfig's `hostPath` volumes may name (comma-separated in the
   * environment, a list in the file); empty, every hostPath is refused: a hostPath mount
   * hands the host's files to whoever may write a DeploymentConfig.
   */
  allowHostPaths: z
    .union([z.array(z.string()), z.string().transform((v) => v.split(','))])
    .transform((list) => list.map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.string().startsWith('/', 'each entry must be an absolute path')))
    .default([]),
  dataDir: z.string().default(join(homedir(), '.local', 'share', 'slipway')),
  /** The image `slipway up` and the builder images start from. */
  baseImage: z.string().default('slipway/debian:bookworm'),
  /** Attempts at a push before the build fails with PushImageToRegistryFailed. */
  pushAttempts: int.default(3),
  pushRetryDelayMs: z.coerce.number().int().nonnegative().default(2000),
  /** BullMQ lease on a running build; a dead worker's build is reclaimed after about this long. */
  workerLockMs: int.default(30000),
  stalledIntervalMs: int.default(30000),
  /**
   * On SIGTERM, how long a worker's running builds may take to finish before they are
   * handed back to the queue. Keep it below the supervisor's kill timeout (Kubernetes
   * waits 30 s by default).
   */
  shutdownGraceSeconds: z.coerce.number().int().nonnegative().default(20),
  /**
   * Bytes of binary-build uploads one namespace may have waiting in Redis at once
   * (SLIPWAY_UPLOAD_QUOTA_BYTES); an upload past it is refused with 403.
   */
  uploadQuotaBytes: int.default(512 * 1024 * 1024),
  /** Where builds clone sources; each build has its own directory, removed afterwards. */
  workDir: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `text` lines for a person, `json` for a collector; `auto` picks text when stderr is a terminal. */
  logFormat: z.enum(['auto', 'text', 'json']).default('auto'),
  /** Base URL links in commit statuses point to. */
  publicUrl: z.string().optional(),
  /** Token that posts commit statuses to GitHub; unset, no statuses are posted. */
  githubToken: z.string().optional(),
  /** GitHub's REST API: `https://HOST/api/v3` for GitHub Enterprise Server. */
  githubApiUrl: z.string().url().default('https://api.github.com'),
});
export type SlipwayConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** `redisUrl` → `SLIPWAY_REDIS_URL`. */
export function envName(key: string): string {
  return `SLIPWAY_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

export function fromEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[envName(key)];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

export interface LoadConfigOptions {
  file?: string | undefined;
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/** Builds the effective configuration; a bad value is an InputError naming the setting. */
export function loadConfig(options: LoadConfigOptions = {}): SlipwayConfig {
  let fileValues: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read config file ${options.file}: ${(err as Error).message}`, {
        code: 400,
      });
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && typeof parsed === 'object') fileValues = parsed as Record<string, unknown>;
    const unknownKeys = Object.keys(fileValues).filter((k) => !(k in configSchema.shape));
    if (unknownKeys.length > 0) {
      throw new InputError(`config file ${options.file}: unknown setting(s) ${unknownKeys.join(', ')}`, {
        code: 400,
      });
    }
  }
  const flags = Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...fileValues, ...fromEnvironment(options.env), ...flags };
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${envName(String(i.path[0]))}: ${i.message}`).join('; ');
    throw new InputError(`invalid configuration: ${detail}`, { code: 400 });
  }
  return result.data;
}

/** `redis://:secret@host:port` → `redis://***@host:port`: a URL to print or log. */
export function redactUrlCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export function parseHostPort(listen: string): { host: string; port: number } {
  const idx = listen.lastIndexOf(':');
  const host = idx > 0 ? listen.slice(0, idx) : '127.0.0.1';
  const port = Number(idx >= 0 ? listen.slice(idx + 1) : listen);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError(`"${listen}" is not HOST:PORT`, { code: 400 });
  return { host: host.replace(/^\[|\]$/g, ''), port };
}
