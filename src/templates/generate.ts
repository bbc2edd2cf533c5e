/**
 * OpenShift's `generate: expression` for Template parameters: a value made at random from
 * `from`, which is literal text, character classes and counts — not a regular expression.
 *
 *   [a-zA-Z0-9]{12}   twelve letters or digits
 *   test[0-9]x        "test", one digit, "x"
 *   [\w]{10}          letters, digits and underscore   (\d digits, \a letters, \A symbols)
 *
 * A class is `[...]` with single characters, ranges (`a-z`) and the four escapes; a count
 * `{n}` repeats the class or literal character before it. Anything else is refused with a
 * message saying where, so a template that works here also works on OpenShift.
 */
import { randomInt } from 'node:crypto';

/** The longest value an expression may produce: a template is not a way to fill memory. */
export const MAX_GENERATED_LENGTH = 1024;

const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const SYMBOLS = '~!@#$%^&*()-_+={}[]\\|<,>.?/"\';:`';

/** The character sets behind OpenShift's four escapes. */
const ESCAPES: Record<string, string> = {
  w: LOWER + UPPER + DIGITS + '_',
  d: DIGITS,
  a: LOWER + UPPER,
  A: SYMBOLS,
};

export class GenerateExpressionError extends Error {}

/** One step of an expression: pick `count` characters from `chars`. */
interface Step {
  chars: string;
  count: number;
}

function parseClass(from: string, start: number): { chars: string; end: number } {
  const set = new Set<string>();
  let i = start + 1;
  while (i < from.length && from[i] !== ']') {
    const c = from[i]!;
    if (c === '\\') {
      const e = from[i + 1];
      if (e === undefined) throw new GenerateExpressionError(`"${from}": a class ends with a lone backslash`);
      const named = ESCAPES[e];
      if (named) for (const x of named) set.add(x);
      else set.add(e);
      i += 2;
      continue;
    }
    const to = from[i + 2];
    if (from[i + 1] === '-' && to !== undefined && to !== ']') {
      const lo = c.codePointAt(0)!;
      const hi = to.codePointAt(0)!;
      if (hi < lo)
        throw new GenerateExpressionError(`"${from}": the range ${c}-${to} goes backwards (at ${i})`);
      if (hi - lo > 0xffff) throw new GenerateExpressionError(`"${from}": the range ${c}-${to} is too wide`);
      for (let p = lo; p <= hi; p++) set.add(String.fromCodePoint(p));
      i += 3;
      continue;
    }
    set.add(c);
    i++;
  }
  if (i >= from.length)
    throw new GenerateExpressionError(`"${from}": the class opened at ${start} is not closed`);
  if (set.size === 0) throw new GenerateExpressionError(`"${from}": the class at ${start} is empty`);
  return { chars: [...set].join(''), end: i + 1 };
}

/** Parses `from` into steps; throws GenerateExpressionError naming what is wrong and where. */
export function parseExpression(from: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  while (i < from.length) {
    const c = from[i]!;
    if (c === '[') {
      const { chars, end } = parseClass(from, i);
      steps.push({ chars, count: 1 });
      i = end;
    } else if (c === '{') {
      const close = from.indexOf('}', i);
      const body = close < 0 ? '' : from.slice(i + 1, close);
      if (!/^\d{1,4}$/.test(body))
        throw new GenerateExpressionError(`"${from}": a count must be {n} with n a number (at ${i})`);
      const last = steps.at(-1);
      if (!last) throw new GenerateExpressionError(`"${from}": the count at ${i} follows nothing`);
      last.count = Number(body);
      i = close + 1;
    } else if (c === '\\') {
      const e = from[i + 1];
      if (e === undefined) throw new GenerateExpressionError(`"${from}": it ends with a lone backslash`);
      steps.push({ chars: ESCAPES[e] ?? e, count: 1 });
      i += 2;
    } else {
      steps.push({ chars: c, count: 1 });
      i++;
    }
  }
  const length = steps.reduce((n, s) => n + s.count, 0);
  if (length > MAX_GENERATED_LENGTH)
    throw new GenerateExpressionError(
      `"${from}" would generate ${length} characters; at most ${MAX_GENERATED_LENGTH} are allowed`,
    );
  return steps;
}

/** A random value for `from`, chosen with the platform's cryptographic generator. */
export function generateFromExpression(from: string, pick: (n: number) => number = randomInt): string {
  let out = '';
  for (const step of parseExpression(from)) {
    const chars = [...step.chars];
    for (let k = 0; k < step.count; k++) out += chars[chars.length === 1 ? 0 : pick(chars.length)]!;
  }
  return out;
}
