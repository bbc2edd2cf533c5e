/**
 * Parsing text that came from outside (API bodies, webhook payloads, `apply -f` files)
 * without letting its shape hurt the process. JSON.parse and the `yaml` package accept
 * documents that are fine as text but dangerous as values: thousands of nesting levels
 * (every recursive walk after them overflows the stack), YAML aliases that multiply a
 * small text into a huge value, and YAML anchors that contain themselves (a cyclic
 * value that JSON.stringify and every walk choke on). The parsers here refuse those with
 * an InputError (400) whose message names the limit; see docs/limits.md.
 */
import {
  Composer,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  Parser,
  type CST,
  type Document,
} from 'yaml';
import { InputError } from './errors.js';

/** Nesting deeper than this is refused; Kubernetes objects are a dozen levels deep. */
export const MAX_NESTING_DEPTH = 100;
/**
 * Aliases per document, the `yaml` package's `maxAliasCount`: it counts an alias by the
 * size of what it copies, so a "billion laughs" document fails long before it grows.
 */
export const MAX_YAML_ALIASES = 100;

/**
 * The largest YAML text a server reads from a request. The `yaml` package reads about a
 * hundred times slower than JSON.parse (5 MB of YAML took 35 s on a busy 2-core machine,
 * the same data as JSON 0.4 s), and it runs on the event loop: past this size one YAML
 * request would stall every other. A manifest is a few KB; JSON keeps the larger limit.
 */
export const MAX_YAML_BYTES = 256 * 1024;

export interface ParseLimits {
  maxDepth?: number;
  maxAliases?: number;
}

function tooDeep(what: string, maxDepth: number): InputError {
  return new InputError(`${what} is nested deeper than the limit of ${maxDepth} levels`, { code: 400 });
}

/**
 * The deepest `[`/`{` nesting of JSON text, counted without parsing (strings skipped), so
 * that a body of 100,000 brackets is refused before anything builds it. A string is
 * skipped in one jump to its closing quote (the first one preceded by an even number of
 * backslashes): it is most of a payload's text, and indexOf crosses it far faster than a
 * loop over its characters.
 */
export function jsonTextDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return max; // unterminated: the rest is inside the string
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Whether `text` holds more than `limit` of the characters `[` and `{`, wherever they
 * are. Nesting deeper than the limit needs more openers than that, so a text with fewer
 * (a webhook payload has a few dozen) skips the depth scan: counting them is a native
 * search per opener, about a tenth of the scan's character loop.
 */
function openersExceed(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) if (++n > limit) return true;
  for (let i = text.indexOf('['); i >= 0; i = text.indexOf('[', i + 1)) if (++n > limit) return true;
  return false;
}

/**
 * Checks a parsed value: no deeper than `maxDepth`, no cycles, no `__proto__` keys (a
 * merge patch or spread would set an object's prototype from them). The walk stops at
 * the limit, so its own recursion is bounded.
 */
export function checkValueShape(value: unknown, options: { what: string; maxDepth?: number }): void {
  const maxDepth = options.maxDepth ?? MAX_NESTING_DEPTH;
  const onPath = new Set<object>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') return;
    if (depth > maxDepth) throw tooDeep(options.what, maxDepth);
    if (onPath.has(v)) {
      throw new InputError(`${options.what} refers to itself (a YAML anchor used inside itself)`, {
        code: 400,
      });
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (!Array.isArray(v) && proto !== Object.prototype && proto !== null) {
      // YAML 1.1 tags (!!binary, !!set, !!omap, timestamps) make bytes, Sets, Maps and Dates.
      throw new InputError(
        `${options.what} holds a ${(v as object).constructor?.name ?? 'value'}, which JSON cannot represent (a YAML !!binary, !!set, !!omap or timestamp); quote the value`,
        { code: 400 },
      );
    }
    onPath.add(v);
    if (Array.isArray(v)) for (const item of v) walk(item, depth + 1);
    else {
      for (const key of Object.keys(v)) {
        if (key === '__proto__') {
          throw new InputError(`${options.what} has a field named "__proto__", which is not allowed`, {
            code: 400,
          });
        }
        walk((v as Record<string, unknown>)[key], depth + 1);
      }
    }
    onPath.delete(v);
  };
  walk(value, 1);
}

