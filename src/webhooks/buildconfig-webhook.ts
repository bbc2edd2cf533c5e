/**
 * OpenShift's per-BuildConfig webhook URLs,
 * `POST …/namespaces/{ns}/buildconfigs/{name}/webhooks/{secret}/{github|gitlab|bitbucket|generic}`,
 * as one runtime-neutral function. Status codes follow openshift-apiserver's
 * WebHookHandler.ProcessWebHook and its plugins:
 *
 * - 404 for an unknown hook type, 405 for a method other than POST;
 * - 401 with one message for an unknown BuildConfig, no trigger of the type, or a wrong
 *   secret, so a caller cannot tell which (no information leaks);
 * - 400 for a bad Content-Type, a missing event header or an unparseable payload;
 * - 200 without a build for `ping` and for a push the BuildConfig does not build;
 * - otherwise a build to start; the caller answers 200 with the created Build.
 *
 * Beyond OpenShift: `X-Hub-Signature-256` (GitHub, generic), `X-Hub-Signature`
 * (Bitbucket) and `X-Gitlab-Token` are checked against the matched trigger's secret when
 * sent, and required when the trigger says `requireSignature: true`.
 */
import type { BuildConfigSpec, WebHookTrigger } from '../core/build-types.js';
import type { Resource } from '../core/resource.js';
import { webhookCause } from '../triggers/causes.js';
import { decidePush, isPaused, webhookTriggers, type BuildRequestExtras } from '../triggers/push-decision.js';
import { branchPatterns } from '../triggers/ref-match.js';
import type { PushEvent, TriggeredBuildRequest, WebhookSource } from '../triggers/types.js';
import { parseBitbucketCloudPush, parseBitbucketServerRefsChanged } from './bitbucket-payload.js';
import { parseGenericBody } from './generic-payload.js';
import { parseGitHubPush } from './github-payload.js';
import { parseGitLabPush } from './gitlab-payload.js';
import {
  checkMethod,
  isJsonMediaType,
  MAX_WEBHOOK_BODY_BYTES,
  mediaTypeOf,
  parseJsonBody,
  reply,
  tooLarge,
  type WebhookReply,
  type WebhookRequest,
} from './request.js';
import { secretsEqual, sha256SignatureMatches } from './signatures.js';
import { matchTriggerSecret, type GetSecret } from './trigger-secrets.js';

export const WEBHOOK_TYPES: readonly WebhookSource[] = ['github', 'gitlab', 'bitbucket', 'generic'];

export interface BuildConfigWebhookInput {
  namespace: string;
  /** BuildConfig name, from the URL. */
  name: string;
  /** The `{secret}` segment of the URL. */
  secret: string;
  /** The `{type}` segment of the URL. */
  type: string;
  request: WebhookRequest;
  getBuildConfig(namespace: string, name: string): Promise<Resource | undefined>;
  getSecret: GetSecret;
}

export type BuildConfigWebhookResult =
  | {
      action: 'build';
      buildConfig: Resource;
      /** Pass to instantiate; it carries the revision, `triggeredBy` and allowed env. */
      request: TriggeredBuildRequest;
      /** Claim it with claimDelivery before instantiating, when present. */
      deliveryId?: string;
      message: string;
      /** OpenShift's 200 "warning" (payload ignored, env ignored…), to return beside the Build. */
      warning?: string;
    }
  | { action: 'reply'; reply: WebhookReply };

/** The one 401 message of every authentication failure, as OpenShift words it. */
export function rejectedSecretMessage(type: string, name: string): string {
  return `the webhook ${JSON.stringify(type)} for ${JSON.stringify(name)} did not accept your secret`;
}

const GENERIC_YAML = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);

function answer(r: WebhookReply): BuildConfigWebhookResult {
  return { action: 'reply', reply: r };
}

interface Context {
  input: BuildConfigWebhookInput;
  bc: Resource;
  trigger: WebHookTrigger;
  secret: string;
  key: string;
}

/** Handles one delivery to a per-BuildConfig webhook URL. Never throws on bad input; storage errors propagate. */
export async function handleBuildConfigWebhook(
  input: BuildConfigWebhookInput,
): Promise<BuildConfigWebhookResult> {
  const { request } = input;
  const methodError = checkMethod(request);
  if (methodError) return answer(methodError);
  if (!WEBHOOK_TYPES.includes(input.type as WebhookSource)) {
    return answer(
      reply(
        404,
        `buildconfighook ${JSON.stringify(input.type)} not found; use github, gitlab, bitbucket or generic`,
      ),
    );
  }
  const type = input.type as WebhookSource;
  if (request.rawBody.length > MAX_WEBHOOK_BODY_BYTES) return answer(tooLarge());

  const unauthorized = answer(reply(401, rejectedSecretMessage(type, input.name)));
  // Clients must not learn whether a BuildConfig exists unless the secret matches.
  const bc = await input.getBuildConfig(input.namespace, input.name);
  if (!bc) return unauthorized;
  const matched = await matchTriggerSecret({
    namespace: input.namespace,
    urlSecret: input.secret,
    triggers: webhookTriggers(bc, type),
    getSecret: input.getSecret,
  });
  if (!matched) return unauthorized;

  const ctx: Context = {
    input,
    bc,
    trigger: matched.trigger,
    secret: matched.secret,
    key: `${input.namespace}/${input.name}`,
  };
  switch (type) {
    case 'github':
      return github(ctx);
    case 'gitlab':
      return gitlab(ctx);
    case 'bitbucket':
      return bitbucket(ctx);
    case 'generic':
      return generic(ctx);
  }
}

