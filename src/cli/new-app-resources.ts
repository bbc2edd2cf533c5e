/**
 * The objects `slipway new-app` creates, as `oc new-app` does: an ImageStream for the
 * app's image, a BuildConfig building into it (ConfigChange, ImageChange, GitHub and
 * Generic triggers, the webhook secrets kept in Secrets), a DeploymentConfig following
 * the image, and a Service in front of it. Pure: names, sources and secrets in, objects out.
 */
import { DNS1123_LABEL, type Resource } from '../core/resource.js';
import type { BuildStrategyType, Detection } from './app-detect.js';

/** OpenShift marks what new-app made with this annotation; `slipway status` lists these apps. */
export const GENERATED_BY = 'openshift.io/generated-by';
export const GENERATED_BY_VALUE = 'SlipwayNewApp';
/** The Secret key a webhook trigger's secretReference points at (openshift/api WebHookSecretKey). */
export const WEBHOOK_SECRET_KEY = 'WebHookSecretKey';
/** Names longer than this are cut: `NAME-NAMESPACE.domain` must stay a usable host label. */
export const MAX_APP_NAME = 40;

/** Where a new app's source comes from. */
export type AppSource = { type: 'Git'; uri: string; ref?: string | undefined } | { type: 'Binary' };

export interface BuilderRef {
  namespace: string;
  /** `name:tag` */
  name: string;
}

export interface NewAppInput {
  name: string;
  namespace: string;
  source: AppSource;
  detection: Detection;
  /** The builder image stream tag (Source strategy). */
  builder?: BuilderRef | undefined;
  /** Webhook secrets, made by the caller from a crypto-random source. */
  secrets: { github: string; generic: string };
}

const GIT_URL = /^(?:(?:https?|ssh|git|file):\/\/[^\s]+|[\w.-]+@[\w.-]+:[^\s]+)$/;

/**
 * A git URL as `new-app` takes it: `https://host/repo.git`, `git@host:repo.git`,
 * `git://…`, `ssh://…`, `file://…`, with an optional `#ref` (`oc new-app URL#branch`).
 * Undefined when `arg` is not one.
 */
export function parseGitUrl(arg: string): { uri: string; ref?: string } | undefined {
  const hash = arg.indexOf('#');
  const uri = hash >= 0 ? arg.slice(0, hash) : arg;
  const ref = hash >= 0 ? arg.slice(hash + 1) : undefined;
  // A URL (or its host) starting with "-" would reach git and ssh as an option.
  if (!GIT_URL.test(uri) || /^-|^[a-z+]+:\/\/-/i.test(uri)) return undefined;
  if (ref !== undefined && !/^[\w./-]+$/.test(ref)) return undefined;
  return ref ? { uri, ref } : { uri };
}

/**
 * A local checkout's `origin` as a source Slipway's workers can fetch: a network URL
 * (https, http, ssh, git, user@host:path). A path or file:// remote only names this
 * machine's disk, so the directory is uploaded instead (undefined). Credentials in the
 * URL are dropped: the server refuses them, and a Secret is where they belong.
 */
export function remoteSource(remote: string): { uri: string; droppedCredentials: boolean } | undefined {
  const parsed = parseGitUrl(remote);
  if (!parsed || parsed.uri.startsWith('file://') || parsed.ref !== undefined) return undefined;
  const m = /^([a-z+]+:\/\/)([^/@]*@)?(.*)$/i.exec(parsed.uri);
  if (m?.[2] && /^https?:\/\/$/i.test(m[1]!)) return { uri: `${m[1]}${m[3]}`, droppedCredentials: true };
  return { uri: parsed.uri, droppedCredentials: false };
}

