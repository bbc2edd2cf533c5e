/**
 * Slipway's python and static builders, and their ImageStreams in `openshift` after
 * the registration `slipway up` does.
 *
 * PyPI is out of reach here, so the Python app installs from a package index this test
 * serves (python-index.ts): a library wheel and a stand-in for gunicorn, both written
 * by the test. The stand-in is a console script called `gunicorn` that serves the
 * WSGI application it is given with wsgiref and says so: the run script cannot tell it
 * from the real one, which is what the test needs to see (which module was asked for,
 * on which address). The app's pyproject.toml names an in-repository build backend,
 * because the index has no setuptools for pip's isolated build to install.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { registerBuilderImages } from '../../src/registry/builder-streams.js';
import { sourceBuilder, runUsage } from '../../src/builders/sti/index.js';
import { BuildFailure } from '../../src/core/errors.js';
import { startGitDaemon, type GitServer } from '../support/stack.js';
import { BC_PATH, BUILD_PATH, IS_PATH, startSlipway, type TestSlipway } from '../support/slipway.js';
import { cleanup, docker, ensureBuilderImages, input, runOnce, serve, sourceTree } from './sti-support.js';
import { makeWheel, servePackageIndex, type PackageIndex } from './python-index.js';

jest.setTimeout(10 * 60 * 1000);

let s: TestSlipway;
let git: GitServer;
let index: PackageIndex;
const ns = `pystatic-${randomUUID().slice(0, 8)}`;

const greetingLib = makeWheel({
  name: 'greeting-lib',
  version: '1.0.0',
  files: {
    'greeting_lib/__init__.py': 'def greet(who):\n    return f"hello {who} from greeting-lib 1.0.0"\n',
  },
});

const gunicornStandIn = makeWheel({
  name: 'gunicorn',
  version: '0.0.1',
  scripts: { gunicorn: 'gunicorn:main' },
  files: {
    'gunicorn/__init__.py': [
      '"""A stand-in for gunicorn: serves APP_MODULE (module[:attribute]) on --bind with wsgiref."""',
      'import importlib, os, sys',
      'from wsgiref.simple_server import make_server',
      '',
      'def main():',
      '    bind, target, args = "127.0.0.1:8000", None, sys.argv[1:]',
      '    while args:',
      '        a = args.pop(0)',
      '        if a.startswith("--bind="):',
      '            bind = a.split("=", 1)[1]',
      '        elif a in ("-b", "--bind"):',
      '            bind = args.pop(0)',
      '        elif not a.startswith("-"):',
      '            target = a',
      '    module, _, attribute = target.partition(":")',
      '    sys.path.insert(0, os.getcwd())',
      '    app = getattr(importlib.import_module(module), attribute or "application")',
      '    def served(environ, start_response):',
      '        environ["SERVER_SOFTWARE"] = f"stand-in gunicorn {target} on {bind}"',
      '        return app(environ, start_response)',
      '    host, port = bind.rsplit(":", 1)',
      '    make_server(host, int(port), served).serve_forever()',
      '',
    ].join('\n'),
  },
});

/** The app: requirements.txt names gunicorn, pyproject.toml declares the app and its library. */
const pythonApp: Record<string, string> = {
  'requirements.txt': 'gunicorn\n',
  'pyproject.toml': [
    '[build-system]',
    'requires = []',
    'build-backend = "inline_backend"',
    'backend-path = ["_build"]',
    '',
    '[project]',
    'name = "hello-app"',
    'version = "1.0"',
    'dependencies = ["greeting-lib>=1"]',
    '',
  ].join('\n'),
  '_build/inline_backend.py': [
    '"""PEP 517 backend in the repository: wheels the hello_app package with tomllib and zipfile."""',
    'import base64, hashlib, os, tomllib, zipfile',
    '',
    'def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):',
    '    with open("pyproject.toml", "rb") as f:',
    '        project = tomllib.load(f)["project"]',
    '    package = project["name"].replace("-", "_")',
    '    stem = f"{package}-{project[\'version\']}"',
    '    files = {}',
    '    for root, _, names in os.walk(package):',
    '        for n in sorted(names):',
    '            if n.endswith(".py"):',
    '                with open(os.path.join(root, n), "rb") as f:',
    '                    files[os.path.join(root, n)] = f.read()',
    '    meta = ["Metadata-Version: 2.1", f"Name: {project[\'name\']}", f"Version: {project[\'version\']}"]',
    '    meta += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]',
    '    files[f"{stem}.dist-info/METADATA"] = ("\\n".join(meta) + "\\n").encode()',
    '    files[f"{stem}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\\nGenerator: inline\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"',
    '    record = []',
    '    for path, data in files.items():',
    '        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()',
    '        record.append(f"{path},sha256={digest},{len(data)}")',
    '    record.append(f"{stem}.dist-info/RECORD,,")',
    '    files[f"{stem}.dist-info/RECORD"] = ("\\n".join(record) + "\\n").encode()',
    '    filename = f"{stem}-py3-none-any.whl"',
    '    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:',
    '        for path, data in files.items():',
    '            z.writestr(path, data)',
    '    return filename',
    '',
  ].join('\n'),
  'hello_app/__init__.py': '',
  'hello_app/web.py': [
    'from greeting_lib import greet',
    '',
    'def application(environ, start_response):',
    '    start_response("200 OK", [("Content-Type", "text/plain")])',
    "    return [f\"{greet('wsgi')} via {environ.get('SERVER_SOFTWARE')}\".encode()]",
    '',
  ].join('\n'),
  'wsgi.py': 'from hello_app.web import application\n',
  'script.py': [
    'import http.server, os',
    'from greeting_lib import greet',
    '',
    'class Handler(http.server.BaseHTTPRequestHandler):',
    '    def do_GET(self):',
    '        self.send_response(200)',
    '        self.end_headers()',
    '        self.wfile.write(f"{greet(\'app-file\')} via python script.py".encode())',
    '',
    'http.server.HTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()',
    '',
  ].join('\n'),
};

