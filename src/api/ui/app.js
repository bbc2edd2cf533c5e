/**
 * The dashboard: sign-in, the caller's projects, the namespace's live cache, the path
 * router and the pages. Pages are functions of the cache that return fresh nodes; a change
 * from the event stream re-renders the page's live part, while logs keep streaming into
 * their own node. What a token may see and do is the server's to say: a refused namespace
 * shows the refusal, and buttons the role does not allow are disabled (docs/dashboard.md).
 */
import { appendAnsi, newAnsiState } from './ansi.js';
import {
  ApiError,
  accessReviews,
  api,
  apiPath,
  getJson,
  postJson,
  streamText,
  token,
  watchNamespace,
} from './api.js';
import { badge, copyText, el, field, link, morph, table } from './dom.js';
import {
  KINDS,
  NamespaceCache,
  age,
  applications,
  buildMillis,
  buildsOf,
  digestOf,
  formatMillis,
  revisionImage,
  revisionNumber,
  revisionPhase,
  revisionsOf,
  routeUrl,
  routesOf,
  servingRevision,
} from './model.js';

const main = document.getElementById('main');
const nsInput = document.getElementById('ns');
const nav = document.getElementById('nav');
const live = document.getElementById('live');
const signout = document.getElementById('signout');
const projectList = document.getElementById('projects');

const ui = (ns, ...rest) =>
  ['/ui/namespaces', encodeURIComponent(ns), ...rest.map(encodeURIComponent)].join('/');
const shortDigest = (d) => (d ? d.replace(/^sha256:/, '').slice(0, 12) : '');
const firstLine = (s) => String(s ?? '').split('\n')[0];
const TERMINAL = ['Complete', 'Failed', 'Error', 'Cancelled'];
const PROJECTS = '/apis/project.openshift.io/v1/projects';

/**
 * What each button of the dashboard asks the server to do, as the authorizer reads it.
 * The page asks before offering a button (accessReviews) and disables what the token's
 * role in the namespace does not allow; the server checks every request again anyway.
 */
const ACTIONS = {
  startBuild: {
    verb: 'create',
    group: 'build.openshift.io',
    resource: 'buildconfigs',
    subresource: 'instantiate',
  },
  cancelBuild: { verb: 'create', group: 'build.openshift.io', resource: 'builds', subresource: 'cancel' },
  rollout: {
    verb: 'create',
    group: 'apps.openshift.io',
    resource: 'deploymentconfigs',
    subresource: 'instantiate',
  },
  rollback: {
    verb: 'create',
    group: 'apps.openshift.io',
    resource: 'deploymentconfigs',
    subresource: 'rollback',
  },
  cancelRollout: {
    verb: 'create',
    group: 'apps.openshift.io',
    resource: 'deploymentconfigs',
    subresource: 'cancel',
  },
};

/** The signed-in session of one namespace: its cache, its stream, the server's info. */
let session;
/** The page on screen: { render() → nodes, onChange?, close? }. */
let page;
let renderTimer;

function scheduleRender() {
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = undefined;
    if (page?.live) morph(page.live, renderPage());
  }, 40);
}

/** The page's live part, or what the server said when it refused the namespace. */
function renderPage() {
  if (!page.ns || session?.ns !== page.ns || !session.refused) return page.render();
  return [
    el(
      'section',
      { className: 'refusal', role: 'alert' },
      el('h2', { textContent: `No access to namespace "${page.ns}"` }),
      el('p', { id: 'refused', className: 'error', textContent: session.refused }),
      el('p', {
        className: 'muted',
        textContent: 'A project admin can give you a role in it; your projects are listed under Projects.',
      }),
      link('/ui', 'Your projects'),
    ),
  ];
}

/** Whether the signed-in token may do `action` (a key of ACTIONS) here; true until the server said. */
const may = (action) => session?.can[action] !== false;

/** A button's props, disabled with the reason when the token's role does not allow `action`. */
function allowedTo(action, props = {}) {
  if (may(action)) return props;
  return {
    ...props,
    disabled: true,
    title: `Your role in namespace "${session.ns}" does not allow this`,
  };
}

/** Offers the caller's projects in the namespace field. */
function fillProjectList(projects) {
  projectList.replaceChildren(...projects.map((p) => el('option', { value: p.metadata.name })));
}

