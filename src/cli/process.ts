/**
 * `slipway process` as `oc process`: a Template from a file or stored in the project (or
 * the shared `openshift` project), parameter values from `-p K=V` and `--param-file`,
 * processed by the server's processedtemplates endpoint; prints the objects as a List
 * (`slipway process … | slipway apply -f -` creates them).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import { lookupKind, type Resource } from '../core/resource.js';
import {
  parseParameterFile,
  setParameterValues,
  type Template,
  type TemplateParameter,
} from '../templates/process.js';
import { ApiError, type SlipwayClient } from './client.js';
import { table } from './output.js';

const TEMPLATE = lookupKind('template.openshift.io/v1', 'Template')!;
/** Where OpenShift keeps the templates every project may use. */
export const SHARED_TEMPLATE_NAMESPACE = 'openshift';

export interface ProcessRequest {
  /** A stored template's name (`TEMPLATE` or `template/TEMPLATE`), or undefined with `file`. */
  name?: string;
  file?: string;
  params?: string[];
  paramFile?: string[];
  ignoreUnknown?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-p K=V` values, then `--param-file` values under them (the command line wins, as in oc). */
export function parameterValues(req: Pick<ProcessRequest, 'params' | 'paramFile'>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const file of req.paramFile ?? []) {
    let text: string;
    try {
      text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
    } catch (err) {
      throw new ApiError(0, `error: --param-file ${file}: ${errorMessage(err)}`);
    }
    try {
      Object.assign(out, parseParameterFile(text));
    } catch (err) {
      throw new ApiError(0, `error: ${file}: ${errorMessage(err)}`);
    }
  }
  for (const p of req.params ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ApiError(0, `error: invalid parameter assignment "${p}": expected NAME=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** Reads the template: from the file, or stored in `namespace`, else in the shared project. */
export async function loadTemplate(
  c: SlipwayClient,
  namespace: string,
  req: ProcessRequest,
): Promise<Template> {
  if (req.file) {
    const { parseManifests } = await import('./manifests.js');
    const text = req.file === '-' ? readFileSync(0, 'utf8') : readFileSync(req.file, 'utf8');
    const templates = parseManifests(text, req.file).filter((d) => d.kind === 'Template');
    if (templates.length !== 1)
      throw new ApiError(0, `error: ${req.file}: expected one Template, found ${templates.length}`);
    return templates[0] as Template;
  }
  const name = (req.name ?? '').replace(/^(template|templates)\//, '');
  if (!name) throw new ApiError(0, 'error: give a template name or -f FILE');
  for (const ns of namespace === SHARED_TEMPLATE_NAMESPACE
    ? [namespace]
    : [namespace, SHARED_TEMPLATE_NAMESPACE]) {
    const t = await c.get(TEMPLATE, ns, name);
    if (t) return t as Template;
  }
  throw new ApiError(
    404,
    `error: template "${name}" not found in project "${namespace}" or in "${SHARED_TEMPLATE_NAMESPACE}"`,
  );
}

/** The processed template (objects substituted) from the server; parameter errors name the parameters. */
export async function processOnServer(
  c: SlipwayClient,
  namespace: string,
  req: ProcessRequest,
): Promise<Template> {
  const template = await loadTemplate(c, namespace, req);
  let withValues: Template;
  try {
    withValues = setParameterValues(template, parameterValues(req), {
      ignoreUnknown: req.ignoreUnknown ?? false,
    });
  } catch (err) {
    throw new ApiError(0, `error: ${errorMessage(err)}`);
  }
  return c.json<Template>(
    'POST',
    `/apis/template.openshift.io/v1/namespaces/${encodeURIComponent(namespace)}/processedtemplates`,
    withValues,
  );
}

function parameterTable(parameters: TemplateParameter[]): string {
  return table([
    ['NAME', 'DESCRIPTION', 'GENERATOR', 'VALUE'],
    ...parameters.map((p) => [
      p.name,
      (p.description ?? '').replace(/\s+/g, ' ').slice(0, 60),
      p.generate === 'expression' ? 'expression' : '',
      p.generate === 'expression' && !p.value ? (p.from ?? '') : (p.value ?? ''),
    ]),
  ]);
}

export function registerProcessCommands(
  program: Command,
  client: () => SlipwayClient,
  ns: () => string,
): void {
  program
    .command('process')
    .description('process a Template into the objects it makes (pipe them to `slipway apply -f -`)')
    .argument('[template]', 'a template stored in the project, or in the shared "openshift" project')
    .option('-f, --filename <file>', 'the Template file, or - for standard input')
    .option('-p, --param <NAME=VALUE>', 'a parameter value (repeatable)', collect)
    .option('--param-file <file>', 'a file of NAME=VALUE lines (repeatable)', collect)
    .option('--ignore-unknown-parameters', 'leave out -p values the template does not define')
    .option('--parameters', "list the template's parameters instead of processing it")
    .option('-o, --output <format>', 'json or yaml', 'json')
    .action(
      async (
        name: string | undefined,
        opts: {
          filename?: string;
          param?: string[];
          paramFile?: string[];
          ignoreUnknownParameters?: boolean;
          parameters?: boolean;
          output: string;
        },
      ) => {
        if (!['json', 'yaml'].includes(opts.output))
          throw new ApiError(0, `error: output format "${opts.output}" is not json or yaml`);
        if (name && opts.filename) throw new ApiError(0, 'error: give a template name or -f FILE, not both');
        const req: ProcessRequest = {
          ...(name === undefined ? {} : { name }),
          ...(opts.filename === undefined ? {} : { file: opts.filename }),
          ...(opts.param === undefined ? {} : { params: opts.param }),
          ...(opts.paramFile === undefined ? {} : { paramFile: opts.paramFile }),
          ignoreUnknown: opts.ignoreUnknownParameters ?? false,
        };
        const c = client();
        if (opts.parameters) {
          console.log(parameterTable((await loadTemplate(c, ns(), req)).parameters ?? []));
          return;
        }
        const processed = await processOnServer(c, ns(), req);
        const list = {
          kind: 'List',
          apiVersion: 'v1',
          metadata: {},
          items: (processed.objects ?? []) as Resource[],
        };
        if (opts.output === 'yaml') {
          const { stringify } = await import('yaml');
          process.stdout.write(stringify(list));
        } else console.log(JSON.stringify(list, null, 2));
      },
    );
}
