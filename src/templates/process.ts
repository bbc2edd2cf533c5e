/**
 * Processing a `template.openshift.io/v1` Template, as OpenShift's processedtemplates
 * endpoint does: parameter values given, defaulted or generated; `${NAME}` replaced in
 * every string of every object (the text of the value), `${{NAME}}` standing alone
 * replaced by the value as JSON (a number, a boolean, an object) when it parses as JSON;
 * the template's `labels` added to every object; `message` substituted. A namespace
 * written into an object is dropped unless it names a parameter, so the objects land in
 * the project the template is processed for.
 *
 * Pure: no store, no I/O. Errors are InputErrors (422) whose causes name the parameter.
 */
import { InputError, type FieldCause } from '../core/errors.js';
import type { Resource } from '../core/resource.js';
import { GenerateExpressionError, generateFromExpression } from './generate.js';

export interface TemplateParameter {
  name: string;
  displayName?: string;
  description?: string;
  value?: string;
  generate?: string;
  from?: string;
  required?: boolean;
}

export interface Template extends Resource {
  objects?: unknown[];
  parameters?: TemplateParameter[];
  labels?: Record<string, string>;
  message?: string;
}

const PARAMETER_NAME = /^[a-zA-Z0-9_]+$/;
const STRING_REFERENCE = /\$\{([a-zA-Z0-9_]+)\}/g;
const TYPED_REFERENCE = /\$\{\{([a-zA-Z0-9_]+)\}\}/g;
const TYPED_ALONE = /^\$\{\{([a-zA-Z0-9_]+)\}\}$/;

/** Checks the template's own shape: what would make processing meaningless. */
function validateShape(t: Template): void {
  const causes: FieldCause[] = [];
  if (t.objects !== undefined && !Array.isArray(t.objects))
    causes.push({ field: 'objects', message: 'must be a list of objects' });
  (t.objects ?? []).forEach((o, i) => {
    if (!o || typeof o !== 'object' || Array.isArray(o))
      causes.push({ field: `objects[${i}]`, message: 'must be an object' });
  });
  if (t.parameters !== undefined && !Array.isArray(t.parameters))
    causes.push({ field: 'parameters', message: 'must be a list' });
  const seen = new Set<string>();
  (Array.isArray(t.parameters) ? t.parameters : []).forEach((p, i) => {
    const field = `parameters[${i}]`;
    if (!p || typeof p !== 'object') return void causes.push({ field, message: 'must be an object' });
    if (typeof p.name !== 'string' || !PARAMETER_NAME.test(p.name))
      return void causes.push({
        field: `${field}.name`,
        message: 'must be letters, digits and underscores',
      });
    if (seen.has(p.name)) causes.push({ field: `${field}.name`, message: `"${p.name}" is defined twice` });
    seen.add(p.name);
    if (p.value !== undefined && typeof p.value !== 'string')
      causes.push({ field: `${field}.value`, message: 'must be a string' });
    if (p.generate !== undefined && p.generate !== '' && p.generate !== 'expression')
      causes.push({ field: `${field}.generate`, message: 'the only generator is "expression"' });
  });
  if (t.labels !== undefined) {
    if (!t.labels || typeof t.labels !== 'object' || Array.isArray(t.labels))
      causes.push({ field: 'labels', message: 'must be a map of strings' });
    else
      for (const [k, v] of Object.entries(t.labels))
        if (typeof v !== 'string') causes.push({ field: `labels.${k}`, message: 'must be a string' });
  }
  if (t.message !== undefined && typeof t.message !== 'string')
    causes.push({ field: 'message', message: 'must be a string' });
  if (causes.length > 0)
    throw new InputError(`Template is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`, {
      causes,
    });
}

/** Every parameter's value: given, else generated, else its default; required ones must end non-empty. */
function resolveValues(parameters: TemplateParameter[], pick?: (n: number) => number): Map<string, string> {
  const values = new Map<string, string>();
  const causes: FieldCause[] = [];
  parameters.forEach((p, i) => {
    let value = p.value ?? '';
    if (value === '' && p.generate === 'expression') {
      try {
        value = generateFromExpression(p.from ?? '', pick);
      } catch (err) {
        if (!(err instanceof GenerateExpressionError)) throw err;
        causes.push({ field: `parameters[${i}].from`, message: `parameter ${p.name}: ${err.message}` });
      }
    }
    if (p.required && value === '')
      causes.push({
        field: `parameters[${i}]`,
        message: `parameter ${p.name} is required and must be specified`,
      });
    values.set(p.name, value);
  });
  if (causes.length > 0) throw new InputError(causes.map((c) => c.message).join('; '), { causes });
  return values;
}