const RESYNC_MS = 60_000;

function startSession(ns) {
  session?.abort.abort();
  const s = {
    ns,
    cache: new NamespaceCache(ns),
    abort: new AbortController(),
    info: undefined,
    loaded: false,
    /** What the token may do here (ACTIONS' keys); empty until the server answered. */
    can: {},
    /** The server's words when it refused the namespace (no role in it). */
    refused: undefined,
    revisionTimers: new Map(),
    resync: undefined,
  };
  s.abort.signal.addEventListener('abort', () => clearInterval(s.resync));
  session = s;
  const loadRevisions = async (dcName) => {
    const items = (
      await getJson(
        `${apiPath(ns, 'replicationcontrollers')}?labelSelector=${encodeURIComponent(`openshift.io/deployment-config.name=${dcName}`)}`,
      )
    ).items;
    s.cache.put('ReplicationController', items);
  };
  const refuse = (err) => {
    s.refused = err.message;
    live.className = 'live refused';
    live.textContent = '⊘ no access';
    scheduleRender();
  };
  const failed = (err) => (err instanceof ApiError && err.status === 403 ? refuse(err) : showError(err));
  const load = async () => {
    const kinds = Object.entries(KINDS).filter(([k]) => k !== 'ReplicationController');
    // Asked on every list, as roles can change while the page is open.
    const can = accessReviews(ns, ACTIONS).then(
      (answer) => (s.can = answer),
      (err) => console.warn('access review:', err),
    );
    const lists = await Promise.all(kinds.map(([, plural]) => getJson(apiPath(ns, plural))));
    await can;
    kinds.forEach(([kind], i) => s.cache.put(kind, lists[i].items, { replaceAll: true }));
    await Promise.all(s.cache.all('DeploymentConfig').map((dc) => loadRevisions(dc.metadata.name)));
    s.info ??= await getJson('/apis/slipway.dev/v1/serverinfo').catch(() => undefined);
    s.loaded = true;
    scheduleRender();
  };
  void watchNamespace(ns, {
    signal: s.abort.signal,
    onSync: () => {
      // Pub/sub does not replay what a server's subscription missed while Redis was away:
      // list again now and then, as informers resync.
      clearInterval(s.resync);
      s.resync = setInterval(() => load().catch(failed), RESYNC_MS);
      return load().catch(failed);
    },
    onRefused: refuse,
    onState: (state) => {
      live.className = `live ${state}`;
      live.textContent = state === 'live' ? '● live' : '○ reconnecting';
    },
    onChange: (change) => {
      if (!s.cache.apply(change)) return;
      // On a cluster the revisions live there, not in Slipway's store: a change of the
      // DeploymentConfig (its counts, its latest version) is the sign to read them again.
      if (change.object.kind === 'DeploymentConfig' && change.type !== 'DELETED') {
        const name = change.object.metadata.name;
        clearTimeout(s.revisionTimers.get(name));
        s.revisionTimers.set(
          name,
          setTimeout(() => loadRevisions(name).then(scheduleRender, failed), 250),
        );
      }
      page?.onChange?.(change);
      scheduleRender();
    },
  });
  return s;
}

function showError(err) {
  if (err instanceof ApiError && err.status === 401) return;
  const note = el('p', { className: 'error', role: 'alert', textContent: `Error: ${err?.message ?? err}` });
  main.prepend(note);
  setTimeout(() => note.remove(), 15000);
}

/** What the last action said; kept outside the page's live part, which re-renders. */
const notice = el('p', { id: 'notice', className: 'notice', role: 'status' });

/** A button that runs `action` and says what happened in the notice line. */
function actionButton(text, action, props = {}) {
  const button = el('button', {
    type: 'button',
    textContent: text,
    ...props,
    on: {
      click: async () => {
        button.disabled = true;
        notice.className = 'notice';
        notice.textContent = `${text}…`;
        try {
          notice.textContent = `${text}: ${(await action()) ?? 'done'}`;
        } catch (err) {
          notice.textContent = `${text}: ${err.message}`;
          notice.className = 'notice error';
        } finally {
          // Back as offered: a button the role does not allow stays disabled after a forced try.
          button.disabled = props.disabled === true;
        }
      },
    },
  });
  return button;
}

