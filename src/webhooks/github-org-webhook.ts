/**
 * `POST /webhooks/github`: one endpoint for a whole GitHub organisation or GitHub App.
 * Every delivery is signed with one configured secret; the signature (HMAC-SHA256 of the
 * raw bytes, src/webhooks/signatures.ts) is verified before the body is parsed. A `push`
 * becomes a PushEvent for the caller to route (triggers/push-router.ts); `ping` is
 * answered 200; every other event is acknowledged with 202 and ignored, so GitHub does
 * not mark the hook as failing.
 */
import type { PushEvent } from '../triggers/types.js';
import { parseGitHubPush } from './github-payload.js';
import {
  checkMethod,
  MAX_WEBHOOK_BODY_BYTES,
  mediaTypeOf,
  parseJsonBody,
  reply,
  tooLarge,
  type WebhookReply,
  type WebhookRequest,
} from './request.js';
import { sha256SignatureMatches } from './signatures.js';

export type GitHubOrgWebhookResult =
  | {
      action: 'push';
      push: PushEvent;
      /** `github:{X-GitHub-Delivery}`: claim it with claimDelivery before creating builds. */
      deliveryId?: string;
      /** `owner/repo`. */
      repository: string;
      /** The head commit, for logs and replies. */
      after?: string;
    }
  | { action: 'reply'; reply: WebhookReply };

/** A delivery whose headers and signature are good: a `push` whose payload is still to read. */
export type CheckedGitHubPush =
  { action: 'push'; deliveryId?: string } | { action: 'reply'; reply: WebhookReply };

export interface GitHubOrgReceiver {
  /**
   * Everything but the payload's content, synchronously: method, size, signature, event
   * and content type. A `push` that passes is read with `parse`.
   */
  check(request: WebhookRequest): CheckedGitHubPush;
  /** Reads a checked push's payload: a PushEvent, or a 400 naming what is wrong. */
  parse(rawBody: Buffer, deliveryId: string | undefined): GitHubOrgWebhookResult;
  /** check, then parse. */
  receive(request: WebhookRequest): Promise<GitHubOrgWebhookResult>;
}

/**
 * A push payload, already verified, read whole: a PushEvent, or a 400 naming what is
 * wrong. The receiver's `parse`, and what a worker routing a recorded push reads it with.
 */
export function parseGitHubOrgPush(rawBody: Buffer, deliveryId: string | undefined): GitHubOrgWebhookResult {
  const body = parseJsonBody(rawBody);
  if (!body.ok) return { action: 'reply', reply: body.reply };
  const parsed = parseGitHubPush(body.value);
  if (!parsed.ok) return { action: 'reply', reply: parsed.reply };
  const result: GitHubOrgWebhookResult = {
    action: 'push',
    push: parsed.value.push,
    repository: parsed.value.repository,
  };
  if (deliveryId) result.deliveryId = deliveryId;
  if (parsed.value.after) result.after = parsed.value.after;
  return result;
}

/**
 * Makes the receiver for one org/App secret (SLIPWAY_GITHUB_SECRET). Throws at start-up
 * when the secret is empty: an unsigned org endpoint would let anyone start builds.
 */
export function createGitHubOrgReceiver(options: { secret: string }): GitHubOrgReceiver {
  if (!options.secret) {
    throw new Error(
      'the GitHub org/App webhook needs a secret: set SLIPWAY_GITHUB_SECRET (githubSecret in the config file)',
    );
  }
  const { secret } = options;
  const answer = (r: WebhookReply): { action: 'reply'; reply: WebhookReply } => ({
    action: 'reply',
    reply: r,
  });

  function check(request: WebhookRequest): CheckedGitHubPush {
    const methodError = checkMethod(request);
    if (methodError) return answer(methodError);
    if (request.rawBody.length > MAX_WEBHOOK_BODY_BYTES) return answer(tooLarge());

    // Signature first: nothing about an unauthenticated body is looked at.
    const signature = request.getHeader('x-hub-signature-256');
    if (!signature) {
      return answer(
        reply(401, "missing X-Hub-Signature-256: set the webhook secret on GitHub to Slipway's githubSecret"),
      );
    }
    if (!sha256SignatureMatches(secret, request.rawBody, signature))
      return answer(
        reply(401, 'X-Hub-Signature-256 does not match the payload signed with the configured secret'),
      );

    const event = request.getHeader('x-github-event');
    if (!event) return answer(reply(400, 'missing X-GitHub-Event'));
    const delivery = request.getHeader('x-github-delivery');
    if (event === 'ping') return answer(reply(200, 'pong'));
    if (event !== 'push') return answer(reply(202, `${event} event ignored; only push starts builds`));

    const ct = mediaTypeOf(request.getHeader('content-type'));
    if (!ct.ok) return answer(reply(400, ct.message));
    if (ct.type !== 'application/json') {
      return answer(
        reply(
          400,
          `unsupported Content-Type ${JSON.stringify(ct.type)}; set the webhook's content type to application/json`,
        ),
      );
    }
    return delivery ? { action: 'push', deliveryId: `github:${delivery}` } : { action: 'push' };
  }

  return {
    check,
    parse: parseGitHubOrgPush,
    receive(request) {
      const checked = check(request);
      return Promise.resolve(
        checked.action === 'reply' ? checked : parseGitHubOrgPush(request.rawBody, checked.deliveryId),
      );
    },
  };
}