let pythonVersion: string;
let nginxVersion: string;

beforeAll(async () => {
  await ensureBuilderImages();
  [s, git, index] = await Promise.all([
    startSlipway({ workers: 1 }),
    startGitDaemon(),
    servePackageIndex(docker, [greetingLib, gunicornStandIn]),
  ]);
  const registered = await registerBuilderImages(registration());
  expect(registered).toEqual(['openshift/python:latest', 'openshift/static:latest']);
  pythonVersion = (
    await runOnce('slipway/s2i-python:latest', [
      'python3',
      '-c',
      'import sys; print("%d.%d" % sys.version_info[:2])',
    ])
  ).output.trim();
  nginxVersion = /nginx\/(\d+\.\d+)/.exec(
    (await runOnce('slipway/s2i-static:latest', ['nginx', '-v'])).output,
  )?.[1] as string;
});

afterAll(async () => {
  await index?.stop();
  await git?.stop();
  if (s) {
    // The registry's port is this test's own: every local tag under it was made here
    // (the builders' tags by the registration, the app's by the build). Untagging
    // leaves the builder images themselves in place.
    const ours = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((ref) => ref.startsWith(`${s.registry.host}/`));
    if (ours.length > 0) execFileSync('docker', ['rmi', ...ours], { stdio: 'ignore' });
    await s.stop();
  }
  await cleanup();
});

/** As `slipway up` registers the builders, less the nodejs one (the largest push, and not tested here). */
function registration(): Parameters<typeof registerBuilderImages>[0] {
  return {
    docker: s.rt.docker,
    store: s.rt.store,
    registry: s.registry.host,
    log: () => undefined,
    only: ['python', 'static'],
  };
}

type Tag = { name: string; annotations: Record<string, string>; from?: { kind: string; name: string } };
type TagStatus = { tag: string; items: { image: string; dockerImageReference: string }[] };