// ---------------------------------------------------------------- pages

function loading() {
  return [el('p', { className: 'muted', textContent: 'Loading…' })];
}

function commitCell(build) {
  const git = build?.spec?.revision?.git;
  if (!git?.commit) return [el('span', { className: 'muted', textContent: build ? 'not fetched yet' : '—' })];
  return [
    el('code', { className: 'sha', textContent: git.commit.slice(0, 7), title: git.commit }),
    ' ',
    el('span', { className: 'author', textContent: git.author?.name ?? '' }),
    el('span', { className: 'message', textContent: firstLine(git.message), title: git.message ?? '' }),
  ];
}

function stagesOf(build) {
  const stages = build?.status?.stages ?? [];
  if (!stages.length) return undefined;
  return el(
    'ul',
    { className: 'stages' },
    ...stages.map((st) =>
      el(
        'li',
        {},
        el('span', { textContent: st.name ?? '' }),
        ' ',
        el('span', { className: 'muted', textContent: formatMillis(st.durationMilliseconds) }),
      ),
    ),
  );
}

function buildCell(ns, build) {
  if (!build) return [el('span', { className: 'muted', textContent: 'no build yet' })];
  const phase = build.status?.phase ?? 'New';
  return [
    link(ui(ns, 'builds', build.metadata.name, 'log'), build.metadata.name),
    ' ',
    badge(phase),
    ' ',
    el('span', { className: 'duration', textContent: formatMillis(buildMillis(build)) }),
    stagesOf(build),
  ];
}

function overviewPage(ns) {
  return {
    title: 'Applications',
    render() {
      const { cache, info, loaded } = session;
      if (!loaded) return loading();
      const apps = applications(cache);
      if (!apps.length)
        return [
          el('p', {
            className: 'muted',
            textContent: `Nothing in namespace "${ns}" yet: apply a BuildConfig and a DeploymentConfig.`,
          }),
        ];
      return apps.map((app) => {
        const built = app.build?.status?.output?.to?.imageDigest;
        const servingImage = revisionImage(app.serving);
        const serving = digestOf(servingImage);
        const latest = app.revisions[0];
        const dcStatus = app.dc?.status ?? {};
        return el(
          'section',
          { className: 'app', dataset: { app: app.name } },
          el(
            'h3',
            {},
            app.dc
              ? link(ui(ns, 'deploymentconfigs', app.name), app.name)
              : link(ui(ns, 'buildconfigs', app.name), app.name),
            app.bc && app.dc
              ? el(
                  'span',
                  { className: 'muted' },
                  ' built by ',
                  link(ui(ns, 'buildconfigs', app.bc.metadata.name), app.bc.metadata.name),
                )
              : undefined,
          ),
          el(
            'div',
            { className: 'fields' },
            field('commit', 'Last commit', ...commitCell(app.build)),
            field('build', 'Build', ...buildCell(ns, app.build)),
            field(
              'image',
              'Image',
              built
                ? el('code', { textContent: shortDigest(built), title: built })
                : el('span', { className: 'muted', textContent: app.build ? 'not pushed yet' : '—' }),
              built && serving && built !== serving && app.dc
                ? el('span', { className: 'muted', textContent: ' (not serving yet)' })
                : undefined,
            ),
            field(
              'serving',
              'Serving',
              ...(app.dc
                ? [
                    app.serving
                      ? el('span', { className: 'revision', textContent: app.serving.metadata.name })
                      : el('span', { className: 'muted', textContent: 'no revision yet' }),
                    serving
                      ? el('code', {
                          className: 'muted',
                          textContent: ` ${shortDigest(serving)}`,
                          title: servingImage,
                        })
                      : undefined,
                    ' ',
                    el('span', {
                      className: 'ready',
                      textContent: `${dcStatus.readyReplicas ?? 0}/${app.dc.spec?.replicas ?? 1} ready`,
                    }),
                    latest && latest !== app.serving && !TERMINAL.includes(revisionPhase(latest))
                      ? el(
                          'span',
                          { className: 'rolling' },
                          ' rolling out ',
                          latest.metadata.name,
                          ' ',
                          badge(revisionPhase(latest)),
                        )
                      : undefined,
                    latest && latest !== app.serving && revisionPhase(latest) === 'Failed'
                      ? el('span', { className: 'rolling' }, ' ', latest.metadata.name, ' ', badge('Failed'))
                      : undefined,
                  ]
                : [el('span', { className: 'muted', textContent: 'not deployed' })]),
            ),
            field(
              'route',
              'Route',
              ...(app.routes.length
                ? app.routes.map((r) => {
                    const url = routeUrl(r, info);
                    return el('a', {
                      href: url,
                      textContent: url,
                      className: 'route',
                      target: '_blank',
                      rel: 'noopener noreferrer',
                    });
                  })
                : [el('span', { className: 'muted', textContent: '—' })]),
            ),
          ),
        );
      });
    },
  };
}

