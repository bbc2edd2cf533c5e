/**
 * `.s2i/environment` in the application source: `NAME=value` lines that reach
 * `assemble` and the output image. Parsed as s2i does (pkg/scripts/environment.go):
 * lines starting with `#` are comments, the first `=` splits name from value, both
 * are trimmed, quotes are kept as written; lines that are not `NAME=value` are skipped.
 */

export interface EnvPair {
  name: string;
  value: string;
}

export interface EnvironmentFile {
  env: EnvPair[];
  /** 1-based line numbers and text of lines that were not `NAME=value` (blank lines excluded). */
  skipped: { line: number; text: string }[];
}

export function parseEnvironmentFile(text: string): EnvironmentFile {
  const env: EnvPair[] = [];
  const skipped: EnvironmentFile['skipped'] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    const eq = raw.indexOf('=');
    const name = eq < 0 ? '' : raw.slice(0, eq).trim();
    if (!name) {
      if (raw.trim()) skipped.push({ line: index + 1, text: raw });
      return;
    }
    env.push({ name, value: raw.slice(eq + 1).trim() });
  });
  return { env, skipped };
}