function substituteString(s: string, values: Map<string, string>): unknown {
  const alone = TYPED_ALONE.exec(s);
  if (alone && values.has(alone[1]!)) {
    const raw = values.get(alone[1]!)!;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw; // not JSON: stays a string, as OpenShift quotes it
    }
  }
  const replace = (whole: string, name: string): string => values.get(name) ?? whole;
  return s.replace(TYPED_REFERENCE, replace).replace(STRING_REFERENCE, replace);
}

function substitute(value: unknown, values: Map<string, string>): unknown {
  if (typeof value === 'string') return substituteString(value, values);
  if (Array.isArray(value)) return value.map((v) => substitute(v, values));
  if (value && typeof value === 'object')
    // fromEntries defines each key as data, so a key named __proto__ stays a plain key.
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, values)]));
  return value;
}

export interface ProcessOptions {
  /** Random index source for generated values (tests); the cryptographic one by default. */
  pick?: (n: number) => number;
}

/**
 * The processed Template: parameters carry their final values, objects are substituted and
 * labelled. Throws InputError (422) naming each bad field or missing parameter.
 */
export function processTemplate(template: Template, options: ProcessOptions = {}): Template {
  validateShape(template);
  const parameters = (template.parameters ?? []).map((p) => ({ ...p }));
  const values = resolveValues(parameters, options.pick);
  for (const p of parameters) p.value = values.get(p.name)!;
  const labels = substitute(template.labels ?? {}, values) as Record<string, unknown>;
  const objects = (template.objects ?? []).map((raw) => {
    const original = raw as Resource;
    // A namespace written into the object is dropped unless a parameter chooses it.
    const keepNamespace =
      typeof original.metadata?.namespace === 'string' && original.metadata.namespace.includes('${');
    const obj = substitute(original, values) as Resource;
    const metadata = { ...(obj.metadata ?? {}) } as Resource['metadata'];
    if (!keepNamespace) delete metadata.namespace;
    const merged: Record<string, string> = Object.fromEntries([
      ...Object.entries(metadata.labels ?? {}),
      ...Object.entries(labels).map(([k, v]) => [k, String(v)] as const),
    ]);
    if (Object.keys(merged).length > 0) metadata.labels = merged;
    return { ...obj, metadata };
  });
  const out: Template = { ...template, parameters, objects };
  if (Object.keys(labels).length > 0) out.labels = labels as Record<string, string>;
  if (typeof template.message === 'string') out.message = String(substituteString(template.message, values));
  return out;
}

/**
 * Sets parameter values from `K=V` pairs (the CLI's `-p` and `--param-file`). A name the
 * template does not define is an error naming it, as `oc process` refuses it, unless
 * `ignoreUnknown` (`--ignore-unknown-parameters`).
 */
export function setParameterValues(
  template: Template,
  given: Record<string, string>,
  options: { ignoreUnknown?: boolean } = {},
): Template {
  const parameters = (template.parameters ?? []).map((p) => ({ ...p }));
  const known = new Set(parameters.map((p) => p.name));
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0 && !options.ignoreUnknown)
    throw new InputError(
      `unknown parameter name${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}`,
      {
        code: 400,
        causes: unknown.map((u) => ({ field: `parameters.${u}`, message: 'not defined by the template' })),
      },
    );
  for (const p of parameters) if (Object.hasOwn(given, p.name)) p.value = given[p.name]!;
  return { ...template, parameters };
}

/** Parses `K=V` lines of a parameter file (`--param-file`): blank lines and `#` comments skipped. */
export function parseParameterFile(text: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const eq = t.indexOf('=');
    if (eq <= 0) throw new InputError(`parameter file line ${i + 1}: expected NAME=VALUE`, { code: 400 });
    out[t.slice(0, eq)] = t.slice(eq + 1);
  });
  return out;
}