/** A log that follows live into `pre`, with ANSI colours; returns a function that stops it. */
function followLog(pre, path) {
  const abort = new AbortController();
  const state = newAnsiState();
  pre.replaceChildren();
  const stick = () => pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 24;
  streamText(path, abort.signal, (text) => {
    const atEnd = stick();
    appendAnsi(pre, text, state);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  })
    .then(() => pre.classList.add('ended'))
    .catch((err) => {
      if (!abort.signal.aborted)
        pre.append(el('span', { className: 'error', textContent: `\n[log: ${err.message}]` }));
    });
  return () => abort.abort();
}

function buildPage(ns, name) {
  const pre = el('pre', { id: 'log', className: 'log' });
  let stop = followLog(pre, `${apiPath(ns, 'builds', name)}/log?follow=true`);
  return {
    title: `Build ${name}`,
    after: [el('h3', { textContent: 'Log' }), pre],
    close: () => stop(),
    render() {
      const b = session.cache.get('Build', name);
      if (!b)
        return session.loaded
          ? [el('p', { className: 'error', textContent: `Build "${name}" not found` })]
          : loading();
      const s = b.status ?? {};
      const bc = b.metadata.annotations?.['openshift.io/build-config.name'];
      const digest = s.output?.to?.imageDigest;
      return [
        el(
          'h2',
          {},
          `Build ${name} `,
          el('span', {
            id: 'phase',
            className: `badge phase-${s.phase ?? 'New'}`,
            textContent: s.phase ?? 'New',
          }),
        ),
        el(
          'div',
          { className: 'fields' },
          field('message', 'Status', [s.reason, s.message].filter(Boolean).join(': ') || '—'),
          field('config', 'Build config', bc ? link(ui(ns, 'buildconfigs', bc), bc) : '—'),
          field('commit', 'Commit', ...commitCell(b)),
          field(
            'duration',
            'Duration',
            formatMillis(buildMillis(b)) || '—',
            s.startTimestamp
              ? el('span', { className: 'muted', textContent: ` started ${age(s.startTimestamp)}` })
              : undefined,
          ),
          field('stages', 'Stages', stagesOf(b) ?? '—'),
          field('image', 'Image', digest ? el('code', { textContent: digest }) : '—'),
        ),
        TERMINAL.includes(s.phase)
          ? undefined
          : actionButton(
              'Cancel build',
              async () => {
                await postJson(`${apiPath(ns, 'builds', name)}/cancel`, {});
                return 'cancelling';
              },
              allowedTo('cancelBuild', { id: 'cancel-build' }),
            ),
      ].filter(Boolean);
    },
    onChange(change) {
      // A build that was re-run from scratch (its worker died) starts a fresh log.
      if (
        change.object.kind === 'Build' &&
        change.object.metadata.name === name &&
        change.object.status?.phase === 'Pending' &&
        pre.classList.contains('ended')
      ) {
        stop();
        pre.classList.remove('ended');
        stop = followLog(pre, `${apiPath(ns, 'builds', name)}/log?follow=true`);
      }
    },
  };
}