/** A DNS-1123 label from a repository URL or directory: `https://h/org/My_App.git` → `my-app`. */
export function appNameFrom(uriOrDir: string): string | undefined {
  const last =
    uriOrDir
      .replace(/[#?].*$/, '')
      .replace(/[/\\]+$/, '')
      .split(/[/\\:]/)
      .pop() ?? '';
  const name = last
    .replace(/\.git$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_APP_NAME)
    .replace(/-+$/, '');
  return DNS1123_LABEL.test(name) ? name : undefined;
}

/** Why `name` cannot name an app, or undefined. */
export function appNameProblem(name: string): string | undefined {
  if (!DNS1123_LABEL.test(name) || !/^[a-z]/.test(name))
    return `--name "${name}" must start with a letter and have only lower case letters, digits and "-"`;
  if (name.length > MAX_APP_NAME) return `--name "${name}" is longer than ${MAX_APP_NAME} characters`;
  return undefined;
}

/** `NS/NAME[:TAG]` → the builder's ImageStreamTag; `:latest` when no tag is given. */
export function parseImageStreamArg(arg: string): BuilderRef | undefined {
  const m =
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([\w][\w.-]{0,127}))?$/.exec(arg);
  if (!m) return undefined;
  return { namespace: m[1]!, name: `${m[3]}:${m[5] ?? 'latest'}` };
}

interface StreamLike {
  metadata: { name: string; namespace?: string };
  spec?: { tags?: { name: string; annotations?: Record<string, string> | null }[] | null };
  status?: { tags?: { tag: string; items?: unknown[] }[] };
}

/**
 * Pure: the builder ImageStreamTag for a language among the streams of the builder
 * namespace. A stream named after the language wins (`nodejs:latest`); otherwise a tag
 * whose `supports` annotation names the language (`supports: nodejs,nodejs:20`) or whose
 * `tags` annotation says `builder,LANGUAGE`. Undefined when none fits.
 */
export function chooseBuilder(language: string, streams: readonly StreamLike[]): BuilderRef | undefined {
  const named = streams.find((s) => s.metadata.name === language);
  if (named) return { namespace: named.metadata.namespace ?? 'openshift', name: `${language}:latest` };
  for (const s of streams) {
    for (const t of s.spec?.tags ?? []) {
      const supports = (t.annotations?.supports ?? '').split(',').map((w) => w.trim().split(':')[0]);
      const tags = (t.annotations?.tags ?? '').split(',').map((w) => w.trim());
      if (supports.includes(language) || (tags.includes('builder') && tags.includes(language)))
        return { namespace: s.metadata.namespace ?? 'openshift', name: `${s.metadata.name}:${t.name}` };
    }
  }
  return undefined;
}

/** The URL a BuildConfig's webhook trigger answers on (OpenShift's path). */
export function webhookUrl(
  server: string,
  namespace: string,
  name: string,
  secret: string,
  type: 'github' | 'generic',
): string {
  const base = server.replace(/\/+$/, '');
  return `${base}/apis/build.openshift.io/v1/namespaces/${encodeURIComponent(namespace)}/buildconfigs/${encodeURIComponent(name)}/webhooks/${secret}/${type}`;
}

function secret(name: string, namespace: string, labels: Record<string, string>, value: string): Resource {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels, annotations: { [GENERATED_BY]: GENERATED_BY_VALUE } },
    type: 'Opaque',
    data: { [WEBHOOK_SECRET_KEY]: Buffer.from(value, 'utf8').toString('base64') },
  };
}

function strategyOf(strategy: BuildStrategyType, builder: BuilderRef | undefined): Record<string, unknown> {
  if (strategy === 'Docker') return { type: 'Docker', dockerStrategy: {} };
  if (!builder) throw new Error('a Source build needs a builder image stream');
  return {
    type: 'Source',
    sourceStrategy: { from: { kind: 'ImageStreamTag', namespace: builder.namespace, name: builder.name } },
  };
}

/**
 * The objects to create, in the order to create them: ImageStream, the two webhook
 * Secrets, BuildConfig, DeploymentConfig, Service. A Binary source has no ConfigChange
 * trigger: its first build waits for an upload (as in OpenShift).
 */
export function newAppResources(input: NewAppInput): Resource[] {
  const { name, namespace, source, detection, builder } = input;
  const labels = { app: name };
  const annotations = { [GENERATED_BY]: GENERATED_BY_VALUE };
  const meta = (n: string): Resource['metadata'] => ({ name: n, namespace, labels, annotations });
  const githubSecret = `${name}-github-webhook-secret`;
  const genericSecret = `${name}-generic-webhook-secret`;
  const buildTriggers: Record<string, unknown>[] = [
    { type: 'GitHub', github: { secretReference: { name: githubSecret } } },
    { type: 'Generic', generic: { secretReference: { name: genericSecret } } },
  ];
  if (source.type === 'Git') buildTriggers.push({ type: 'ConfigChange' });
  // A new builder image rebuilds the app (a Docker build's FROM is not an image stream here).
  if (detection.strategy === 'Source') buildTriggers.push({ type: 'ImageChange', imageChange: {} });
  const ports = detection.ports.map((p) => ({ containerPort: p, protocol: 'TCP' }));
  const selector = { deploymentconfig: name };
  return [
    {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: meta(name),
      spec: { lookupPolicy: { local: false } },
    },
    secret(githubSecret, namespace, labels, input.secrets.github),
    secret(genericSecret, namespace, labels, input.secrets.generic),
    {
      apiVersion: 'build.openshift.io/v1',
      kind: 'BuildConfig',
      metadata: meta(name),
      spec: {
        source:
          source.type === 'Git'
            ? { type: 'Git', git: { uri: source.uri, ...(source.ref ? { ref: source.ref } : {}) } }
            : { type: 'Binary', binary: {} },
        strategy: strategyOf(detection.strategy, builder),
        output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
        triggers: buildTriggers,
        runPolicy: 'Serial',
      },
    },
    {
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: meta(name),
      spec: {
        replicas: 1,
        selector,
        strategy: { type: 'Rolling' },
        triggers: [
          { type: 'ConfigChange' },
          {
            type: 'ImageChange',
            imageChangeParams: {
              automatic: true,
              containerNames: [name],
              from: { kind: 'ImageStreamTag', name: `${name}:latest` },
            },
          },
        ],
        template: {
          metadata: { labels: { ...labels, ...selector } },
          spec: {
            containers: [
              {
                name,
                // Filled in by the ImageChange trigger once the first build pushes.
                image: '',
                ports,
                // oc new-app adds no probe; without one a replica would take requests before it listens.
                readinessProbe: {
                  tcpSocket: { port: detection.ports[0] },
                  periodSeconds: 1,
                  failureThreshold: 3,
                },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name),
      spec: {
        selector,
        ports: detection.ports.map((p) => ({ name: `${p}-tcp`, port: p, targetPort: p, protocol: 'TCP' })),
      },
    },
  ];
}