function requireJson(request: WebhookRequest): WebhookReply | undefined {
  const header = request.getHeader('content-type');
  const ct = mediaTypeOf(header);
  if (!ct.ok) return reply(400, ct.message);
  if (ct.type !== 'application/json') {
    return reply(400, `unsupported Content-Type ${JSON.stringify(header ?? '')}; send application/json`);
  }
  return undefined;
}

async function checkHubSignature(ctx: Context, header: string): Promise<WebhookReply | undefined> {
  const signature = ctx.input.request.getHeader(header);
  if (signature !== undefined) {
    if (sha256SignatureMatches(ctx.secret, ctx.input.request.rawBody, signature)) return undefined;
    return reply(
      401,
      `${header} does not match the payload signed with this trigger's secret; set the webhook's secret to the trigger's secret`,
    );
  }
  if (ctx.trigger.requireSignature) {
    return reply(
      401,
      `this trigger requires signed deliveries: ${header} is missing (set a secret on the webhook)`,
    );
  }
  return undefined;
}

function deliveryId(ctx: Context, source: WebhookSource, id: string | undefined): { deliveryId?: string } {
  return id ? { deliveryId: `${source}:${id}:${ctx.key}` } : {};
}

function decide(
  ctx: Context,
  push: PushEvent,
  delivery: { deliveryId?: string },
  extra?: BuildRequestExtras,
): BuildConfigWebhookResult {
  const d = decidePush({ buildConfig: ctx.bc, trigger: ctx.trigger, push, ...(extra ? { extra } : {}) });
  if (!d.build) return answer(reply(200, d.reason));
  return { action: 'build', buildConfig: ctx.bc, request: d.request, message: d.reason, ...delivery };
}

async function github(ctx: Context): Promise<BuildConfigWebhookResult> {
  const { request } = ctx.input;
  const signatureError = await checkHubSignature(ctx, 'X-Hub-Signature-256');
  if (signatureError) return answer(signatureError);
  const jsonError = requireJson(request);
  if (jsonError) return answer(jsonError);
  // Gogs and Gitea speak GitHub's payload format under their own event header.
  const event =
    request.getHeader('x-github-event') ??
    request.getHeader('x-gogs-event') ??
    request.getHeader('x-gitea-event');
  if (!event) return answer(reply(400, 'missing X-GitHub-Event, X-Gogs-Event or X-Gitea-Event'));
  if (event === 'ping') return answer(reply(200, 'ping received; a ping starts no build'));
  if (event !== 'push')
    return answer(
      reply(400, `unknown X-GitHub-Event ${JSON.stringify(event)}; only push and ping are handled`),
    );
  const body = parseJsonBody(request.rawBody);
  if (!body.ok) return answer(body.reply);
  const parsed = parseGitHubPush(body.value);
  if (!parsed.ok) return answer(parsed.reply);
  return decide(ctx, parsed.value.push, deliveryId(ctx, 'github', request.getHeader('x-github-delivery')));
}

async function gitlab(ctx: Context): Promise<BuildConfigWebhookResult> {
  const { request } = ctx.input;
  const token = request.getHeader('x-gitlab-token');
  if (token !== undefined ? !secretsEqual(ctx.secret, token) : ctx.trigger.requireSignature) {
    return answer(
      reply(
        401,
        token === undefined
          ? "this trigger requires X-Gitlab-Token (set the webhook's secret token to the trigger's secret)"
          : "X-Gitlab-Token does not match this trigger's secret",
      ),
    );
  }
  const jsonError = requireJson(request);
  if (jsonError) return answer(jsonError);
  const event = request.getHeader('x-gitlab-event');
  if (!event) return answer(reply(400, 'missing X-Gitlab-Event'));
  if (event !== 'Push Hook' && event !== 'Tag Push Hook') {
    return answer(
      reply(
        400,
        `Unknown X-Gitlab-Event ${JSON.stringify(event)}; only Push Hook and Tag Push Hook are handled`,
      ),
    );
  }
  const body = parseJsonBody(request.rawBody);
  if (!body.ok) return answer(body.reply);
  const parsed = parseGitLabPush(body.value);
  if (!parsed.ok) return answer(parsed.reply);
  return decide(ctx, parsed.value, deliveryId(ctx, 'gitlab', request.getHeader('x-gitlab-event-uuid')));
}

