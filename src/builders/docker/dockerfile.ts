/**
 * Pure edits OpenShift makes to a Dockerfile before a Docker-strategy build: the
 * strategy's `from` replaces the image of the last FROM, `env` becomes ENV after it,
 * and build information becomes LABELs at the end.
 */
import { envNameProblem, quoteValue } from '../../core/build-input-rules.js';
import { BuildFailure } from '../../core/errors.js';
import { redactUri } from '../../core/redact.js';

export interface DockerfileEdits {
  from?: string | undefined;
  env?: { name: string; value?: string | undefined }[] | undefined;
  labels?: Record<string, string> | undefined;
}

const FROM_LINE = /^\s*FROM\s+/i;

/**
 * Values are written as JSON strings: a newline in a value becomes `\n` inside quotes,
 * never a line of its own, so a value cannot add an instruction. A name cannot be
 * quoted, so a name that is not an env name is refused (it could carry `\nRUN …`).
 */
function checkEdits(edits: DockerfileEdits): void {
  for (const e of edits.env ?? []) {
    const problem = envNameProblem(e.name);
    if (problem) {
      throw new BuildFailure('ManageDockerfileFailed', `env name ${quoteValue(e.name)} ${problem}`);
    }
  }
  if (edits.from !== undefined && !/^[^\s"'\\]+$/.test(edits.from)) {
    throw new BuildFailure(
      'ManageDockerfileFailed',
      `the strategy's from image ${quoteValue(edits.from)} is not an image reference`,
    );
  }
}

function quote(value: string): string {
  return JSON.stringify(value);
}

/** Finds each instruction's first line, joining `\` continuations, skipping comments. */
function instructionStarts(lines: string[]): number[] {
  const starts: number[] = [];
  let continued = false;
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (!continued && trimmed !== '' && !trimmed.startsWith('#')) starts.push(i);
    continued =
      trimmed.endsWith('\\') && !trimmed.startsWith('#') ? true : continued && trimmed.endsWith('\\');
  });
  return starts;
}

/** Applies `edits`; throws BuildFailure (ManageDockerfileFailed) for a name that could break the Dockerfile. */
export function editDockerfile(text: string, edits: DockerfileEdits): string {
  checkEdits(edits);
  const lines = text.split('\n');
  const starts = instructionStarts(lines);
  const fromIndexes = starts.filter((i) => FROM_LINE.test(lines[i] ?? ''));
  const lastFrom = fromIndexes[fromIndexes.length - 1];
  if (lastFrom === undefined) return text;
  if (edits.from) {
    // FROM [--platform=…] image [AS name]: replace only the image word.
    lines[lastFrom] = (lines[lastFrom] ?? '').replace(
      /^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(.*)$/i,
      (_m, head: string, _img: string, tail: string) => `${head}${edits.from}${tail}`,
    );
  }
  const envLines = (edits.env ?? []).map((e) => `ENV ${e.name}=${quote(e.value ?? '')}`);
  if (envLines.length > 0) {
    // After the whole FROM instruction (it may continue on following lines).
    let end = lastFrom;
    while ((lines[end] ?? '').trim().endsWith('\\') && end < lines.length - 1) end++;
    lines.splice(end + 1, 0, ...envLines);
  }
  const labels = Object.entries(edits.labels ?? {});
  let out = lines.join('\n');
  if (labels.length > 0) {
    if (!out.endsWith('\n')) out += '\n';
    out += `LABEL ${labels.map(([k, v]) => `${quote(k)}=${quote(v)}`).join(' ')}\n`;
  }
  return out;
}

/** OpenShift's build labels, from the checked-out commit. */
export function buildLabels(
  source: {
    uri?: string | undefined;
    ref?: string | undefined;
    commit?: string | undefined;
    author?: { name?: string | undefined; email?: string | undefined } | undefined;
    date?: string | undefined;
    message?: string | undefined;
  },
  contextDir?: string,
): Record<string, string> {
  const labels: Record<string, string> = {};
  if (source.author?.name)
    labels['io.openshift.build.commit.author'] = `${source.author.name} <${source.author.email ?? ''}>`;
  if (source.date) labels['io.openshift.build.commit.date'] = source.date;
  if (source.commit) labels['io.openshift.build.commit.id'] = source.commit;
  if (source.message) labels['io.openshift.build.commit.message'] = source.message.split('\n')[0] ?? '';
  if (source.ref) labels['io.openshift.build.commit.ref'] = source.ref;
  if (source.uri) labels['io.openshift.build.source-location'] = redactUri(source.uri);
  if (contextDir) labels['io.openshift.build.source-context-dir'] = contextDir;
  return labels;
}
