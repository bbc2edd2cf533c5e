import { InputError } from '../../src/core/errors.js';
import { lookupKind, type Resource } from '../../src/core/resource.js';
import { isAllowedGitUri, validateResource } from '../../src/core/validation.js';

const BC = lookupKind('build.openshift.io/v1', 'BuildConfig')!;
const SECRET = lookupKind('v1', 'Secret')!;

function bc(spec: Record<string, unknown>, name = 'web'): Resource {
  return { apiVersion: 'build.openshift.io/v1', kind: 'BuildConfig', metadata: { name }, spec };
}

const good = {
  source: { git: { uri: 'https://github.com/openshift/ruby-hello-world.git', ref: 'main' } },
  strategy: { type: 'Docker', dockerStrategy: {} },
  output: { to: { kind: 'ImageStreamTag', name: 'web:latest' } },
};

function causesOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe(422);
    return (err as InputError).causes;
  }
  throw new Error('expected validation to fail');
}

test('a valid BuildConfig passes and keeps fields Slipway does not model', () => {
  const obj = bc({
    ...good,
    nodeSelector: null,
    resources: { limits: { memory: '1Gi' } },
    somethingNew: { x: 1 },
  });
  expect(validateResource(BC, obj)).toEqual(obj);
});

test('OpenShift 3 legacy apiVersion v1 finds the BuildConfig kind', () => {
  expect(lookupKind('v1', 'BuildConfig')).toBe(BC);
});

test('a missing strategy names spec.strategy', () => {
  const { strategy: _s, ...rest } = good;
  expect(causesOf(() => validateResource(BC, bc(rest))).map((c) => c.field)).toContain('spec.strategy');
});

test('an unknown strategy type names spec.strategy.type', () => {
  const causes = causesOf(() => validateResource(BC, bc({ ...good, strategy: { type: 'Magic' } })));
  expect(causes[0]!.field).toBe('spec.strategy.type');
});

test('the ext:: git transport is refused with a message that says what to use', () => {
  const causes = causesOf(() =>
    validateResource(BC, bc({ ...good, source: { git: { uri: 'ext::sh -c touch% /tmp/pwned' } } })),
  );
  expect(causes[0]).toEqual({
    field: 'spec.source.git.uri',
    message: expect.stringContaining('use https, ssh'),
  });
});

test('file:// sources are refused unless the server allows them', () => {
  const obj = bc({ ...good, source: { git: { uri: 'file:///srv/repo.git' } } });
  expect(causesOf(() => validateResource(BC, obj))[0]!.message).toContain('SLIPWAY_ALLOW_FILE_SOURCES');
  expect(validateResource(BC, obj, { allowFileSources: true })).toBe(obj);
});

test('scp-like ssh URIs are accepted', () => {
  expect(() =>
    validateResource(BC, bc({ ...good, source: { git: { uri: 'git@github.com:openshift/origin.git' } } })),
  ).not.toThrow();
});

test('a bad name is rejected with DNS-1123 wording', () => {
  const causes = causesOf(() => validateResource(BC, bc(good, 'Web_App')));
  expect(causes[0]!.field).toBe('metadata.name');
  expect(causes[0]!.message).toContain('lower case alphanumeric');
});

test('contextDir may not climb out of the repository', () => {
  const causes = causesOf(() =>
    validateResource(BC, bc({ ...good, source: { ...good.source, contextDir: '../etc' } })),
  );
  expect(causes[0]!.field).toBe('spec.source.contextDir');
});

test('an ImageStreamTag output without a tag is named', () => {
  const causes = causesOf(() =>
    validateResource(BC, bc({ ...good, output: { to: { kind: 'ImageStreamTag', name: 'web' } } })),
  );
  expect(causes[0]!.field).toBe('spec.output.to.name');
});

test('a Source strategy without sourceStrategy is named', () => {
  const causes = causesOf(() => validateResource(BC, bc({ ...good, strategy: { type: 'Source' } })));
  expect(causes.map((c) => c.field)).toContain('spec.strategy.sourceStrategy');
});

test('a webhook trigger without a secret is named by index', () => {
  const causes = causesOf(() =>
    validateResource(
      BC,
      bc({ ...good, triggers: [{ type: 'ConfigChange' }, { type: 'GitHub', github: {} }] }),
    ),
  );
  expect(causes[0]!.field).toBe('spec.triggers[1].github');
});

test("runPolicy must be one of OpenShift's", () => {
  const causes = causesOf(() => validateResource(BC, bc({ ...good, runPolicy: 'Sometimes' })));
  expect(causes[0]!.field).toBe('spec.runPolicy');
});

test('a Secret folds stringData into base64 data, and rejects data that is not base64', () => {
  const secret = validateResource(SECRET, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'creds' },
    stringData: { password: 'pa ss' },
  } as Resource) as Resource & { data: Record<string, string>; type: string };
  expect(secret.data.password).toBe(Buffer.from('pa ss').toString('base64'));
  expect(secret.type).toBe('Opaque');
  expect('stringData' in secret).toBe(false);
  const causes = causesOf(() =>
    validateResource(SECRET, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'x' },
      data: { k: 'not base64!' },
    } as Resource),
  );
  expect(causes[0]!.field).toBe('data.k');
});

test('the worker applies the same transport rule before it runs git', () => {
  expect(isAllowedGitUri('https://example.com/r.git', false)).toBe(true);
  expect(isAllowedGitUri('git@example.com:o/r.git', false)).toBe(true);
  expect(isAllowedGitUri('ext::sh -c id', true)).toBe(false);
  expect(isAllowedGitUri('file:///srv/r.git', false)).toBe(false);
  expect(isAllowedGitUri('file:///srv/r.git', true)).toBe(true);
});
