/**
 * Inputs for the fuzz test: a seeded PRNG (a failure is reproduced by running again with
 * the printed seed, SLIPWAY_FUZZ_SEED=…), random JSON-ish values, valid seeds of every
 * body Slipway reads, and mutations of them at the value level and the text level, with
 * the known attacks (deep nesting, alias bombs, self-aliases, odd YAML tags) mixed in.
 */
import { stringify as yamlStringify } from 'yaml';

/** mulberry32: small, fast and good enough to spread inputs; not for secrets. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const KEYS = [
  'name',
  'value',
  'env',
  'git',
  'uri',
  'ref',
  'commit',
  'spec',
  'metadata',
  'kind',
  'apiVersion',
  'items',
  'triggers',
  'status',
  'labels',
  'annotations',
  'revision',
  'buildArgs',
  'from',
  'events',
  'target',
  'repository',
  'tag',
  'digest',
  'changes',
  'push',
  'refs',
  'constructor',
  'toString',
  'hasOwnProperty',
  '__proto__',
  'prototype',
  '',
  ' ',
  'a.b',
  'x'.repeat(300),
];

const STRINGS = [
  '',
  ' ',
  'a',
  'main',
  'master',
  'refs/heads/main',
  'refs/tags/v1',
  '-–upload-pack=touch /tmp/x',
  '--upload-pack=id',
  '$(id)',
  '`id`',
  '; rm -rf /',
  '../../../../etc/passwd',
  '/etc/passwd',
  'ext::sh -c id',
  'file:///etc',
  'https://user:pass@example.invalid/r.git',
  'https://example.invalid/r.git',
  'abcdef1',
  'a'.repeat(40),
  'g'.repeat(40),
  'Z=1\nRUN echo X > /wh.txt\nENV Q',
  '\u0000',
  '\u202e',
  '\ud800',
  '😀',
  'null',
  'true',
  '1e309',
  '{{ .Values }}',
  '${HOME}',
  '*',
  '&a',
  '!!binary',
  'x'.repeat(5000),
  'sha256:' + '0'.repeat(64),
  'application/json',
  'team/web',
  'Bearer x',
];

const NUMBERS = [0, -0, 1, -1, 0.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, 1e-320, 42];

export function randomString(rng: Rng): string {
  if (rng.chance(0.6)) return rng.pick(STRINGS);
  const len = rng.int(rng.chance(0.1) ? 2000 : 20);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rng.next();
    s +=
      r < 0.7
        ? String.fromCharCode(32 + rng.int(95))
        : r < 0.85
          ? String.fromCharCode(rng.int(32))
          : String.fromCodePoint(rng.int(0x2ffff));
  }
  return s;
}

export function randomValue(rng: Rng, depth = 0): Json {
  const r = rng.next();
  if (depth > 4 || r < 0.15) return rng.pick([null, true, false]);
  if (r < 0.3) return rng.pick(NUMBERS);
  if (r < 0.6) return randomString(rng);
  if (r < 0.8) {
    const n = rng.int(5);
    return Array.from({ length: n }, () => randomValue(rng, depth + 1));
  }
  const o: { [k: string]: Json } = {};
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.7) ? rng.pick(KEYS) : randomString(rng);
    // JSON.parse makes `__proto__` an own key; an object literal would set the prototype.
    Object.defineProperty(o, key, {
      value: randomValue(rng, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return o;
}

/** Nests a value `depth` levels deep in arrays or objects. */
export function nested(depth: number, kind: 'array' | 'object' | 'mixed', rng: Rng): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const useArray = kind === 'array' || (kind === 'mixed' && rng.chance(0.5));
    open += useArray ? '[' : '{"a":';
    close = (useArray ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

// ---------- seeds: one valid body of every kind Slipway reads ----------

export const SECRET = 'fuzz-secret-1';

export function buildConfigSeed(name: string): Record<string, Json> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name, labels: { app: name } },
    spec: {
      runPolicy: 'Serial',
      source: { type: 'Git', git: { uri: 'https://example.invalid/repo.git', ref: 'master' } },
      strategy: {
        type: 'Docker',
        dockerStrategy: { env: [{ name: 'A', value: '1' }], buildArgs: [{ name: 'B', value: '2' }] },
      },
      output: { to: { kind: 'ImageStreamTag', name: `${name}:latest` } },
      triggers: [
        { type: 'GitHub', github: { secret: SECRET } },
        { type: 'GitLab', gitlab: { secret: SECRET } },
        { type: 'Bitbucket', bitbucket: { secret: SECRET } },
        { type: 'Generic', generic: { secret: SECRET, allowEnv: true } },
      ],
    },
  };
}

