/**
 * Source-to-image builds on the real Docker engine: Slipway's builder images, builder
 * images written here to exercise the S2I contract, incremental builds, runtime
 * images, the postCommit hook and the failure reasons. Where s2i's documentation
 * defines the behaviour, the test name cites the rule (openshift/source-to-image
 * docs/builder_image.md, docs/runtime_image.md, docs/new_labels.md).
 *
 * The Node.js tests install a real package from npm's registry, which only the host's
 * CA bundle trusts: the build gets it as its trusted CA (OpenShift's mountTrustedCA).
 */
import { jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildCancelled, BuildFailure } from '../../src/core/errors.js';
import { runUsage, sourceBuilder } from '../../src/builders/sti/index.js';
import {
  BASE_IMAGE,
  HOST_CA,
  TEST_NAMESPACE,
  buildContainers,
  buildImage,
  cleanup,
  docker,
  ensureBuilderImages,
  imageConfig,
  imageExists,
  input,
  runOnce,
  script,
  serve,
  sourceTree,
  type Running,
} from './sti-support.js';

jest.setTimeout(10 * 60 * 1000);

beforeAll(
  async () => {
    await ensureBuilderImages();
  },
  30 * 60 * 1000,
);

afterAll(async () => {
  await cleanup();
});

/** Asserts that `promise` rejects with a BuildFailure of `reason` and returns it. */
async function failure(promise: Promise<unknown>, reason: string): Promise<BuildFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BuildFailure);
  expect({ reason: (err as BuildFailure).reason, message: (err as BuildFailure).message }).toMatchObject({
    reason,
  });
  return err as BuildFailure;
}

const nodeApp = (version: string): Record<string, string> => ({
  'package.json': JSON.stringify(
    {
      name: 'sti-node-app',
      version: '1.0.0',
      private: true,
      scripts: { start: 'node server.js' },
      dependencies: { ms: '2.1.3' },
    },
    null,
    2,
  ),
  'package-lock.json': JSON.stringify(
    {
      name: 'sti-node-app',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'sti-node-app', version: '1.0.0', dependencies: { ms: '2.1.3' } },
        'node_modules/ms': {
          version: '2.1.3',
          resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz',
          integrity:
            'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==',
        },
      },
    },
    null,
    2,
  ),
  'server.js': [
    "const http = require('http');",
    "const ms = require('ms');",
    `const version = '${version}';`,
    'http.createServer((req, res) => {',
    "  res.setHeader('content-type', 'application/json');",
    '  res.end(JSON.stringify({ version, twoDays: ms("2 days"), greeting: process.env.GREETING, shared: process.env.SHARED,',
    '    build: process.env.OPENSHIFT_BUILD_NAME, user: process.getuid() }));',
    '}).listen(process.env.PORT || 8080);',
    '',
  ].join('\n'),
  '.s2i/environment':
    '# read by s2i at build time and kept in the image\nGREETING=hello from .s2i/environment\nSHARED=from the file\n',
});

