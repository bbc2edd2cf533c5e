/**
 * `.s2iignore`: files of the source that are not given to `assemble`. s2i implements
 * it as .dockerignore was first documented (pkg/ignore/ignore.go): each line is a
 * Go `filepath.Glob` pattern relative to the source root (after contextDir), not
 * recursive (`*` never crosses `/`); a match on a directory drops all of it; `!pattern`
 * reinstates paths an earlier line matched; `#` starts a comment; later lines win.
 *
 * Because s2i deletes files in order, a path ends up ignored exactly when the last
 * line that matches it is a positive one. That is what `createIgnoreMatcher` computes,
 * without touching the disk.
 */

export interface IgnoreRule {
  /** The pattern as cleaned (relative, no `./`, no trailing `/`). */
  pattern: string;
  negate: boolean;
  regex: RegExp;
}

export interface ParsedIgnoreFile {
  rules: IgnoreRule[];
  /** Lines s2i would skip because Go's filepath.Match rejects them (an unclosed `[`). */
  invalid: { line: number; text: string; reason: string }[];
}

export function parseS2iIgnore(text: string): ParsedIgnoreFile {
  const rules: IgnoreRule[] = [];
  const invalid: ParsedIgnoreFile['invalid'] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    let spec = raw.trim();
    if (spec.startsWith('#')) return;
    // s2i joins an empty line to the source root, which would match (and delete) the
    // whole source; nobody means that, so blank lines are skipped.
    if (!spec) return;
    const negate = spec.startsWith('!');
    if (negate) spec = spec.slice(1);
    const pattern = cleanPattern(spec);
    if (pattern === undefined) return; // points outside the source: matches nothing there
    if (!pattern) return;
    try {
      rules.push({ pattern, negate, regex: globToRegExp(pattern) });
    } catch (err) {
      invalid.push({ line: index + 1, text: raw, reason: (err as Error).message });
    }
  });
  return { rules, invalid };
}

/** filepath.Join(root, spec) semantics: drops `.`, empty segments and a leading `/`; resolves `..`. */
function cleanPattern(spec: string): string | undefined {
  const out: string[] = [];
  for (const part of spec.split('/')) {
    if (!part || part === '.') continue;
    if (part === '..') {
      if (!out.length) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

/** Go's filepath.Match syntax as an anchored RegExp: `*`, `?`, `[…]`/`[^…]`, `\` escapes; never across `/`. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw new Error('pattern ends with an unfinished escape "\\"');
      re += escapeRegExp(pattern[i] as string);
    } else if (c === '[') {
      let j = i + 1;
      const negated = pattern[j] === '^';
      if (negated) j++;
      const ranges: string[] = [];
      for (;;) {
        if (j >= pattern.length) throw new Error('character class "[" is not closed');
        if (pattern[j] === ']' && ranges.length) break;
        const [lo, afterLo] = classChar(pattern, j);
        j = afterLo;
        if (pattern[j] === '-') {
          const [hi, afterHi] = classChar(pattern, j + 1);
          j = afterHi;
          ranges.push(`${escapeClassChar(lo)}-${escapeClassChar(hi)}`);
        } else ranges.push(escapeClassChar(lo));
      }
      // A class never matches the separator: Glob matches one path segment at a time.
      re += `(?!/)[${negated ? '^' : ''}${ranges.join('')}]`;
      i = j;
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`);
}

/** One (possibly escaped) character of a class, as Go's getEsc reads it. */
function classChar(pattern: string, at: number): [string, number] {
  let k = at;
  const c = pattern[k];
  if (c === undefined || c === '-' || c === ']')
    throw new Error(`character class has a bad range near "${pattern.slice(at)}"`);
  if (c === '\\') {
    k++;
    if (k >= pattern.length) throw new Error('pattern ends with an unfinished escape "\\"');
  }
  return [pattern[k] as string, k + 1];
}

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

function escapeClassChar(c: string): string {
  return /[\]\\^-]/.test(c) ? `\\${c}` : c;
}

/**
 * Returns whether a path of the source (relative, `/`-separated) is left out: it or
 * one of its parent directories was matched last by a positive line.
 */
export function createIgnoreMatcher(rules: readonly IgnoreRule[]): (relPath: string) => boolean {
  if (!rules.length) return () => false;
  const cache = new Map<string, boolean>();
  const selfIgnored = (p: string): boolean => {
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(p)) ignored = !rule.negate;
    return ignored;
  };
  const ignored = (p: string): boolean => {
    const hit = cache.get(p);
    if (hit !== undefined) return hit;
    const slash = p.lastIndexOf('/');
    const result = (slash > 0 && ignored(p.slice(0, slash))) || selfIgnored(p);
    cache.set(p, result);
    return result;
  };
  return (relPath) => {
    const clean = relPath
      .split('/')
      .filter((s) => s && s !== '.')
      .join('/');
    return clean ? ignored(clean) : false;
  };
}