export const RESOURCE_SEEDS: {
  plural: string;
  group: string;
  body: (name: string) => Record<string, Json>;
}[] = [
  { plural: 'buildconfigs', group: 'build.openshift.io', body: buildConfigSeed },
  {
    plural: 'builds',
    group: 'build.openshift.io',
    body: (name) => {
      const bc = buildConfigSeed(name);
      const { triggers: _t, runPolicy: _r, ...spec } = bc.spec as Record<string, Json>;
      return { apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name }, spec };
    },
  },
  {
    plural: 'imagestreams',
    group: 'image.openshift.io',
    body: (name) => ({
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name },
      spec: { tags: [{ name: 'latest', from: { kind: 'DockerImage', name: 'busybox:1' } }] },
    }),
  },
  {
    plural: 'deploymentconfigs',
    group: 'apps.openshift.io',
    body: (name) => ({
      apiVersion: 'apps.openshift.io/v1',
      kind: 'DeploymentConfig',
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { app: name },
        strategy: { type: 'Rolling' },
        triggers: [],
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'web', image: 'busybox:1', env: [{ name: 'X', value: 'y' }] }] },
        },
      },
    }),
  },
  {
    plural: 'secrets',
    group: '',
    body: (name) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name },
      type: 'Opaque',
      stringData: { WebHookSecretKey: 'abc' },
    }),
  },
  {
    plural: 'services',
    group: '',
    body: (name) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  },
  {
    plural: 'routes',
    group: 'route.openshift.io',
    body: (name) => ({
      apiVersion: 'route.openshift.io/v1',
      kind: 'Route',
      metadata: { name },
      spec: { host: `${name}.example.invalid`, to: { kind: 'Service', name } },
    }),
  },
];

export function buildRequestSeed(name: string): Record<string, Json> {
  return {
    kind: 'BuildRequest',
    apiVersion: 'build.openshift.io/v1',
    metadata: { name },
    env: [{ name: 'A', value: '1' }],
    revision: { type: 'Git', git: { commit: 'abcdef1', message: 'm', author: { name: 'a', email: 'a@b' } } },
    triggeredBy: [{ message: 'fuzz' }],
    dockerStrategyOptions: { buildArgs: [{ name: 'B', value: '2' }], noCache: true },
    sourceStrategyOptions: { incremental: false },
  };
}

const SHA = 'a'.repeat(40);
export const REPO_URI = 'https://example.invalid/repo.git';

export const WEBHOOK_SEEDS: Record<'github' | 'gitlab' | 'bitbucket' | 'generic' | 'registry', () => Json> = {
  github: () => ({
    ref: 'refs/heads/master',
    after: SHA,
    repository: { clone_url: REPO_URI, html_url: 'https://example.invalid/repo', full_name: 'o/repo' },
    head_commit: { id: SHA, message: 'm', author: { name: 'a', email: 'a@b' }, added: ['x'], modified: [] },
    commits: [{ id: SHA, message: 'm', added: ['a'], removed: [], modified: ['b'] }],
  }),
  gitlab: () => ({
    object_kind: 'push',
    ref: 'refs/heads/master',
    checkout_sha: SHA,
    after: SHA,
    repository: { git_http_url: REPO_URI, url: REPO_URI },
    commits: [{ id: SHA, message: 'm', author: { name: 'a', email: 'a@b' } }],
  }),
  bitbucket: () => ({
    push: {
      changes: [
        {
          new: {
            type: 'branch',
            name: 'master',
            target: { hash: SHA, message: 'm', author: { raw: 'a <a@b>' } },
          },
        },
      ],
    },
    repository: { links: { html: { href: 'https://example.invalid/repo' } }, full_name: 'o/repo' },
    // Bitbucket Server's refs_changed shape, for the other event key.
    changes: [{ ref: { id: 'refs/heads/master', displayId: 'master' }, toHash: SHA, type: 'UPDATE' }],
  }),
  generic: () => ({
    git: {
      uri: REPO_URI,
      ref: 'master',
      commit: SHA,
      author: { name: 'a', email: 'a@b' },
      message: 'm',
      refs: [{ ref: 'refs/heads/master', commit: SHA }],
    },
    env: [{ name: 'A', value: '1' }],
    dockerStrategyOptions: { buildArgs: [{ name: 'B', value: '2' }], noCache: true },
  }),
  registry: () => ({
    events: [
      {
        id: 'e1',
        action: 'push',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: 'sha256:' + '1'.repeat(64),
          repository: 'fuzz/web',
          tag: 'latest',
          url: 'http://127.0.0.1:5000/v2/fuzz/web/manifests/latest',
        },
        request: { host: '127.0.0.1:5000', method: 'PUT' },
      },
    ],
  }),
};