function webhookUrls(ns, bc) {
  const rows = [];
  for (const t of bc.spec?.triggers ?? []) {
    const type = t.type?.toLowerCase();
    const hook = t[type];
    if (!['github', 'gitlab', 'bitbucket', 'generic'].includes(type) || !hook) continue;
    // A secret kept in a Secret is not read into the page; the URL shows where it goes.
    const secret =
      hook.secret ??
      (hook.secretReference ? `<secret from Secret "${hook.secretReference.name}">` : '<secret>');
    const url = `${location.origin}${apiPath(ns, 'buildconfigs', bc.metadata.name)}/webhooks/${hook.secret ? encodeURIComponent(secret) : secret}/${type}`;
    rows.push([
      t.type,
      el('code', { className: 'webhook', textContent: url }),
      actionButton('Copy', async () => {
        await copyText(url);
        return 'copied';
      }),
    ]);
  }
  return rows;
}

function describeTrigger(t) {
  if (t.type === 'ImageChange')
    return `ImageChange${t.imageChange?.from?.name ? ` from ${t.imageChange.from.name}` : ' (builder image)'}`;
  if (t.type === 'ConfigChange') return 'ConfigChange';
  const hook = t[t.type?.toLowerCase()] ?? {};
  const extra = [
    hook.refs?.length ? `refs ${hook.refs.join(', ')}` : '',
    hook.paths?.length ? `paths ${hook.paths.join(', ')}` : '',
  ].filter(Boolean);
  return `${t.type} webhook${extra.length ? ` (${extra.join('; ')})` : ''}`;
}

function buildConfigPage(ns, name) {
  return {
    title: `Build config ${name}`,
    render() {
      const bc = session.cache.get('BuildConfig', name);
      if (!bc)
        return session.loaded
          ? [el('p', { className: 'error', textContent: `BuildConfig "${name}" not found` })]
          : loading();
      const src = bc.spec?.source ?? {};
      const out = bc.spec?.output?.to;
      const hooks = webhookUrls(ns, bc);
      const builds = buildsOf(session.cache, name);
      return [
        el(
          'h2',
          {},
          `Build config ${name} `,
          actionButton(
            'Start build',
            async () => {
              const b = await postJson(`${apiPath(ns, 'buildconfigs', name)}/instantiate`, {
                kind: 'BuildRequest',
                apiVersion: 'build.openshift.io/v1',
                metadata: { name },
              });
              return `started ${b.metadata.name}`;
            },
            allowedTo('startBuild', { id: 'start-build' }),
          ),
        ),
        el(
          'div',
          { className: 'fields' },
          field(
            'source',
            'Source',
            src.git?.uri ? `${src.git.uri}${src.git.ref ? ` @ ${src.git.ref}` : ''}` : (src.type ?? '—'),
          ),
          field('strategy', 'Strategy', bc.spec?.strategy?.type ?? '—'),
          field('output', 'Output', out ? `${out.kind} ${out.name}` : '—'),
          field('policy', 'Run policy', bc.spec?.runPolicy ?? 'Serial'),
        ),
        el('h3', { textContent: 'Triggers' }),
        el(
          'ul',
          { className: 'triggers' },
          ...(bc.spec?.triggers ?? []).map((t) => el('li', { textContent: describeTrigger(t) })),
        ),
        el('h3', { textContent: 'Webhook URLs' }),
        hooks.length
          ? table(['Type', 'URL', ''], hooks, { id: 'webhooks' })
          : el('p', { className: 'muted', textContent: 'No webhook triggers.' }),
        el('h3', { textContent: 'Builds' }),
        table(
          ['Build', 'Status', 'Commit', 'Duration', 'Started'],
          builds.map((b) => [
            link(ui(ns, 'builds', b.metadata.name, 'log'), b.metadata.name),
            badge(b.status?.phase ?? 'New'),
            el('span', {}, ...commitCell(b)),
            formatMillis(buildMillis(b)),
            age(b.status?.startTimestamp),
          ]),
        ),
      ];
    },
  };
}