describe('nodejs builder (slipway/s2i-nodejs)', () => {
  const dir = sourceTree(nodeApp('v1'));
  let first: ReturnType<typeof input>;
  let firstImage: string;
  let app: Running | undefined;

  beforeAll(async () => {
    first = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: dir,
      trustedCA: HOST_CA,
      sourceStrategy: { env: [{ name: 'SHARED', value: 'from the BuildConfig' }], incremental: true },
    });
    firstImage = (await sourceBuilder(first)).imageId;
    app = await serve(firstImage);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('builds an app with an npm dependency (npm ci through the trusted CA) and runs it answering HTTP', async () => {
    expect(first.lines).toContain(
      'Incremental build: no dependency layer for these dependency files and environment yet',
    );
    expect(first.lines.some((l) => l.includes('Installing dependencies with npm ci'))).toBe(true);
    const res = await app!.get('/');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ version: 'v1', twoDays: 172800000, build: first.buildRef.name, user: 1001 });
    expect((await docker.getImage(first.tag).inspect()).Id).toBe(firstImage);
  });

  it('.s2i/environment reaches the running image, and sourceStrategy.env overrides it', async () => {
    const body = JSON.parse((await app!.get('/')).body);
    expect(body.greeting).toBe('hello from .s2i/environment');
    expect(body.shared).toBe('from the BuildConfig');
    const config = await imageConfig(firstImage);
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'GREETING=hello from .s2i/environment',
        `OPENSHIFT_BUILD_NAMESPACE=${TEST_NAMESPACE}`,
      ]),
    );
  });

  it('commits with run as CMD, the builder USER and the s2i and OpenShift build labels', async () => {
    const config = await imageConfig(firstImage);
    expect(config.Cmd).toEqual(['/usr/libexec/s2i/run']);
    expect(config.User).toBe('1001');
    expect(config.Labels).toMatchObject({
      'io.openshift.s2i.build.image': 'slipway/s2i-nodejs:latest',
      'io.openshift.s2i.build.source-location': 'https://git.example.com/team/app.git',
      'io.openshift.s2i.build.commit.id': '0123456789abcdef0123456789abcdef01234567',
      'io.openshift.s2i.build.commit.ref': 'refs/heads/main',
      'io.openshift.s2i.build.commit.author': 'Ada Lovelace <ada@example.com>',
      'io.openshift.s2i.build.commit.date': '2024-05-01T10:00:00Z',
      'io.openshift.s2i.build.commit.message': 'Add the app',
      'io.openshift.build.image': 'slipway/s2i-nodejs:latest',
      'io.openshift.build.commit.id': '0123456789abcdef0123456789abcdef01234567',
      // OpenShift labels the ref it was asked for (spec.source.git.ref).
      'io.openshift.build.commit.ref': 'main',
      'io.openshift.build.source-location': 'https://git.example.com/team/app.git',
      // inherited from the builder image
      'io.openshift.s2i.scripts-url': 'image:///usr/libexec/s2i',
    });
  });

  it('incremental rebuild after a one-line change reuses the dependency layer: no npm, only the last layer is new, the image runs the change', async () => {
    writeFileSync(join(dir, 'server.js'), nodeApp('v2')['server.js'] as string);
    const second = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: dir,
      trustedCA: HOST_CA,
      previousImage: firstImage,
      // The same BuildConfig: the environment is part of the dependency layer's key.
      sourceStrategy: { env: [{ name: 'SHARED', value: 'from the BuildConfig' }], incremental: true },
    });
    const { imageId } = await sourceBuilder(second);
    expect(second.lines.some((l) => /^Incremental build: reusing the dependency layer /.test(l))).toBe(true);
    expect(second.lines).toContain(
      '---> Dependencies are in place from the dependency layer: skipping npm install',
    );
    expect(second.lines.some((l) => l.includes('Installing dependencies with npm'))).toBe(false);
    // Every layer but the application's is the first build's: commit and push move only that one.
    const layers = async (img: string) => (await docker.getImage(img).inspect()).RootFS.Layers ?? [];
    const [before, after] = [await layers(firstImage), await layers(imageId)];
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(after.at(-1)).not.toBe(before.at(-1));
    // node_modules is the one the first build installed.
    const stamp = (img: string) =>
      runOnce(img, ['cat', 'node_modules/.slipway-s2i-stamp'], { entrypoint: [] });
    expect((await stamp(imageId)).output).toBe((await stamp(firstImage)).output);
    expect((await stamp(imageId)).output).toContain(`build ${TEST_NAMESPACE}/${first.buildRef.name}`);

    const v2 = await serve(imageId);
    try {
      expect(JSON.parse((await v2.get('/')).body)).toMatchObject({ version: 'v2', twoDays: 172800000 });
    } finally {
      await v2.stop();
    }
  });

  it("s2i's own contract still holds on this image: an assemble from .s2i/bin gets save-artifacts' node_modules in DEST/artifacts, and the image's assemble skips npm", async () => {
    // A repository assemble that wraps the image's: Slipway's dependency layer is the
    // image's own arrangement and is not used; incremental artifacts are.
    const wrapped = sourceTree({
      ...nodeApp('v3'),
      '.s2i/bin/assemble': script(
        '#!/bin/bash\necho "artifacts has: $(ls /tmp/artifacts)"\nexec /usr/libexec/s2i/assemble\n',
      ),
    });
    const build = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: wrapped,
      trustedCA: HOST_CA,
      previousImage: firstImage,
      sourceStrategy: { incremental: true },
    });
    const { imageId } = await sourceBuilder(build);
    expect(build.lines.some((l) => l.includes('dependency layer'))).toBe(false);
    expect(build.lines).toContain('artifacts has: node_modules');
    expect(build.lines).toContain('---> Restored node_modules from artifacts');
    expect(build.lines).toContain(
      '---> package-lock.json is unchanged since the previous build: skipping npm install',
    );
    const v3 = await serve(imageId);
    try {
      expect(JSON.parse((await v3.get('/')).body)).toMatchObject({ version: 'v3', twoDays: 172800000 });
    } finally {
      await v3.stop();
    }
  });

  it('an Express app whose package-lock.json is out of sync builds with npm install; npm run build has the dev dependencies, which are then pruned; NPM_RUN names the script the image starts', async () => {
    const lock = JSON.parse(nodeApp('x')['package-lock.json'] as string);
    const app = sourceTree({
      'package.json': JSON.stringify({
        name: 'sti-express-app',
        version: '1.0.0',
        private: true,
        scripts: { build: 'node build.js', serve: 'node server.js' },
        dependencies: { express: '4.21.2' },
        // Not one of the modules Debian's nodejs finds in /usr/share/nodejs.
        devDependencies: { 'left-pad': '1.3.0' },
      }),
      // The lockfile of another dependency set: npm ci refuses it.
      'package-lock.json': JSON.stringify(lock, null, 2),
      'build.js':
        "require('fs').writeFileSync('built.json', JSON.stringify({ built: require('left-pad')('5', 3, '0') }));\n",
      'server.js': [
        "const express = require('express');",
        'let devDependency = true;',
        "try { require('left-pad'); } catch { devDependency = false; }",
        'express()',
        "  .get('/', (req, res) => res.json({ ...require('./built.json'), devDependency,",
        '    script: process.env.npm_lifecycle_event, nodeEnv: process.env.NODE_ENV }))',
        '  .listen(process.env.PORT || 8080);',
        '',
      ].join('\n'),
    });
    const build = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: app,
      trustedCA: HOST_CA,
      sourceStrategy: { env: [{ name: 'NPM_RUN', value: 'serve' }] },
    });
    const { imageId } = await sourceBuilder(build);
    expect(build.lines).toContain(
      '---> package-lock.json is out of sync with package.json: installing with npm install instead',
    );
    expect(build.lines).toContain('---> Building the application (npm run build) ...');
    expect(build.lines).toContain('---> Pruning the development dependencies');
    const running = await serve(imageId);
    try {
      const res = await running.get('/');
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({
        built: '005',
        devDependency: false,
        script: 'serve',
        nodeEnv: 'production',
      });
    } finally {
      await running.stop();
    }
  });

  it("NPM_MIRROR replaces the registry, even for the lockfile's resolved URLs", async () => {
    const build = input({
      fromImage: 'slipway/s2i-nodejs:latest',
      sourceDir: sourceTree(nodeApp('mirror')),
      trustedCA: HOST_CA,
      sourceStrategy: {
        env: [
          { name: 'NPM_MIRROR', value: 'http://npm-mirror.invalid/' },
          { name: 'npm_config_fetch_retries', value: '0' },
        ],
      },
    });
    const err = await failure(sourceBuilder(build), 'AssembleFailed');
    expect(build.lines).toContain('---> Using npm registry mirror http://npm-mirror.invalid/');
    expect(err.logSnippet).toContain('npm-mirror.invalid');
  });

  it("usage prints the builder image's usage script", async () => {
    const text = await runUsage({ docker, image: 'slipway/s2i-nodejs:latest' });
    expect(text).toContain('Slipway Node.js builder');
    for (const name of ['NPM_MIRROR', 'NPM_RUN', 'DEV_MODE', 'NODE_ENV']) expect(text).toContain(name);
  });
});

