/**
 * Templates through a real server and the built CLI: the processedtemplates endpoint,
 * `slipway process` (file, stored, shared project, -p, --param-file, --parameters, -o yaml)
 * piped into `slipway apply -f -`, and the errors that create nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRunner } from '../support/cli.js';
import { startSlipway, type TestSlipway } from '../support/slipway.js';

let s: TestSlipway;
const run = randomUUID().slice(0, 8);
const ns = `tpl-${run}`;
const shared = `shared-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'slipway-templates-'));
const PROCESS = (namespace: string) =>
  `/apis/template.openshift.io/v1/namespaces/${namespace}/processedtemplates`;

beforeAll(async () => {
  s = await startSlipway({ workers: 0 });
}, 60000);
afterAll(async () => {
  await s?.api('DELETE', `/apis/template.openshift.io/v1/namespaces/openshift/templates/${shared}`);
  await s?.stop();
});

const slipway = cliRunner(() => ({ server: s.http.url, token: s.token, namespace: ns }));

function template(name: string): Record<string, unknown> {
  return {
    apiVersion: 'template.openshift.io/v1',
    kind: 'Template',
    metadata: { name },
    message: 'The ${APP} app is ready; its password is ${PASSWORD}.',
    labels: { template: name },
    parameters: [
      { name: 'APP', description: 'The application name', required: true },
      { name: 'PORT', value: '8080' },
      { name: 'PASSWORD', generate: 'expression', from: '[a-zA-Z0-9]{16}' },
    ],
    objects: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: '${APP}', namespace: 'somewhere-else' },
        spec: { selector: { app: '${APP}' }, ports: [{ port: '${{PORT}}', targetPort: '${{PORT}}' }] },
      },
      { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: '${APP}' } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: '${APP}-credentials' },
        stringData: { password: '${PASSWORD}' },
      },
    ],
  };
}

test('the processedtemplates endpoint substitutes, generates and labels; a missing parameter is a 422 naming it', async () => {
  const t = template('direct');
  (t.parameters as { name: string; value?: string }[])[0]!.value = 'web';
  const res = await s.api('POST', PROCESS(ns), t);
  expect(res.status).toBe(201);
  const out = (await res.json()) as { objects: Record<string, any>[]; message: string; parameters: any[] };
  const [svc, is, secret] = out.objects;
  expect(svc!.metadata).toEqual({ name: 'web', labels: { template: 'direct' } });
  expect(svc!.spec.ports).toEqual([{ port: 8080, targetPort: 8080 }]);
  expect(is!.metadata.name).toBe('web');
  const password = out.parameters.find((p) => p.name === 'PASSWORD').value as string;
  expect(password).toMatch(/^[a-zA-Z0-9]{16}$/);
  expect(secret!.stringData.password).toBe(password);
  expect(out.message).toBe(`The web app is ready; its password is ${password}.`);

  const missing = await s.api('POST', PROCESS(ns), template('direct'));
  expect(missing.status).toBe(422);
  const status = (await missing.json()) as { message: string; details: { causes: { field: string }[] } };
  expect(status.message).toContain('parameter APP is required');
  expect(status.details.causes.map((c) => c.field)).toEqual(['parameters[0]']);

  const wrongKind = await s.api('POST', PROCESS(ns), { kind: 'Service' });
  expect(wrongKind.status).toBe(400);
});

test('slipway process -f … -p … | slipway apply -f - creates the objects in the current project', async () => {
  const file = join(dir, 'app.json');
  writeFileSync(file, JSON.stringify(template('app')));
  const processed = await slipway(['process', '-f', file, '-p', 'APP=shop']);
  expect(processed.stderr).toBe('');
  expect(processed.code).toBe(0);
  const list = JSON.parse(processed.stdout) as { kind: string; items: { kind: string }[] };
  expect(list.kind).toBe('List');
  expect(list.items.map((o) => o.kind)).toEqual(['Service', 'ImageStream', 'Secret']);

  const applied = await slipway(['apply', '-f', '-'], processed.stdout);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  const svc = await s.apiJson<{ metadata: { labels: Record<string, string> }; spec: { ports: unknown[] } }>(
    'GET',
    `/api/v1/namespaces/${ns}/services/shop`,
  );
  expect(svc.metadata.labels).toEqual({ template: 'app' });
  expect(svc.spec.ports).toEqual([{ port: 8080, targetPort: 8080 }]);
  expect((await s.api('GET', `/api/v1/namespaces/somewhere-else/services/shop`)).status).toBe(404);
  expect((await s.api('GET', `/apis/image.openshift.io/v1/namespaces/${ns}/imagestreams/shop`)).status).toBe(
    200,
  );
});

test('unknown and missing parameters fail with their names and nothing is created', async () => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(template('bad')));
  const unknown = await slipway(['process', '-f', file, '-p', 'APP=x', '-p', 'NOPE=1']);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('unknown parameter name "NOPE"');
  expect(unknown.stdout).toBe('');
  const ignored = await slipway([
    'process',
    '-f',
    file,
    '-p',
    'APP=y',
    '-p',
    'NOPE=1',
    '--ignore-unknown-parameters',
  ]);
  expect(ignored.code).toBe(0);

  const missing = await slipway(['process', '-f', file]);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('parameter APP is required');
  expect(missing.stdout).toBe('');

  const badLine = join(dir, 'params.env');
  writeFileSync(badLine, 'APP=z\nnot a pair\n');
  const badFile = await slipway(['process', '-f', file, '--param-file', badLine]);
  expect(badFile.code).not.toBe(0);
  expect(badFile.stderr).toContain('line 2');
  expect((await s.api('GET', `/api/v1/namespaces/${ns}/services/x`)).status).toBe(404);
});

test('a template stored in the shared openshift project is found from any project; --param-file, --parameters and -o yaml', async () => {
  const created = await s.api('POST', '/apis/template.openshift.io/v1/namespaces/openshift/templates', {
    ...template(shared),
    metadata: { name: shared, namespace: 'openshift' },
  });
  expect(created.status).toBe(201);
  const got = await slipway(['get', 'templates', '-n', 'openshift']);
  expect(got.code).toBe(0);
  expect(got.stdout).toMatch(new RegExp(`${shared}\\s+3 \\(1 generated\\)\\s+3`));
  const listed = await slipway(['process', shared, '--parameters']);
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(/APP\s+The application name/);
  expect(listed.stdout).toMatch(/PASSWORD\s+expression\s+\[a-zA-Z0-9\]\{16\}/);

  const params = join(dir, 'shared.env');
  writeFileSync(params, '# the app\nAPP=from-file\nPORT=9090\n');
  const yaml = await slipway([
    'process',
    `template/${shared}`,
    '--param-file',
    params,
    '-p',
    'PORT=7070',
    '-o',
    'yaml',
  ]);
  expect(yaml.stderr).toBe('');
  expect(yaml.code).toBe(0);
  expect(yaml.stdout).toContain('kind: List');
  expect(yaml.stdout).toContain('name: from-file');
  expect(yaml.stdout).toContain('port: 7070'); // -p wins over the file

  const absent = await slipway(['process', 'no-such-template']);
  expect(absent.code).not.toBe(0);
  expect(absent.stderr).toContain('template "no-such-template" not found');
});

test('slipway new-app --template creates the objects and prints the message; a taken name creates nothing', async () => {
  const file = join(dir, 'new-app.json');
  writeFileSync(file, JSON.stringify(template('fromfile')));
  const made = await slipway(['new-app', '-f', file, '-p', 'APP=blog']);
  expect(made.stderr).toBe('');
  expect(made.code).toBe(0);
  expect(made.stdout).toContain('service "blog" created');
  expect(made.stdout).toMatch(/With parameter PASSWORD=[a-zA-Z0-9]{16} \(generated\)/);
  expect(made.stdout).toMatch(/The blog app is ready; its password is [a-zA-Z0-9]{16}\./);
  expect((await s.api('GET', `/api/v1/namespaces/${ns}/secrets/blog-credentials`)).status).toBe(200);

  const again = await slipway(['new-app', '-f', file, '-p', 'APP=blog']);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toContain('already exist');
  const stored = await slipway(['new-app', '--template', shared, '-p', 'APP=shop2']);
  expect(stored.code).toBe(0);
  expect((await s.api('GET', `/api/v1/namespaces/${ns}/services/shop2`)).status).toBe(200);
  const missing = await slipway(['new-app', '--template', shared]);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('parameter APP is required');
});