function deploymentConfigPage(ns, name) {
  const pre = el('pre', { id: 'rollout-log', className: 'log' });
  let following;
  let stop = () => {};
  const follow = (version) => {
    if (following === version) return;
    following = version;
    stop();
    stop = followLog(pre, `${apiPath(ns, 'deploymentconfigs', name)}/log?follow=true&version=${version}`);
  };
  const dcPath = apiPath(ns, 'deploymentconfigs', name);
  return {
    title: `Deployment config ${name}`,
    after: [el('h3', { id: 'rollout-log-title', textContent: 'Rollout log' }), pre],
    close: () => stop(),
    render() {
      const dc = session.cache.get('DeploymentConfig', name);
      if (!dc)
        return session.loaded
          ? [el('p', { className: 'error', textContent: `DeploymentConfig "${name}" not found` })]
          : loading();
      const revisions = revisionsOf(session.cache, name);
      const serving = servingRevision(revisions);
      const latest = revisions[0];
      const latestVersion = dc.status?.latestVersion ?? 0;
      if (latestVersion > 0) follow(latestVersion);
      const inProgress = latest && !TERMINAL.includes(revisionPhase(latest));
      const routes = routesOf(session.cache, dc);
      return [
        el(
          'h2',
          {},
          `Deployment config ${name}`,
          el(
            'span',
            { className: 'actions' },
            actionButton(
              'Roll out',
              async () => {
                const r = await postJson(`${dcPath}/instantiate`, {
                  kind: 'DeploymentRequest',
                  apiVersion: 'apps.openshift.io/v1',
                  name,
                  latest: true,
                  force: true,
                });
                return `revision ${r.status?.latestVersion ?? '?'} started`;
              },
              allowedTo('rollout', { id: 'rollout' }),
            ),
            actionButton(
              'Roll back',
              async () => {
                const r = await postJson(`${dcPath}/rollback`, {
                  kind: 'DeploymentConfigRollback',
                  apiVersion: 'apps.openshift.io/v1',
                  name,
                  spec: {},
                });
                const off = r.rollback?.disabledTriggers ?? [];
                return `rolled back to ${r.rollback?.to ?? '?'}${off.length ? `; image triggers turned off: ${off.join(', ')}` : ''}`;
              },
              allowedTo('rollback', {
                id: 'rollback',
                disabled: !revisions.some((rc) => rc !== serving && revisionPhase(rc) === 'Complete'),
              }),
            ),
            actionButton(
              'Cancel',
              async () => {
                await postJson(`${dcPath}/cancel`, {});
                return 'cancelling';
              },
              allowedTo('cancelRollout', { id: 'cancel', disabled: !inProgress }),
            ),
          ),
        ),
        el(
          'div',
          { className: 'fields' },
          field('serving', 'Serving', serving ? serving.metadata.name : 'nothing yet'),
          field('ready', 'Ready', `${dc.status?.readyReplicas ?? 0}/${dc.spec?.replicas ?? 1}`),
          field('strategy', 'Strategy', dc.spec?.strategy?.type ?? 'Rolling'),
          field('latest', 'Latest', latestVersion ? `${name}-${latestVersion}` : '—'),
          field(
            'triggers',
            'Triggers',
            (dc.spec?.triggers ?? [])
              .map((t) =>
                t.type === 'ImageChange'
                  ? `ImageChange ${t.imageChangeParams?.from?.name ?? ''}${t.imageChangeParams?.automatic === false ? ' (off)' : ''}`
                  : t.type,
              )
              .join(', ') || '—',
          ),
          field(
            'route',
            'Route',
            ...(routes.length
              ? routes.map((r) =>
                  el('a', {
                    href: routeUrl(r, session.info),
                    textContent: routeUrl(r, session.info),
                    target: '_blank',
                    rel: 'noopener noreferrer',
                  }),
                )
              : ['—']),
          ),
        ),
        el('h3', { textContent: 'Conditions' }),
        table(
          ['Type', 'Status', 'Reason', 'Message', 'Updated'],
          (dc.status?.conditions ?? []).map((c) => [
            c.type,
            c.status,
            c.reason ?? '',
            c.message ?? '',
            age(c.lastUpdateTime ?? c.lastTransitionTime),
          ]),
          { id: 'conditions' },
        ),
        el('h3', { textContent: 'Revisions' }),
        table(
          ['Revision', 'Phase', 'Replicas', 'Image', 'Cause', 'Created', ''],
          revisions.map((rc) => {
            const image = revisionImage(rc);
            const phase = revisionPhase(rc);
            const causes = (() => {
              try {
                return JSON.parse(rc.metadata.annotations?.['slipway.dev/deployment.causes'] ?? '[]')
                  .map((c) => c.type)
                  .join(', ');
              } catch {
                return '';
              }
            })();
            const row = el(
              'tr',
              { dataset: { revision: rc.metadata.name }, className: rc === serving ? 'serving' : '' },
              el(
                'td',
                {},
                rc.metadata.name,
                rc === serving
                  ? el('span', { className: 'badge serving-badge', textContent: 'serving' })
                  : undefined,
              ),
              el(
                'td',
                {},
                badge(phase),
                phase === 'Failed'
                  ? el('span', {
                      className: 'reason',
                      textContent: rc.metadata.annotations?.['openshift.io/deployment.status-reason'] ?? '',
                    })
                  : undefined,
              ),
              el('td', { textContent: `${rc.status?.readyReplicas ?? 0}/${rc.spec?.replicas ?? 0}` }),
              el('td', {}, el('code', { textContent: shortDigest(digestOf(image)) || image, title: image })),
              el('td', { textContent: causes }),
              el('td', { textContent: age(rc.metadata.creationTimestamp) }),
              el(
                'td',
                {},
                el('button', {
                  type: 'button',
                  className: 'link',
                  textContent: 'log',
                  on: { click: () => follow(revisionNumber(rc)) },
                }),
                rc !== serving && phase === 'Complete'
                  ? actionButton(
                      'Roll back to this',
                      async () => {
                        const r = await postJson(`${dcPath}/rollback`, {
                          kind: 'DeploymentConfigRollback',
                          apiVersion: 'apps.openshift.io/v1',
                          name,
                          spec: { revision: revisionNumber(rc) },
                        });
                        return `rolled back to ${r.rollback?.to ?? rc.metadata.name}`;
                      },
                      allowedTo('rollback'),
                    )
                  : undefined,
              ),
            );
            return row;
          }),
          { id: 'revisions' },
        ),
        el('p', { className: 'muted', textContent: following ? `Rollout log of ${name}-${following}` : '' }),
      ];
    },
  };
}

