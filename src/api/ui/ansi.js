/**
 * ANSI colours in build and rollout logs, turned into DOM nodes. Only SGR sequences
 * (`ESC [ … m`) are kept, as classes on spans whose text is set with textContent: log
 * lines are written by the repository being built, so nothing here ever parses markup.
 * Other escape sequences (cursor moves, OSC titles and links) are dropped. Libraries such
 * as ansi_up return HTML strings for innerHTML, which this page never uses.
 */

/* eslint-disable no-control-regex -- matching control characters is this module's job */
const ESC = '\u001b';
// CSI with its parameters and final byte; OSC up to BEL or ST; any other two-byte escape.
const SEQUENCE = /\u001b(?:\[([0-9;:?]*)([@-~])|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;
const INCOMPLETE = /^\u001b(?:\[[0-9;:?]{0,32}|\][^\u0007\u001b]{0,256})?$/;
// Control characters other than tab and newlines (a stray ESC included) are not shown.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** The colour state between chunks: foreground, background (0–15, or undefined), bold… */
export function newAnsiState() {
  return {
    fg: undefined,
    bg: undefined,
    bold: false,
    dim: false,
    italic: false,
    underline: false,
    carry: '',
  };
}

function applySgr(state, params) {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => Number(p) || 0);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0)
      Object.assign(state, {
        fg: undefined,
        bg: undefined,
        bold: false,
        dim: false,
        italic: false,
        underline: false,
      });
    else if (c === 1) state.bold = true;
    else if (c === 2) state.dim = true;
    else if (c === 3) state.italic = true;
    else if (c === 4) state.underline = true;
    else if (c === 22) state.bold = state.dim = false;
    else if (c === 23) state.italic = false;
    else if (c === 24) state.underline = false;
    else if (c >= 30 && c <= 37) state.fg = c - 30;
    else if (c === 39) state.fg = undefined;
    else if (c >= 40 && c <= 47) state.bg = c - 40;
    else if (c === 49) state.bg = undefined;
    else if (c >= 90 && c <= 97) state.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) state.bg = c - 100 + 8;
    else if (c === 38 || c === 48) {
      // 256-colour (5;n) and true-colour (2;r;g;b): the 16 basic ones keep their class,
      // the rest are shown in the default colour rather than guessed.
      const n = codes[i + 1] === 5 ? codes[i + 2] : undefined;
      const colour = n !== undefined && n < 16 ? n : undefined;
      if (c === 38) state.fg = colour;
      else state.bg = colour;
      i += codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 0;
    }
  }
}

function classesOf(state) {
  const c = [];
  if (state.fg !== undefined) c.push(`ansi-fg-${state.fg}`);
  if (state.bg !== undefined) c.push(`ansi-bg-${state.bg}`);
  if (state.bold) c.push('ansi-bold');
  if (state.dim) c.push('ansi-dim');
  if (state.italic) c.push('ansi-italic');
  if (state.underline) c.push('ansi-underline');
  return c.join(' ');
}

function appendText(parent, state, text) {
  const clean = text.replace(CONTROL, '');
  if (clean === '') return;
  const cls = classesOf(state);
  if (!cls) {
    parent.append(clean);
    return;
  }
  const span = document.createElement('span');
  span.className = cls;
  span.textContent = clean;
  parent.append(span);
}

/**
 * Appends `chunk` to `parent` as text and coloured spans. `state` carries colours and an
 * escape sequence cut in half by a chunk boundary over to the next call.
 */
export function appendAnsi(parent, chunk, state) {
  let text = state.carry + chunk;
  state.carry = '';
  // An escape sequence cut off at the very end: keep it for the next chunk.
  const lastEsc = text.lastIndexOf(ESC);
  if (lastEsc !== -1 && INCOMPLETE.test(text.slice(lastEsc))) {
    state.carry = text.slice(lastEsc);
    text = text.slice(0, lastEsc);
  }
  let at = 0;
  SEQUENCE.lastIndex = 0;
  for (let m = SEQUENCE.exec(text); m; m = SEQUENCE.exec(text)) {
    appendText(parent, state, text.slice(at, m.index));
    if (m[2] === 'm') applySgr(state, m[1] ?? '');
    at = m.index + m[0].length;
  }
  appendText(parent, state, text.slice(at));
}