async function bitbucket(ctx: Context): Promise<BuildConfigWebhookResult> {
  const { request } = ctx.input;
  // Bitbucket Cloud and Server sign with `X-Hub-Signature: sha256=…` when the hook has a secret.
  const signatureError = await checkHubSignature(ctx, 'X-Hub-Signature');
  if (signatureError) return answer(signatureError);
  const jsonError = requireJson(request);
  if (jsonError) return answer(jsonError);
  const event = request.getHeader('x-event-key');
  if (!event) return answer(reply(400, 'missing X-Event-Key'));
  if (event === 'diagnostics:ping') return answer(reply(200, 'ping received; a ping starts no build'));
  if (event !== 'repo:push' && event !== 'repo:refs_changed') {
    return answer(
      reply(
        400,
        `Unknown Bitbucket X-Event-Key ${JSON.stringify(event)}; only repo:push and repo:refs_changed are handled`,
      ),
    );
  }
  const body = parseJsonBody(request.rawBody);
  if (!body.ok) return answer(body.reply);
  const parsed =
    event === 'repo:push' ? parseBitbucketCloudPush(body.value) : parseBitbucketServerRefsChanged(body.value);
  if (!parsed.ok) return answer(parsed.reply);
  const id = request.getHeader('x-request-uuid') ?? request.getHeader('x-request-id');
  return decide(ctx, parsed.value, deliveryId(ctx, 'bitbucket', id));
}

async function generic(ctx: Context): Promise<BuildConfigWebhookResult> {
  const { request } = ctx.input;
  const signatureError = await checkHubSignature(ctx, 'X-Hub-Signature-256');
  if (signatureError) return answer(signatureError);
  const ct = mediaTypeOf(request.getHeader('content-type'));
  if (!ct.ok) return answer(reply(400, ct.message));
  // An idempotency key makes a retried call start one build (draft-ietf-httpapi-idempotency-key-header).
  const delivery = deliveryId(ctx, 'generic', request.getHeader('idempotency-key'));
  const spec = ctx.bc.spec as Partial<BuildConfigSpec> | undefined;
  const plain = (warning?: string): BuildConfigWebhookResult => {
    if (isPaused(ctx.bc))
      return answer(reply(200, `BuildConfig ${JSON.stringify(ctx.bc.metadata.name)} is paused; no build`));
    const out: BuildConfigWebhookResult = {
      action: 'build',
      buildConfig: ctx.bc,
      request: { triggeredBy: [webhookCause('generic')] },
      message: 'build requested',
      ...delivery,
    };
    if (warning) out.warning = warning;
    return out;
  };

  // The body is optional: `curl -X POST URL` starts a build of the configured ref.
  if (request.rawBody.length === 0) return plain();
  const format = isJsonMediaType(ct.type) ? 'json' : GENERIC_YAML.has(ct.type) ? 'yaml' : undefined;
  if (!format) {
    // OpenShift builds anyway: callers such as `curl -d` send form types by default.
    return plain('invalid Content-Type on payload, ignoring payload and continuing with build');
  }
  const parsed = parseGenericBody(request.rawBody, format);
  // OpenShift ignores an unparseable payload and builds; Slipway answers 400, because
  // building the default branch when the caller named another is the worse surprise.
  if (!parsed.ok) return answer(reply(400, parsed.message));
  const payload = parsed.value;

  const warnings: string[] = [];
  let env = payload.env;
  if (env.length > 0 && !ctx.trigger.allowEnv) {
    warnings.push('env in the payload was ignored: the trigger does not set allowEnv');
    env = [];
  }
  const extra: BuildRequestExtras = {};
  if (env.length > 0) extra.env = env;
  if (payload.dockerStrategyOptions) extra.dockerStrategyOptions = payload.dockerStrategyOptions;

  if (!spec?.source?.git || !payload.hasGit || payload.refs.length === 0) {
    if (spec?.source?.git && !payload.hasGit)
      warnings.push('no git information found in payload, ignoring and continuing with build');
    const result = plain(warnings.join('; ') || undefined);
    if (result.action === 'build') {
      if (extra.env) result.request.env = extra.env;
      if (extra.dockerStrategyOptions) result.request.dockerStrategyOptions = extra.dockerStrategyOptions;
    }
    return result;
  }

  const configured = branchPatterns({ configRef: spec.source.git.ref, trigger: ctx.trigger })[0]!;
  const push: PushEvent = {
    source: 'generic',
    repoUrls: payload.uri ? [payload.uri] : [],
    refs: payload.refs.map((r) =>
      r.ref === ''
        ? { ...r, ref: configured.startsWith('refs/') ? configured : `refs/heads/${configured}` }
        : r,
    ),
  };
  const result = decide(ctx, push, delivery, extra);
  if (result.action === 'build' && warnings.length > 0) result.warning = warnings.join('; ');
  return result;
}
