/**
 * What a runtime-image (extended) build copies from the builder container into the
 * runtime image: s2i's `--runtime-artifact` / `io.openshift.s2i.assemble-input-files`
 * mapping, `source[:destination]` entries separated by `;` (docs/runtime_image.md).
 * The source is an absolute path in the builder container; the destination is a
 * directory relative to the runtime image's WORKDIR (`.` by default). Wildcards are
 * not supported and fail the build, as in s2i.
 */

export interface ArtifactMapping {
  /** Absolute path of a file or directory in the builder container after assemble. */
  source: string;
  /** Directory relative to the runtime WORKDIR that receives it (`.` = WORKDIR itself). */
  destination: string;
}

function clean(path: string): string {
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (!part || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else if (part !== '..' || !absolute) out.push(part);
  }
  const joined = out.join('/');
  return absolute ? `/${joined}` : joined || '.';
}

/** Validates one mapping as s2i does; returns a message, or undefined when it is fine. */
export function invalidMapping(m: ArtifactMapping): string | undefined {
  if (/[*?[\]]/.test(m.source))
    return `invalid runtime artifacts mapping "${m.source}": wildcards are not supported`;
  if (!m.source.startsWith('/'))
    return `invalid runtime artifacts mapping "${m.source}" -> "${m.destination}": source must be an absolute path`;
  if (m.destination.startsWith('/'))
    return `invalid runtime artifacts mapping "${m.source}" -> "${m.destination}": destination must be a relative path`;
  if (m.destination.startsWith('..'))
    return `invalid runtime artifacts mapping "${m.source}" -> "${m.destination}": destination cannot start with '..'`;
  if (m.source === '/')
    return `invalid runtime artifacts mapping "/": copying the whole builder filesystem is not an artifact`;
  return undefined;
}

/** Parses `"/tmp/app.war:app;/opt/data"`; throws on the first invalid entry. */
export function parseAssembleInputFiles(value: string): ArtifactMapping[] {
  const mappings: ArtifactMapping[] = [];
  for (const raw of value.split(';')) {
    const entry = raw.trim().replace(/^["']|["']$/g, '');
    if (!entry) continue;
    const colon = entry.lastIndexOf(':');
    const source = colon < 0 ? entry : entry.slice(0, colon);
    const destination = colon < 0 ? '' : entry.slice(colon + 1);
    mappings.push(checked({ source: clean(source), destination: clean(destination) }));
  }
  if (!mappings.length) throw new Error(`no runtime artifacts to copy were specified in "${value}"`);
  return mappings;
}

/** OpenShift's `runtimeArtifacts: [{sourcePath, destinationDir}]` (ImageSourcePath). */
export function fromImageSourcePaths(
  paths: { sourcePath: string; destinationDir?: string | undefined }[],
): ArtifactMapping[] {
  return paths.map((p) =>
    checked({ source: clean(p.sourcePath), destination: clean(p.destinationDir ?? '') }),
  );
}

function checked(m: ArtifactMapping): ArtifactMapping {
  const problem = invalidMapping(m);
  if (problem) throw new Error(problem);
  return m;
}
