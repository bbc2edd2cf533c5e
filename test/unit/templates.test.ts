/** Template processing (src/templates/): parameters, generate expressions, substitution, labels. */
import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/core/errors.js';
import { generateFromExpression, parseExpression } from '../../src/templates/generate.js';
import {
  parseParameterFile,
  processTemplate,
  setParameterValues,
  type Template,
} from '../../src/templates/process.js';

function template(extra: Partial<Template> = {}): Template {
  return {
    apiVersion: 'template.openshift.io/v1',
    kind: 'Template',
    metadata: { name: 'app' },
    ...extra,
  };
}

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('generate expressions', () => {
  it('follows classes, ranges, counts and literal text', () => {
    for (let i = 0; i < 50; i++) {
      expect(generateFromExpression('[a-zA-Z0-9]{12}')).toMatch(/^[a-zA-Z0-9]{12}$/);
      expect(generateFromExpression('test[0-9]x')).toMatch(/^test[0-9]x$/);
      expect(generateFromExpression('[A-Z0-9]{8}')).toMatch(/^[A-Z0-9]{8}$/);
    }
  });

  it('knows the four escapes, inside and outside a class', () => {
    for (let i = 0; i < 50; i++) {
      expect(generateFromExpression('[\\w]{10}')).toMatch(/^\w{10}$/);
      expect(generateFromExpression('[\\d]{10}')).toMatch(/^\d{10}$/);
      expect(generateFromExpression('\\a{6}')).toMatch(/^[a-zA-Z]{6}$/);
      expect(generateFromExpression('[\\A]{10}')).toMatch(/^[~!@#$%^&*()\-_+={}[\]\\|<,>.?/"';:`]{10}$/);
    }
  });

  it('uses every character of a class (the choice is not biased to one end)', () => {
    const seen = new Set(generateFromExpression('[abc]{300}'));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
  });

  it('draws each character from the given source', () => {
    expect(generateFromExpression('[a-c]{4}', () => 2)).toBe('cccc');
  });

  it.each([
    ['[a-z', 'not closed'],
    ['[]', 'empty'],
    ['[z-a]', 'goes backwards'],
    ['{3}', 'follows nothing'],
    ['[a]{x}', 'a count must be'],
    ['[a]{5000}', 'at most 1024'],
    ['abc\\', 'lone backslash'],
  ])('refuses %s (%s)', (from, message) => {
    expect(() => parseExpression(from)).toThrow(message);
  });
});

describe('processTemplate', () => {
  it('substitutes ${NAME} in every string and ${{NAME}} as JSON when it stands alone', () => {
    const out = processTemplate(
      template({
        parameters: [
          { name: 'NAME', value: 'web' },
          { name: 'REPLICAS', value: '3' },
          { name: 'DEBUG', value: 'true' },
          { name: 'TEXT', value: 'not json' },
        ],
        objects: [
          {
            kind: 'DeploymentConfig',
            metadata: { name: '${NAME}', annotations: { url: 'http://${NAME}.${NAME}:8080' } },
            spec: {
              replicas: '${{REPLICAS}}',
              debug: '${{DEBUG}}',
              text: '${{TEXT}}',
              mixed: 'n=${{REPLICAS}}',
              unknown: '${NOPE}',
              list: ['${NAME}', 7, null],
            },
          },
        ],
      }),
    );
    const dc = out.objects![0] as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    expect(dc.metadata.name).toBe('web');
    expect(dc.metadata.annotations).toEqual({ url: 'http://web.web:8080' });
    expect(dc.spec).toEqual({
      replicas: 3,
      debug: true,
      text: 'not json',
      mixed: 'n=3',
      unknown: '${NOPE}',
      list: ['web', 7, null],
    });
  });

  it('generates empty values with an expression, keeps given ones, and reports the final values', () => {
    const out = processTemplate(
      template({
        parameters: [
          { name: 'SECRET', generate: 'expression', from: '[a-f0-9]{16}' },
          { name: 'GIVEN', generate: 'expression', from: '[a-z]{4}', value: 'mine' },
          { name: 'PLAIN', value: 'x' },
        ],
        objects: [{ kind: 'Secret', metadata: { name: 's' }, stringData: { k: '${SECRET}', g: '${GIVEN}' } }],
      }),
    );
    const secret = out.parameters!.find((p) => p.name === 'SECRET')!.value!;
    expect(secret).toMatch(/^[a-f0-9]{16}$/);
    expect((out.objects![0] as { stringData: unknown }).stringData).toEqual({ k: secret, g: 'mine' });
    expect(out.parameters!.find((p) => p.name === 'PLAIN')!.value).toBe('x');
  });

  it('adds the template labels to every object and substitutes the message', () => {
    const out = processTemplate(
      template({
        parameters: [{ name: 'APP', value: 'shop' }],
        labels: { app: '${APP}', template: 'app' },
        message: 'The ${APP} app is being built.',
        objects: [
          { kind: 'Service', metadata: { name: 'a', labels: { tier: 'web' } } },
          { kind: 'Route', metadata: { name: 'b' } },
        ],
      }),
    );
    expect(out.objects!.map((o) => (o as { metadata: { labels: unknown } }).metadata.labels)).toEqual([
      { tier: 'web', app: 'shop', template: 'app' },
      { app: 'shop', template: 'app' },
    ]);
    expect(out.message).toBe('The shop app is being built.');
  });

  it('drops a written namespace unless a parameter chooses it', () => {
    const out = processTemplate(
      template({
        parameters: [{ name: 'NS', value: 'shared' }],
        objects: [
          { kind: 'Service', metadata: { name: 'a', namespace: 'elsewhere' } },
          { kind: 'Service', metadata: { name: 'b', namespace: '${NS}' } },
        ],
      }),
    );
    expect(out.objects!.map((o) => (o as { metadata: { namespace?: string } }).metadata.namespace)).toEqual([
      undefined,
      'shared',
    ]);
  });

  it('names every missing required parameter and creates nothing', () => {
    const err = inputError(() =>
      processTemplate(
        template({
          parameters: [
            { name: 'A', required: true },
            { name: 'B', required: true, value: 'ok' },
            { name: 'C', required: true, value: '' },
          ],
          objects: [{ kind: 'Service', metadata: { name: '${A}' } }],
        }),
      ),
    );
    expect(err.code).toBe(422);
    expect(err.causes.map((c) => c.field)).toEqual(['parameters[0]', 'parameters[2]']);
    expect(err.message).toContain('parameter A is required');
    expect(err.message).toContain('parameter C is required');
  });

  it('refuses a bad generator, a bad expression, duplicate and badly named parameters', () => {
    const err = inputError(() =>
      processTemplate(
        template({
          parameters: [{ name: 'X', generate: 'random' }, { name: 'Y' }, { name: 'Y' }, { name: 'bad-name' }],
        }),
      ),
    );
    expect(err.causes.map((c) => c.field)).toEqual([
      'parameters[0].generate',
      'parameters[2].name',
      'parameters[3].name',
    ]);
    const expr = inputError(() =>
      processTemplate(template({ parameters: [{ name: 'Z', generate: 'expression', from: '[a-' }] })),
    );
    expect(expr.causes[0]!.field).toBe('parameters[0].from');
  });

  it('keeps a key named __proto__ as plain data', () => {
    const objects = JSON.parse(
      '[{"kind":"ConfigMap","metadata":{"name":"c"},"data":{"__proto__":"${V}"}}]',
    ) as unknown[];
    const out = processTemplate(template({ parameters: [{ name: 'V', value: 'v' }], objects }));
    const data = (out.objects![0] as { data: Record<string, unknown> }).data;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toBe('v');
  });
});

describe('parameter values from the command line', () => {
  it('sets known parameters and refuses unknown ones by name', () => {
    const t = template({ parameters: [{ name: 'A' }, { name: 'B', value: 'b' }] });
    expect(setParameterValues(t, { A: '1' }).parameters).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'b' },
    ]);
    const err = inputError(() => setParameterValues(t, { A: '1', NOPE: '2', ALSO: '3' }));
    expect(err.message).toBe('unknown parameter names "NOPE", "ALSO"');
    expect(setParameterValues(t, { NOPE: '2' }, { ignoreUnknown: true }).parameters).toHaveLength(2);
  });

  it('reads a parameter file, comments and blank lines skipped, and names a bad line', () => {
    expect(parseParameterFile('# c\nA=1\n\nB=x=y\n')).toEqual({ A: '1', B: 'x=y' });
    expect(() => parseParameterFile('A=1\nnonsense\n')).toThrow('line 2');
  });
});