describe('python builder (slipway/s2i-python)', () => {
  it('builds a stdlib app into a virtualenv, runs it, and an incremental rebuild restores the virtualenv', async () => {
    const dir = sourceTree({
      'requirements.txt': '# no third-party packages: PyPI is out of reach from here\n',
      'app.py': [
        'import os, sys, http.server',
        'class H(http.server.BaseHTTPRequestHandler):',
        '    def do_GET(self):',
        '        body = ("python " + sys.prefix + " " + os.environ.get("GREETING", "")).encode()',
        '        self.send_response(200); self.end_headers(); self.wfile.write(body)',
        'http.server.HTTPServer(("", int(os.environ.get("PORT", "8080"))), H).serve_forever()',
        '',
      ].join('\n'),
      '.s2i/environment': 'GREETING=from python\n',
    });
    const first = input({
      fromImage: 'slipway/s2i-python:latest',
      sourceDir: dir,
      sourceStrategy: { incremental: true },
    });
    const { imageId } = await sourceBuilder(first);
    const app = await serve(imageId);
    try {
      expect((await app.get('/')).body).toBe('python /opt/app-root/venv from python');
    } finally {
      await app.stop();
    }
    const second = input({
      fromImage: 'slipway/s2i-python:latest',
      sourceDir: dir,
      previousImage: imageId,
      sourceStrategy: { incremental: true },
    });
    await sourceBuilder(second);
    expect(second.lines).toContain('---> Restored the virtualenv from artifacts');
    expect(second.lines).toContain(
      '---> requirements.txt is unchanged since the previous build: skipping pip install',
    );
  });
});