function imageStreamsPage(ns, only) {
  return {
    title: only ? `Image stream ${only}` : 'Image streams',
    render() {
      if (!session.loaded) return loading();
      const streams = session.cache
        .all('ImageStream')
        .filter((s) => !only || s.metadata.name === only)
        .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
      if (!streams.length)
        return [
          el('p', {
            className: 'muted',
            textContent: only ? `ImageStream "${only}" not found` : 'No image streams yet.',
          }),
        ];
      return streams.map((s) =>
        el(
          'section',
          { className: 'stream', dataset: { stream: s.metadata.name } },
          el('h3', {}, link(ui(ns, 'imagestreams', s.metadata.name), s.metadata.name)),
          ...(s.status?.tags ?? []).map((t) =>
            el(
              'div',
              { className: 'tag', dataset: { tag: t.tag } },
              el('h4', { textContent: `${s.metadata.name}:${t.tag}` }),
              table(
                ['#', 'Digest', 'Created', 'Reference'],
                (t.items ?? []).map((item, i) => [
                  i === 0 ? 'current' : String(i),
                  el('code', { textContent: shortDigest(item.image), title: item.image ?? '' }),
                  age(item.created),
                  el('code', { className: 'reference', textContent: item.dockerImageReference ?? '' }),
                ]),
              ),
            ),
          ),
        ),
      );
    },
  };
}

/** The projects where the token has a role (every project for the cluster admin). */
function projectsPage() {
  const state = { projects: undefined, error: undefined };
  getJson(PROJECTS).then(
    (list) => {
      state.projects = list.items;
      fillProjectList(list.items);
      scheduleRender();
    },
    (err) => {
      state.error = err;
      scheduleRender();
    },
  );
  return {
    title: 'Projects',
    render() {
      if (state.error)
        return [el('p', { className: 'error', textContent: `Projects: ${state.error.message}` })];
      if (!state.projects) return loading();
      if (!state.projects.length)
        return [
          el('h2', { textContent: 'Projects' }),
          el('p', {
            className: 'muted',
            textContent:
              'You have no role in any project yet: ask a project admin for one, or make a project with slipway new-project NAME. A namespace without a project opens from the Namespace field.',
          }),
        ];
      return [
        el('h2', { textContent: 'Projects' }),
        el(
          'ul',
          { id: 'project-list', className: 'projects' },
          ...state.projects.map((p) => {
            const notes = p.metadata.annotations ?? {};
            return el(
              'li',
              { dataset: { project: p.metadata.name } },
              link(ui(p.metadata.name), p.metadata.name),
              notes['openshift.io/display-name']
                ? el('span', { textContent: ` ${notes['openshift.io/display-name']}` })
                : undefined,
              notes['openshift.io/description']
                ? el('span', { className: 'muted', textContent: ` — ${notes['openshift.io/description']}` })
                : undefined,
            );
          }),
        ),
      ];
    },
  };
}