/** JSON.parse with the depth check first; a syntax error is a 400 quoting the parser. */
export function parseJsonText(text: string, options: ParseLimits & { what?: string } = {}): unknown {
  const what = options.what ?? 'the JSON document';
  const maxDepth = options.maxDepth ?? MAX_NESTING_DEPTH;
  if (openersExceed(text, maxDepth) && jsonTextDepth(text, maxDepth) > maxDepth)
    throw tooDeep(what, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${what} is not valid JSON: ${(err as Error).message}`, { code: 400, cause: err });
  }
  // JSON.parse makes no cycles nor foreign prototypes, and the text's depth is checked:
  // only a "__proto__" key is left to find, and a text that spells none, literally or
  // through a \u escape, has none. Webhook payloads are that, and skip the walk.
  if (text.includes('__proto__') || text.includes('\\u')) checkValueShape(value, { what, maxDepth });
  return value;
}

/**
 * The deepest collection nesting in a YAML concrete syntax tree, walked without
 * recursion. The `yaml` package reads text into this tree iteratively, but turns the tree
 * into documents recursively: nesting a few thousand levels deep overflows the stack
 * there, and an overflow that lands while V8 compiles a regular expression is a fatal
 * out-of-memory abort of the whole process, which no try/catch can stop. So the depth is
 * measured on the tree, and a document past the limit never reaches the composer.
 */
function cstDepth(tokens: CST.Token[], stopAbove: number): number {
  let max = 0;
  const stack: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === 'document') {
      if (token.value) stack.push([token.value, depth]);
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    const here = depth + 1;
    if (here > max) {
      max = here;
      if (max > stopAbove) return max;
    }
    for (const item of token.items as CST.CollectionItem[]) {
      if (item.key) stack.push([item.key, here]);
      if (item.value) stack.push([item.value, here]);
    }
  }
  return max;
}

/**
 * The syntax tree of a YAML stream, read lexeme by lexeme so that an obviously too deep
 * document stops early: building the tree costs time in proportion to its depth, and
 * 5 MB of `[` or of `- ` would hold the event loop for many seconds. Flow brackets and
 * block indicators on one line each open a level; the exact depth is checked on the tree.
 */
function syntaxTree(
  text: string,
  options: { lines: LineCounter; maxDepth: number; what: string },
): CST.Token[] {
  const parser = new Parser(options.lines.addNewLine);
  options.lines.addNewLine(0);
  const tokens: CST.Token[] = [];
  let flow = 0;
  let onLine = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (lexeme === '[' || lexeme === '{') {
      if (++flow > options.maxDepth) throw tooDeep(options.what, options.maxDepth);
    } else if (lexeme === ']' || lexeme === '}') flow = Math.max(0, flow - 1);
    else if (lexeme === '\n' || lexeme === '\r\n') onLine = 0;
    else if (flow === 0 && (lexeme === '-' || lexeme === '?' || lexeme === ':')) {
      if (++onLine > options.maxDepth) throw tooDeep(options.what, options.maxDepth);
    }
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);
  return tokens;
}

/** The first key repeated within one map of a document, found in one pass. */
function duplicateKey(doc: Document.Parsed): { key: string; offset: number } | undefined {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        if (isScalar(pair.key)) {
          const key = String(pair.key.value);
          if (seen.has(key)) return { key, offset: pair.key.range?.[0] ?? 0 };
          seen.add(key);
        } else stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return undefined;
}

/**
 * Every document of a YAML stream as plain values (empty documents as null), with the
 * depth limit (checked on the syntax tree first, then on the values), the alias limit and
 * no self-references. Anything the parser throws becomes a 400.
 */
export function parseYamlDocuments(text: string, options: ParseLimits & { what?: string } = {}): unknown[] {
  const what = options.what ?? 'the YAML document';
  const maxDepth = options.maxDepth ?? MAX_NESTING_DEPTH;
  const maxAliasCount = options.maxAliases ?? MAX_YAML_ALIASES;
  const out: unknown[] = [];
  try {
    const lines = new LineCounter();
    const tokens = syntaxTree(text, { lines, maxDepth, what });
    if (cstDepth(tokens, maxDepth) > maxDepth) throw tooDeep(what, maxDepth);
    // The package's own duplicate-key check compares each key with every earlier one of
    // its map: 60 KB of `{"k":1,"k":1,…}` took seconds. duplicateKey does it in one pass.
    for (const doc of new Composer({ uniqueKeys: false }).compose(tokens)) {
      const duplicate = duplicateKey(doc);
      if (duplicate) {
        const at = lines.linePos(duplicate.offset);
        throw new InputError(
          `${what} is not valid YAML: the key ${JSON.stringify(duplicate.key).slice(0, 100)} appears twice in one map at line ${at.line}, column ${at.col}`,
          { code: 400 },
        );
      }
      const error = doc.errors[0];
      if (error) {
        const at = lines.linePos(error.pos[0]);
        throw new InputError(
          `${what} is not valid YAML: ${error.message} at line ${at.line}, column ${at.col}`,
          {
            code: 400,
          },
        );
      }
      const value: unknown = doc.toJS({ maxAliasCount });
      checkValueShape(value, { what, maxDepth });
      out.push(value ?? null);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (err instanceof RangeError) throw tooDeep(what, maxDepth);
    const message = /excessive alias count/i.test((err as Error).message)
      ? `uses more aliases than the limit of ${maxAliasCount}`
      : `is not valid YAML: ${(err as Error).message}`;
    throw new InputError(`${what} ${message}`, { code: 400, cause: err });
  }
  return out;
}

/** One YAML document (JSON is YAML too); more than one non-empty document is refused. */
export function parseYamlText(text: string, options: ParseLimits & { what?: string } = {}): unknown {
  const docs = parseYamlDocuments(text, options).filter((d) => d !== null);
  if (docs.length > 1) {
    throw new InputError(
      `${options.what ?? 'the YAML document'} must hold one document, not ${docs.length}`,
      {
        code: 400,
      },
    );
  }
  return docs[0] ?? null;
}

/**
 * A value from a request, quoted for an error message. Never throws: `String()` and
 * template literals call the value's own `toString`, and a body may carry an object
 * whose `toString` is data (`{"kind": {"toString": 1}}`), which made such a request a 500.
 */
export function quoteInput(value: unknown, max = 80): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? typeof value);
  } catch {
    text = typeof value;
  }
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
