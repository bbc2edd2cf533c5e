/**
 * DOM helpers. Text goes in through textContent and attributes through properties:
 * nothing the API returns is ever parsed as HTML.
 */

/** `el('a', { href, textContent }, child…)`; children are nodes or strings (text nodes). */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  // What the element was made from, for morph() to tell an unchanged element.
  e.slipwaySignature = JSON.stringify(props, (k, v) => (k === 'on' ? undefined : v));
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [event, fn] of Object.entries(v)) e.addEventListener(event, fn);
    else e[k] = v;
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

/** A link inside the dashboard: navigates without reloading. */
export function link(href, text, props = {}) {
  return el('a', {
    ...props,
    href,
    textContent: text,
    on: {
      click: (e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        history.pushState(null, '', href);
        window.dispatchEvent(new Event('slipway:navigate'));
      },
    },
  });
}

/** A phase badge: Complete, Running, Failed… */
export const badge = (phase) =>
  el('span', {
    className: `badge phase-${/^[A-Za-z]+$/.test(phase ?? '') ? phase : 'Unknown'}`,
    textContent: phase ?? '',
  });

/** A labelled value for card layouts. */
export const field = (name, label, ...value) =>
  el(
    'div',
    { className: 'field', dataset: { field: name } },
    el('span', { className: 'label', textContent: label }),
    el('span', { className: 'value' }, ...value),
  );

/**
 * A table whose rows are arrays of cells (nodes or strings) or ready `tr` elements. Each
 * cell carries its column's heading (`data-label`), which a phone shows in place of the
 * header row.
 */
export function table(headings, rows, props = {}) {
  const trs = rows.map((cells) =>
    cells instanceof Node ? cells : el('tr', {}, ...cells.map((c) => el('td', {}, c))),
  );
  for (const tr of trs)
    [...tr.children].forEach((td, i) => {
      if (headings[i]) td.dataset.label = headings[i];
    });
  return el(
    'div',
    { className: 'scroll' },
    el(
      'table',
      props,
      el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', { textContent: h })))),
      el('tbody', {}, ...trs),
    ),
  );
}

/** Copies text, with a fallback where the Clipboard API is not offered (plain http on a LAN address). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const input = el('textarea', { value: text, readOnly: true, className: 'offscreen' });
  document.body.append(input);
  input.select();
  document.execCommand('copy');
  input.remove();
}

/**
 * Brings `parent`'s children in line with `next` (freshly rendered nodes or strings),
 * keeping every node that did not change. A live update then never replaces the link or
 * button under the pointer: a click whose mousedown and mouseup fell on either side of
 * a re-render would otherwise be lost.
 */
export function morph(parent, next) {
  const nodes = next.map((n) => (typeof n === 'string' ? document.createTextNode(n) : n));
  const old = [...parent.childNodes];
  nodes.forEach((n, i) => {
    const o = old[i];
    if (!o) parent.append(n);
    else if (o.nodeType === Node.TEXT_NODE && n.nodeType === Node.TEXT_NODE) {
      if (o.data !== n.data) o.data = n.data;
    } else if (
      o.nodeType === Node.ELEMENT_NODE &&
      n.nodeType === Node.ELEMENT_NODE &&
      o.tagName === n.tagName &&
      o.slipwaySignature !== undefined &&
      o.slipwaySignature === n.slipwaySignature
    )
      morph(o, [...n.childNodes]);
    else parent.replaceChild(n, o);
  });
  for (let i = nodes.length; i < old.length; i++) old[i].remove();
}
