/**
 * The dashboard's only way to data: the authenticated API. The token lives in this tab's
 * sessionStorage and travels in the Authorization header, never in a URL (so never in
 * logs, history or a Referer). The namespace's live changes come from its event stream,
 * read with fetch() because EventSource cannot send the header.
 */

const TOKEN_KEY = 'slipwayToken';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

const GROUPS = {
  buildconfigs: 'build.openshift.io',
  builds: 'build.openshift.io',
  imagestreams: 'image.openshift.io',
  deploymentconfigs: 'apps.openshift.io',
  routes: 'route.openshift.io',
  services: '',
  replicationcontrollers: '',
};

/** The API path of a collection or one object: `/apis/{group}/v1/namespaces/{ns}/{plural}[/{name}]`. */
export function apiPath(ns, plural, name) {
  const group = GROUPS[plural];
  const base = group ? `/apis/${group}/v1` : '/api/v1';
  const p = `${base}/namespaces/${encodeURIComponent(ns)}/${plural}`;
  return name === undefined ? p : `${p}/${encodeURIComponent(name)}`;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Fetch with the token; a refused token signs the tab out (`slipway:signedout`). */
export async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    credentials: 'omit',
    cache: 'no-store',
    headers: { authorization: `Bearer ${token.get() ?? ''}`, ...(init.headers ?? {}) },
  });
  if (res.status === 401) {
    token.clear();
    window.dispatchEvent(new Event('slipway:signedout'));
    throw new ApiError(401, 'the token was refused');
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, typeof body.message === 'string' ? body.message : res.statusText);
  }
  return res;
}

export const getJson = async (path) => (await api(path)).json();

export async function postJson(path, body) {
  const res = await api(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  return res.json();
}

/** Reads a streamed body (a followed log) chunk by chunk as text until it ends or `signal` aborts. */
export async function streamText(path, signal, onText) {
  const res = await api(path, { signal });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
  onText(decoder.decode());
}

/** Parses one event-stream block into { event, data, id }; comments give undefined. */
function parseEvent(block) {
  let event = 'message';
  let id;
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  return data.length ? { event, id, data: data.join('\n') } : undefined;
}

/**
 * Which of `checks` (key → the verb, group, resource and subresource of a request) this
 * token may do in `ns`, as key → true/false: Kubernetes' SelfSubjectAccessReview, the
 * same decision the request itself would meet on the server.
 */
export async function accessReviews(ns, checks) {
  const answers = await Promise.all(
    Object.entries(checks).map(async ([key, attrs]) => {
      const review = await postJson('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        kind: 'SelfSubjectAccessReview',
        apiVersion: 'authorization.k8s.io/v1',
        spec: { resourceAttributes: { namespace: ns, ...attrs } },
      });
      return [key, review.status?.allowed === true];
    }),
  );
  return Object.fromEntries(answers);
}

/**
 * Follows the namespace's changes until `signal` aborts: `onSync` after each (re)connect,
 * once the server's subscription is live (list then), `onChange({type, object})` for each
 * change, `onState('live'|'reconnecting')`. A dropped stream is reopened after a pause;
 * a refused one (403: no role in the namespace) ends with `onRefused(error)`.
 */
export async function watchNamespace(ns, { signal, onSync, onChange, onState, onRefused }) {
  const path = `/apis/slipway.dev/v1/namespaces/${encodeURIComponent(ns)}/events`;
  while (!signal.aborted) {
    try {
      const res = await api(path, { signal, headers: { accept: 'text/event-stream' } });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const ev = parseEvent(block);
          if (!ev) continue;
          if (ev.event === 'SYNC') {
            onState('live');
            await onSync();
          } else onChange(JSON.parse(ev.data));
        }
      }
    } catch (err) {
      if (signal.aborted || (err instanceof ApiError && err.status === 401)) return;
      // No role in the namespace: asking again every two seconds would only be refused again.
      if (err instanceof ApiError && err.status === 403) {
        onRefused(err);
        return;
      }
      console.warn('event stream:', err);
    }
    if (signal.aborted) return;
    onState('reconnecting');
    await new Promise((r) => setTimeout(r, 2000));
  }
}