test('builder ImageStreams carry a tag of the version installed in the image, latest following it, and the catalog annotations', async () => {
  expect(pythonVersion).toMatch(/^3\.\d+$/);
  expect(nginxVersion).toMatch(/^1\.\d+$/);
  for (const [stream, version, supports, tags] of [
    ['python', pythonVersion, `python:${pythonVersion},python`, 'builder,python'],
    ['static', nginxVersion, `static:${nginxVersion},static,html,nginx`, 'builder,static,nginx'],
  ] as const) {
    const is = await s.apiJson('GET', IS_PATH('openshift', stream));
    const specTags = (is.spec as { tags: Tag[] }).tags;
    expect(specTags.map((t) => t.name)).toEqual([version, 'latest']);
    const [versioned, latest] = specTags as [Tag, Tag];
    expect(versioned.annotations).toMatchObject({ supports, tags, version });
    expect(versioned.annotations.iconClass).toMatch(/^icon-/);
    expect(versioned.annotations.sampleRepo).toMatch(/^https:\/\/github\.com\/sclorg\//);
    expect(versioned.annotations['openshift.io/display-name']).toContain(version);
    expect(latest.from).toEqual({ kind: 'ImageStreamTag', name: version });
    expect(latest.annotations).toMatchObject({ tags, supports: supports.split(',').slice(1).join(',') });
    // Both tags hold the same image, pushed to the internal registry.
    const status = (is.status as { tags: TagStatus[] }).tags;
    const digest = (tag: string): string | undefined => status.find((t) => t.tag === tag)?.items[0]?.image;
    expect(digest(version)).toMatch(/^sha256:/);
    expect(digest('latest')).toBe(digest(version));
  }
  // Registering again (a second `slipway up`) changes neither stream.
  const before = await s.apiJson('GET', IS_PATH('openshift', 'python'));
  await registerBuilderImages(registration());
  const after = await s.apiJson('GET', IS_PATH('openshift', 'python'));
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
});

test('a Python app builds from openshift/python:<version> with its packages from PIP_INDEX_URL, and runs under gunicorn, APP_MODULE or APP_FILE', async () => {
  git.commit('pyapp', pythonApp);
  await s.apiJson('POST', BC_PATH(ns), {
    apiVersion: 'build.openshift.io/v1',
    kind: 'BuildConfig',
    metadata: { name: 'pyapp' },
    spec: {
      source: { git: { uri: git.url('pyapp'), ref: 'main' } },
      strategy: {
        type: 'Source',
        sourceStrategy: {
          from: { kind: 'ImageStreamTag', namespace: 'openshift', name: `python:${pythonVersion}` },
          env: [
            { name: 'PIP_INDEX_URL', value: index.url },
            { name: 'PIP_TRUSTED_HOST', value: index.trustedHost },
          ],
        },
      },
      output: { to: { kind: 'ImageStreamTag', name: 'pyapp:latest' } },
    },
  });
  await s.apiJson('POST', `${BC_PATH(ns, 'pyapp')}/instantiate`, {});
  const build = await s.waitForBuild(ns, 'pyapp-1', undefined, 300000);
  const log = await (await s.api('GET', `${BUILD_PATH(ns, 'pyapp-1')}/log`)).text();
  expect([(build.status as any).phase, (build.status as any).message, log]).toEqual([
    'Complete',
    undefined,
    expect.stringContaining('---> Installing dependencies with pip ...'),
  ]);
  expect(log).toContain('---> Installing the application from pyproject.toml with pip install . ...');
  expect(log).toMatch(/Successfully installed .*gunicorn-0\.0\.1/);
  expect(log).toMatch(/Successfully installed .*greeting-lib-1\.0\.0.*hello-app-1\.0/);
  // pip asked this index, and nothing else, for both projects and fetched both wheels.
  expect(index.requests).toEqual(
    expect.arrayContaining([
      '/simple/gunicorn/',
      '/simple/greeting-lib/',
      `/files/${gunicornStandIn.filename}`,
      `/files/${greetingLib.filename}`,
    ]),
  );

  const image = `${s.registry.host}/${ns}/pyapp@${(build.status as any).output.to.imageDigest}`;
  const runs: [string[], string][] = [
    // gunicorn is installed and wsgi.py is there: the module wsgi, on 0.0.0.0:$PORT.
    [[], 'hello wsgi from greeting-lib 1.0.0 via stand-in gunicorn wsgi on 0.0.0.0:8080'],
    // APP_MODULE names the module of the package pip installed from pyproject.toml.
    [
      ['APP_MODULE=hello_app.web:application'],
      'hello wsgi from greeting-lib 1.0.0 via stand-in gunicorn hello_app.web:application on 0.0.0.0:8080',
    ],
    // APP_FILE wins over gunicorn: the script runs with the virtualenv's python.
    [['APP_FILE=script.py'], 'hello app-file from greeting-lib 1.0.0 via python script.py'],
  ];
  for (const [env, body] of runs) {
    const app = await serve(image, env);
    try {
      expect(await app.get('/')).toEqual({ status: 200, body });
    } finally {
      await app.stop();
    }
  }
  // A named file that is missing, or a value that would be read as an option, stops
  // the run script with a message instead of falling through to gunicorn.
  const missing = await runOnce(image, ['/bin/sh', '-c', 'APP_FILE=missing.py exec /usr/libexec/s2i/run']);
  expect([missing.code, missing.output]).toEqual([
    1,
    expect.stringContaining('error: APP_FILE=missing.py: no such file'),
  ]);
  const option = await runOnce(image, ['/bin/sh', '-c', 'APP_MODULE=--reload exec /usr/libexec/s2i/run']);
  expect([option.code, option.output]).toEqual([
    1,
    expect.stringContaining('APP_MODULE=--reload starts with "-"'),
  ]);
});

describe('static builder', () => {
  const site = {
    'README.md': '# the repository root is not the site\n',
    'dist/index.html': '<h1>built site</h1>\n',
    'dist/assets/app.js': 'console.log("built");\n',
    'dist/.env': 'API_KEY=not-for-the-web\n',
    'public/index.html': '<h1>public folder</h1>\n',
  };

  it('serves the built folder (dist/ before public/) with nginx: MIME types, 404 outside it and for dotfiles', async () => {
    const build = input({ fromImage: 'slipway/s2i-static:latest', sourceDir: sourceTree(site) });
    const { imageId } = await sourceBuilder(build);
    expect(build.lines).toContain('---> Serving /opt/app-root/src/dist (dist/index.html): 3 files');
    const app = await serve(imageId);
    try {
      expect(await app.get('/')).toEqual({ status: 200, body: '<h1>built site</h1>\n' });
      const js = await fetch(`http://127.0.0.1:${app.port}/assets/app.js`);
      expect([js.status, js.headers.get('content-type'), await js.text()]).toEqual([
        200,
        'application/javascript',
        'console.log("built");\n',
      ]);
      expect(js.headers.get('server')).toBe('nginx');
      expect((await app.get('/README.md')).status).toBe(404);
      expect((await app.get('/.env')).status).toBe(404);
    } finally {
      await app.stop();
    }
  });

  it('DOCUMENT_ROOT picks the folder; one that leaves the repository fails the build', async () => {
    const dir = sourceTree(site);
    const chosen = input({
      fromImage: 'slipway/s2i-static:latest',
      sourceDir: dir,
      sourceStrategy: { env: [{ name: 'DOCUMENT_ROOT', value: 'public' }] },
    });
    const app = await serve((await sourceBuilder(chosen)).imageId);
    try {
      expect(await app.get('/')).toEqual({ status: 200, body: '<h1>public folder</h1>\n' });
    } finally {
      await app.stop();
    }

    const escaping = input({
      fromImage: 'slipway/s2i-static:latest',
      sourceDir: dir,
      sourceStrategy: { env: [{ name: 'DOCUMENT_ROOT', value: '../../../etc' }] },
    });
    const err = await sourceBuilder(escaping).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BuildFailure);
    expect((err as BuildFailure).reason).toBe('AssembleFailed');
    expect(escaping.lines.join('\n')).toContain(
      "DOCUMENT_ROOT=../../../etc must be a folder of the repository, relative to its root, without '..'",
    );
  });
});

test("each builder's usage says what it does with its environment", async () => {
  const python = await runUsage({ docker, image: 'slipway/s2i-python:latest' });
  for (const word of [
    'requirements.txt',
    'pyproject.toml',
    'PIP_INDEX_URL',
    'APP_MODULE',
    'APP_FILE',
    'gunicorn',
  ]) {
    expect(python).toContain(word);
  }
  const staticUsage = await runUsage({ docker, image: 'slipway/s2i-static:latest' });
  for (const word of ['nginx', 'DOCUMENT_ROOT', 'dist/', 'index.html']) expect(staticUsage).toContain(word);
});