// ---------------------------------------------------------------- routing

function signIn() {
  const input = el('input', { type: 'password', id: 'token', placeholder: 'slw_…', autocomplete: 'off' });
  const form = el(
    'form',
    { className: 'signin' },
    el('h2', { textContent: 'Sign in' }),
    el('label', { htmlFor: 'token', textContent: 'API token (printed once by slipway up)' }),
    input,
    el('button', { type: 'submit', textContent: 'Sign in' }),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    // Checked at once: a wrong token comes back here rather than to an empty page.
    api('/apis/slipway.dev/v1/serverinfo').then(route, () => route());
  });
  session?.abort.abort();
  session = undefined;
  page?.close?.();
  page = undefined;
  signout.hidden = true;
  live.textContent = '';
  main.replaceChildren(form);
  input.focus();
}

function parsePath() {
  const parts = location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // /ui/namespaces/NS[/KIND[/NAME[/log]]]
  if (parts[0] !== 'ui' || parts[1] !== 'namespaces' || !parts[2]) return undefined;
  return { ns: parts[2], kind: parts[3], name: parts[4] };
}

/** Shows `next` as the page on screen. */
function show(next) {
  page?.close?.();
  page = next;
  page.live = el('div', { className: 'live-part' });
  notice.textContent = '';
  main.replaceChildren(notice, page.live, ...(page.after ?? []));
  page.live.replaceChildren(...renderPage());
}

function route() {
  if (!token.get()) return signIn();
  signout.hidden = false;
  const where = parsePath();
  if (!where) {
    // /ui: the projects this token has a role in, to pick one from.
    if (location.pathname !== '/ui') history.replaceState(null, '', '/ui');
    session?.abort.abort();
    session = undefined;
    live.className = 'live';
    live.textContent = '';
    nsInput.value = '';
    nav.replaceChildren(link('/ui', 'Projects', { className: 'current' }));
    document.title = 'Projects · Slipway';
    return show(projectsPage());
  }
  const { ns, kind, name } = where;
  nsInput.value = ns;
  if (session?.ns !== ns) {
    startSession(ns);
    getJson(PROJECTS).then(
      (list) => fillProjectList(list.items),
      (err) => console.warn('projects:', err),
    );
  }
  const next =
    kind === 'builds' && name
      ? buildPage(ns, name)
      : kind === 'buildconfigs' && name
        ? buildConfigPage(ns, name)
        : kind === 'deploymentconfigs' && name
          ? deploymentConfigPage(ns, name)
          : kind === 'imagestreams'
            ? imageStreamsPage(ns, name)
            : overviewPage(ns);
  next.ns = ns;
  document.title = `${next.title} · ${ns} · Slipway`;
  nav.replaceChildren(
    link(ui(ns), 'Applications', { className: kind ? '' : 'current' }),
    link(ui(ns, 'imagestreams'), 'Image streams', { className: kind === 'imagestreams' ? 'current' : '' }),
    link('/ui', 'Projects'),
  );
  show(next);
}

nsInput.addEventListener('change', () => {
  const ns = nsInput.value.trim();
  // Leaving the field unchanged (a blur) must not reload the page under the pointer.
  if (!ns || ns === session?.ns) return;
  history.pushState(null, '', ui(ns));
  route();
});
signout.addEventListener('click', () => {
  token.clear();
  signIn();
});
window.addEventListener('popstate', route);
window.addEventListener('slipway:navigate', route);
window.addEventListener('slipway:signedout', signIn);
// Ages and running durations move on without a change to show.
setInterval(scheduleRender, 5000);
route();