// ---------- mutations ----------

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Replaces, deletes or wraps one randomly chosen spot inside a copy of `seed`. */
export function mutateValue(rng: Rng, seed: Json, rounds = 1 + rng.int(3)): Json {
  let root = clone(seed);
  for (let r = 0; r < rounds; r++) {
    if (rng.chance(0.05)) {
      root = randomValue(rng);
      continue;
    }
    // Walk down to a random container.
    let parent: Json = root;
    let key: string | number | undefined;
    for (let d = 0; d < 8; d++) {
      const here: Json = key === undefined ? parent : (parent as Record<string, Json>)[key as string]!;
      if (here === null || typeof here !== 'object') break;
      const keys = Array.isArray(here) ? here.map((_, i) => i) : Object.keys(here);
      if (keys.length === 0 || rng.chance(0.25)) break;
      parent = here;
      key = rng.pick(keys as (string | number)[]);
    }
    if (key === undefined || parent === null || typeof parent !== 'object') {
      root = randomValue(rng);
      continue;
    }
    const container = parent as Record<string, Json>;
    const op = rng.int(6);
    if (op === 0) delete container[key];
    else if (op === 1) container[key] = [container[key] ?? null];
    else if (op === 2) container[key] = JSON.parse(nested(50 + rng.int(200), 'mixed', rng)) as Json;
    else if (op === 3) container[key] = rng.pick([null, {}, [], '', 0, true]);
    else container[key] = randomValue(rng);
  }
  return root;
}

const INSERTS = [
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '\n',
  '\t',
  '&a ',
  '*a',
  '- ',
  '---\n',
  '\u0000',
  '%',
  '#',
  '!!',
  '<<: ',
];

/** Byte/character-level damage to a serialized body. */
export function mutateText(rng: Rng, text: string): string {
  let s = text;
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = rng.int(s.length + 1);
    const op = rng.int(6);
    if (op === 0) s = s.slice(0, at);
    else if (op === 1) s = s.slice(0, at) + rng.pick(INSERTS) + s.slice(at);
    else if (op === 2) s = s.slice(0, at) + s.slice(at + 1 + rng.int(20));
    else if (op === 3) {
      const len = 1 + rng.int(40);
      s = s.slice(0, at) + s.slice(at, at + len).repeat(2 + rng.int(4)) + s.slice(at);
    } else if (op === 4) s = s.slice(0, at) + randomString(rng) + s.slice(at);
    else s = s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
  }
  return s;
}

/** Documents built to hurt a YAML reader: each is refused or read, never fatal. */
export function yamlAttack(rng: Rng): string {
  const n = rng.int(9);
  if (n === 0)
    return `a: &a x\nb: [${Array(90 + rng.int(40))
      .fill('*a')
      .join(', ')}]\n`;
  if (n === 1) {
    // Billion laughs, a few levels.
    let doc = 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i < 4 + rng.int(6); i++)
      doc += `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]\n`;
    return doc;
  }
  if (n === 2)
    return rng.pick(['spec: &s {loop: *s}\n', 'a: &a [*a]\n', '&x [*x, *x]\n', 'k: &k\n  k: *k\n']);
  if (n === 3) {
    // Nesting by indentation.
    const depth = 50 + rng.int(400);
    let doc = '';
    for (let i = 0; i < depth; i++) doc += `${' '.repeat(i)}k:\n`;
    return `${doc}${' '.repeat(depth)}v\n`;
  }
  if (n === 4) return nested(rng.pick([99, 100, 101, 1000, 20000]), 'mixed', rng);
  if (n === 5)
    return rng.pick([
      'a: !!binary aGVsbG8=\n',
      'a: !!set {x, y}\n',
      'a: !!omap [x: 1]\n',
      'a: !!timestamp 2001-12-14t21:59:43.10-05:00\n',
      'a: !custom x\n',
      'a: !!js/function "function(){}"\n',
      '%YAML 1.1\n---\na: <<\n',
      'base: &b {x: 1}\nd: {<<: *b, y: 2}\n',
      'a: 0x1F\nb: 0o17\nc: .inf\nd: .nan\ne: ~\n',
      '? [complex, key]\n: v\n',
      `a: ${'9'.repeat(400)}\n`,
    ]);
  if (n === 6) return '---\na: 1\n---\nb: 2\n...\n---\n';
  if (n === 7) return `\ufeff${yamlStringify(randomValue(rng))}`;
  return `{${'"k":1,'.repeat(rng.int(3000))}"end":1}`;
}

export type Format = 'json' | 'yaml';

/** A body for `seed` as bytes: valid, value-mutated, text-mutated, or an attack. */
export function bodyFor(rng: Rng, seed: Json, format: Format): string {
  const r = rng.next();
  const value = r < 0.15 ? seed : mutateValue(rng, seed);
  let text: string;
  try {
    text = format === 'json' ? JSON.stringify(value) : yamlStringify(value);
  } catch {
    text = JSON.stringify(value);
  }
  if (r > 0.9)
    return format === 'yaml' || rng.chance(0.3)
      ? yamlAttack(rng)
      : nested(rng.pick([101, 5000, 60000]), 'mixed', rng);
  if (r > 0.55) return mutateText(rng, text);
  return text;
}