describe('static builder (slipway/s2i-static) and script lookup', () => {
  it("a repo .s2i/bin/assemble overrides the image's (s2i: scripts are searched in --scripts-url, .s2i/bin, then the image label), and .s2iignore leaves files out", async () => {
    const dir = sourceTree({
      'index.html': '<h1>static</h1>\n',
      'secret.txt': 'not for the site\n',
      'drafts/post.html': 'draft\n',
      'public/ok.txt': 'kept\n',
      '.s2iignore': '# s2i: Go glob patterns, a directory match drops it all\nsecret.txt\ndrafts\n',
      '.s2i/bin/assemble': script(
        '#!/bin/bash\nset -e\necho "custom assemble from .s2i/bin, then the image\'s"\nls /tmp/src | sort | tr "\\n" " "; echo\nexec /usr/libexec/s2i/assemble\n',
      ),
    });
    const build = input({ fromImage: 'slipway/s2i-static:latest', sourceDir: dir });
    const { imageId } = await sourceBuilder(build);
    expect(build.lines).toContain(
      'assemble: fetched (from .s2i/bin file://' + join(dir, '.s2i', 'bin') + ')',
    );
    expect(build.lines).toContain('run: /usr/libexec/s2i/run (from image label image:///usr/libexec/s2i)');
    expect(build.lines).toContain("custom assemble from .s2i/bin, then the image's");
    // .s2iignore: secret.txt and drafts/ never reached the container.
    expect(build.lines).toContain('index.html public ');
    const config = await imageConfig(imageId);
    expect(config.Cmd).toEqual(['/usr/libexec/s2i/run']);

    const site = await serve(imageId);
    try {
      expect(await site.get('/index.html')).toEqual({ status: 200, body: '<h1>static</h1>\n' });
      expect((await site.get('/public/ok.txt')).body).toBe('kept\n');
      expect((await site.get('/secret.txt')).status).toBe(404);
    } finally {
      await site.stop();
    }
  });

  it('sourceStrategy.scripts (an http URL) wins over .s2i/bin; missing scripts fall through to the next location', async () => {
    const served: string[] = [];
    const server: Server = createServer((req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/s2i/assemble') {
        res.end('#!/bin/sh\necho "assemble from the scripts URL"\nexec /usr/libexec/s2i/assemble\n');
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const dir = sourceTree({
        'index.html': 'hi\n',
        '.s2i/bin/assemble': script('#!/bin/sh\necho "assemble from .s2i/bin"\nexit 1\n'),
      });
      const build = input({
        fromImage: 'slipway/s2i-static:latest',
        sourceDir: dir,
        sourceStrategy: { scripts: `http://127.0.0.1:${port}/s2i` },
      });
      await sourceBuilder(build);
      expect(build.lines).toContain('assemble from the scripts URL');
      expect(build.lines).not.toContain('assemble from .s2i/bin');
      // run was not at the URL (404): the image label provided it.
      expect(served).toEqual(expect.arrayContaining(['/s2i/assemble', '/s2i/run']));
      expect(build.lines).toContain('run: /usr/libexec/s2i/run (from image label image:///usr/libexec/s2i)');
    } finally {
      server.close();
    }
  });
});

describe('a builder image written to the public S2I contract', () => {
  let builder: string;
  beforeAll(async () => {
    builder = await buildImage(
      'contract-builder',
      [
        'ARG BASE_IMAGE',
        'FROM ${BASE_IMAGE}',
        'RUN useradd -u 2345 -m -s /bin/bash builder',
        'COPY s2i/ /usr/local/s2i/',
        'COPY entry /usr/local/bin/entry',
        // An unusual destination that does not exist in the image, and a named assemble user.
        'LABEL io.openshift.s2i.scripts-url="image:///usr/local/s2i" io.openshift.s2i.destination="/srv/s2i/in" io.openshift.s2i.assemble-user="builder"',
        'ENTRYPOINT ["/usr/local/bin/entry"]',
        '',
      ].join('\n'),
      {
        entry: script('#!/bin/sh\necho "entrypoint wrapper"\nexec "$@"\n'),
        's2i/assemble': script(
          [
            '#!/bin/bash',
            'set -e',
            'echo "assemble uid=$(id -u) src-owner=$(stat -c %u /srv/s2i/in/src/hello.txt) dest-owner=$(stat -c %u /srv/s2i/in)"',
            'echo "artifacts: $(cat /srv/s2i/in/artifacts/count.txt 2>/dev/null || echo none)"',
            'mkdir -p /home/builder/app && cp -R /srv/s2i/in/src/. /home/builder/app/',
            'n=$(( $(cat /srv/s2i/in/artifacts/count.txt 2>/dev/null || echo 0) + 1 ))',
            'echo "$n" > /home/builder/app/count.txt',
            'mkdir -p /tmp/.s2i && echo \'{"labels": [{"com.example.from-assemble": "yes"}]}\' > /tmp/.s2i/image_metadata.json',
            '',
          ].join('\n'),
        ),
        's2i/run': script(
          '#!/bin/sh\necho "run as $(id -u): $(cat /home/builder/app/hello.txt) build $(cat /home/builder/app/count.txt)"\n',
        ),
        's2i/save-artifacts': script('#!/bin/sh\ncd /home/builder/app && tar -cf - count.txt\n'),
      },
    );
  });

  it('honours io.openshift.s2i.destination and io.openshift.s2i.assemble-user; the image keeps its USER and ENTRYPOINT (s2i builder_image.md)', async () => {
    const dir = sourceTree({ 'hello.txt': 'hello contract' });
    const build = input({ fromImage: builder, sourceDir: dir });
    const { imageId } = await sourceBuilder(build);
    // assemble ran as builder (2345), the source was owned by it, under the unusual destination.
    expect(build.lines).toContain('assemble uid=2345 src-owner=2345 dest-owner=2345');
    expect(build.lines).not.toContain('entrypoint wrapper');
    const config = await imageConfig(imageId);
    // The builder runs as root (no USER); the engine would otherwise keep the assemble user.
    expect(config.User).toBe('0');
    expect(config.Entrypoint).toEqual(['/usr/local/bin/entry']);
    expect(config.Cmd).toEqual(['/usr/local/s2i/run']);
    // s2i new_labels.md: labels from /tmp/.s2i/image_metadata.json
    expect(config.Labels['com.example.from-assemble']).toBe('yes');
    const out = await runOnce(imageId);
    expect(out.output).toBe('entrypoint wrapper\nrun as 0: hello contract build 1\n');
  });

  it('incremental: save-artifacts of the previous image feeds DEST/artifacts; a broken artifacts stream is a warning and a clean build', async () => {
    const dir = sourceTree({ 'hello.txt': 'hi' });
    const one = await sourceBuilder(
      input({ fromImage: builder, sourceDir: dir, sourceStrategy: { incremental: true } }),
    );
    const twoInput = input({
      fromImage: builder,
      sourceDir: dir,
      previousImage: one.imageId,
      sourceStrategy: { incremental: true },
    });
    const two = await sourceBuilder(twoInput);
    expect(twoInput.lines).toContain('artifacts: 1');
    expect((await runOnce(two.imageId)).output).toContain('build 2');

    // A previous image whose save-artifacts writes something that is not a tar archive.
    const broken = await buildImage(
      'broken-artifacts',
      `FROM ${builder}\nCOPY save-artifacts /usr/local/s2i/save-artifacts\n`,
      { 'save-artifacts': script('#!/bin/sh\necho "this is not a tar archive"\n') },
    );
    const threeInput = input({
      fromImage: builder,
      sourceDir: dir,
      previousImage: broken,
      sourceStrategy: { incremental: true },
    });
    const three = await sourceBuilder(threeInput);
    expect(
      threeInput.lines.some((l) =>
        /^warning: the artifacts stream from .* is not a valid tar archive/.test(l),
      ),
    ).toBe(true);
    expect(threeInput.lines).toContain('artifacts: none');
    expect((await runOnce(three.imageId)).output).toContain('build 1');
  });

  it('assemble exiting non-zero fails with AssembleFailed and the last 20 lines of its output', async () => {
    const dir = sourceTree({
      'hello.txt': 'x',
      '.s2i/bin/assemble': script(
        // stdout and stderr are separate pipes the engine reads concurrently: the pause
        // keeps the error last, as a compiler's would be.
        '#!/bin/sh\nfor i in $(seq 1 30); do echo "line $i"; done\nsleep 0.3\necho "compilation failed" >&2\nexit 4\n',
      ),
    });
    const build = input({ fromImage: builder, sourceDir: dir });
    const err = await failure(sourceBuilder(build), 'AssembleFailed');
    expect(err.message).toBe('assemble (/srv/s2i/in/scripts/assemble) exited with code 4');
    // The last 20 of 31 lines.
    const snippet = (err.logSnippet ?? '').split('\n');
    expect(snippet).toHaveLength(20);
    expect(snippet[0]).toBe('line 12');
    expect(snippet[18]).toBe('line 30');
    expect(snippet[19]).toBe('compilation failed');
    expect(await buildContainers(build.buildRef.name)).toEqual([]);
  });

  it('an assemble whose #! interpreter is missing fails with AssembleFailed saying so', async () => {
    const dir = sourceTree({
      'hello.txt': 'x',
      '.s2i/bin/assemble': script('#!/usr/bin/no-such-interpreter\necho hi\n'),
    });
    const err = await failure(sourceBuilder(input({ fromImage: builder, sourceDir: dir })), 'AssembleFailed');
    expect(err.message).toContain('the interpreter on its #! line does not exist in the image');
    expect(err.logSnippet).toContain('no such file or directory');
  });

  it('a postCommit hook that fails fails the build with PostCommitHookFailed, its output logged, and the image is not kept', async () => {
    const dir = sourceTree({ 'hello.txt': 'x' });
    const build = input({
      fromImage: builder,
      sourceDir: dir,
      spec: {
        postCommit: {
          script: 'echo "running the tests with $1"; echo "1 test failed" >&2; exit 3',
          args: ['--fast'],
        },
      },
    });
    const err = await failure(sourceBuilder(build), 'PostCommitHookFailed');
    expect(err.message).toBe('the post commit hook exited with code 3');
    expect(build.lines).toContain('running the tests with --fast');
    expect(err.logSnippet).toContain('1 test failed');
    expect(await imageExists(build.tag)).toBe(false);
    expect(await buildContainers(build.buildRef.name)).toEqual([]);
  });

  it('a postCommit hook that passes: command replaces the entrypoint, args are its arguments', async () => {
    const dir = sourceTree({ 'hello.txt': 'from the hook' });
    const build = input({
      fromImage: builder,
      sourceDir: dir,
      spec: { postCommit: { command: ['/bin/cat'], args: ['/home/builder/app/hello.txt'] } },
    });
    await sourceBuilder(build);
    expect(build.lines).toContain('from the hook');
    expect(build.lines).toContain('Post commit hook succeeded');
  });

  it('cancelling stops assemble, removes its container and throws BuildCancelled', async () => {
    const dir = sourceTree({
      'hello.txt': 'x',
      '.s2i/bin/assemble': script('#!/bin/sh\necho "assembling slowly"\nsleep 60\n'),
    });
    const build = input({ fromImage: builder, sourceDir: dir });
    const started = Date.now();
    const pending = sourceBuilder(build);
    while (!build.lines.includes('assembling slowly')) await new Promise((r) => setTimeout(r, 50));
    build.controller.abort();
    await expect(pending).rejects.toBeInstanceOf(BuildCancelled);
    expect(Date.now() - started).toBeLessThan(30000);
    expect(await buildContainers(build.buildRef.name)).toEqual([]);
  });

  it('runtime image (s2i runtime_image.md): assemble-input-files are copied from the builder into the runtime image', async () => {
    const withInputs = await buildImage(
      'runtime-builder',
      `FROM ${builder}\nCOPY compile /usr/local/s2i/assemble\nLABEL io.openshift.s2i.assemble-input-files="/home/builder/out/hello:app"\n`,
      {
        compile: script(
          '#!/bin/sh\nset -e\nmkdir -p /home/builder/out\nprintf \'#!/bin/sh\\necho "compiled: %s"\\n\' "$(cat /srv/s2i/in/src/msg.txt)" > /home/builder/out/hello\nchmod 700 /home/builder/out/hello\n',
        ),
      },
    );
    const dir = sourceTree({
      'msg.txt': 'made in the builder',
      '.s2i/bin/run': script('#!/bin/sh\nexec /app/hello\n'),
    });
    const build = input({
      fromImage: withInputs,
      sourceDir: dir,
      sourceStrategy: { runtimeImage: { kind: 'DockerImage', name: BASE_IMAGE } },
    });
    const { imageId } = await sourceBuilder(build);
    const config = await imageConfig(imageId);
    expect(config.Cmd).toEqual(['/scripts/run']);
    expect(config.Labels['io.openshift.s2i.build.image']).toBe(withInputs);
    expect((await runOnce(imageId)).output).toBe('compiled: made in the builder\n');
    // Built on the runtime image: none of the builder's files are there.
    expect((await runOnce(imageId, ['ls', '/usr/local/s2i'])).code).not.toBe(0);
    // s2i's permissions for copied artifacts: executables 0755 (it was 0700 in the builder).
    expect((await runOnce(imageId, ['stat', '-c', '%a %u', '/app/hello'])).output).toBe('755 0\n');
  });
});

describe('builder images without the usual tools, and failures', () => {
  it('s2i builder_image.md: an image without tar or /bin/sh still builds (the files go in through the engine, no layered build is needed)', async () => {
    const bare = await buildImage(
      'no-tar-no-sh',
      [
        'ARG BASE_IMAGE',
        'FROM ${BASE_IMAGE}',
        'COPY s2i/ /usr/libexec/s2i/',
        'RUN rm -f /usr/bin/tar /bin/tar /bin/sh /usr/bin/sh /bin/dash /usr/bin/dash',
        'LABEL io.openshift.s2i.scripts-url="image:///usr/libexec/s2i"',
        '',
      ].join('\n'),
      {
        's2i/assemble': script(
          '#!/bin/bash\nset -e\nfor t in tar sh; do type $t >/dev/null 2>&1 && echo "$t present" || echo "no $t"; done\nmv /tmp/src /opt/app\n',
        ),
        's2i/run': script('#!/bin/bash\necho "running $(</opt/app/msg.txt)"\n'),
      },
    );
    const build = input({ fromImage: bare, sourceDir: sourceTree({ 'msg.txt': 'without tar' }) });
    const { imageId } = await sourceBuilder(build);
    expect(build.lines).toEqual(expect.arrayContaining(['no tar', 'no sh']));
    expect((await runOnce(imageId)).output).toBe('running without tar\n');
  });

  it('no assemble anywhere fails with InstallScriptsFailed, naming assemble and where it was searched', async () => {
    const plain = await buildImage('no-scripts', 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n');
    const build = input({ fromImage: plain, sourceDir: sourceTree({ 'a.txt': 'x' }) });
    const err = await failure(sourceBuilder(build), 'InstallScriptsFailed');
    expect(err.message).toContain('required S2I scripts assemble and run not found');
    expect(err.message).toContain('assemble: not found in .s2i/bin');
    expect(err.message).toContain(`builder image ${plain} has no io.openshift.s2i.scripts-url label`);
  });

  it('a scripts-url label pointing where there is no assemble fails with AssembleFailed naming the path', async () => {
    const wrong = await buildImage(
      'wrong-label',
      'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nLABEL io.openshift.s2i.scripts-url="image:///opt/nowhere"\n',
    );
    const build = input({ fromImage: wrong, sourceDir: sourceTree({ 'a.txt': 'x' }) });
    const err = await failure(sourceBuilder(build), 'AssembleFailed');
    expect(err.message).toBe(
      `assemble script /opt/nowhere/assemble does not exist in builder image ${wrong} (from image label image:///opt/nowhere)`,
    );
  });

  it('a builder image the engine does not have fails with PullBuilderImageFailed', async () => {
    const missing = `slipway-test/sti-missing-${randomUUID()}:latest`;
    const build = input({ fromImage: missing, sourceDir: sourceTree({ 'a.txt': 'x' }) });
    const err = await failure(sourceBuilder(build), 'PullBuilderImageFailed');
    expect(err.message).toContain(missing);
  });
});
