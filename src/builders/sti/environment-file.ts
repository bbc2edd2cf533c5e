/**
 * `.s2i/environment` in the application source: `NAME=value` lines that reach
 * `assemble` and the output image. Parsed as s2i does (pkg/scripts/environment.go):
 * lines starting with `#` are comments, the first `=` splits name from value, both
 * are trimmed, quotes are kept as written; lines that are not `NAME=value` are skipped.
 *
 * Beyond s2i: a name must be an env name as the API server accepts one
 * (`[-._a-zA-Z][-._a-zA-Z0-9]*`); a line with any other name is skipped too. The file is
 * the repository's, and a name is the one part of a line no quoting can make harmless.
 */
import { envNameProblem, quoteValue } from '../../core/build-input-rules.js';

export interface EnvPair {
  name: string;
  value: string;
}

export interface EnvironmentFile {
  env: EnvPair[];
  /** 1-based line numbers, text and fault of lines that were not `NAME=value` (blank lines excluded). */
  skipped: { line: number; text: string; problem: string }[];
}

export function parseEnvironmentFile(text: string): EnvironmentFile {
  const env: EnvPair[] = [];
  const skipped: EnvironmentFile['skipped'] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    const eq = raw.indexOf('=');
    const name = eq < 0 ? '' : raw.slice(0, eq).trim();
    if (!name) {
      if (raw.trim()) skipped.push({ line: index + 1, text: raw, problem: 'is not NAME=value' });
      return;
    }
    const problem = envNameProblem(name);
    if (problem) {
      skipped.push({ line: index + 1, text: raw, problem: `names ${quoteValue(name)}, which ${problem}` });
      return;
    }
    env.push({ name, value: raw.slice(eq + 1).trim() });
  });
  return { env, skipped };
}
