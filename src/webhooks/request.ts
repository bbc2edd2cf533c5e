/**
 * What every webhook core takes and gives back. A core sees a request as a header
 * getter and the raw body bytes (signatures are computed over the bytes, so nothing
 * may parse or re-encode the body first) and answers with either an event for the
 * caller to act on or a deliberate reply. Express, or any other server, is a thin
 * wrapper around that (the shape of octokit/webhooks.js' middleware).
 */

import { errorMessage } from '../core/errors.js';
import { statusObject, type StatusObject } from '../core/status.js';
import { parseJsonText } from '../core/untrusted-input.js';

/**
 * Bodies larger than this get 413. GitHub caps payloads at 25 MB and drops larger ones
 * (https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap), so
 * nothing legitimate is bigger.
 */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

export interface WebhookRequest {
  /** The HTTP method; when given, anything but POST gets 405. */
  method?: string | undefined;
  /** A request header by name, case-insensitively; undefined when absent. */
  getHeader(name: string): string | undefined;
  /** The body exactly as received. */
  rawBody: Buffer;
}

/** Kubernetes `Status.reason` values the cores answer with. */
export type ReplyReason =
  | 'Success'
  | 'Accepted'
  | 'BadRequest'
  | 'Unauthorized'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'ServiceUnavailable';

/** A deliberate HTTP answer: the caller sends `status` with `message` (see toStatusObject). */
export interface WebhookReply {
  status: 200 | 202 | 400 | 401 | 404 | 405 | 413 | 415 | 503;
  reason: ReplyReason;
  message: string;
}

export function reply(status: WebhookReply['status'], message: string): WebhookReply {
  const reason: Record<WebhookReply['status'], ReplyReason> = {
    200: 'Success',
    202: 'Accepted',
    400: 'BadRequest',
    401: 'Unauthorized',
    404: 'NotFound',
    405: 'MethodNotAllowed',
    413: 'RequestEntityTooLarge',
    415: 'UnsupportedMediaType',
    503: 'ServiceUnavailable',
  };
  return { status, reason: reason[status], message };
}

/**
 * A reply as a Kubernetes `Status` object, the body OpenShift answers webhooks with
 * (a 200 with a message is its "warning": Status{status: Success, code: 200}).
 */
export function toStatusObject(r: WebhookReply): StatusObject {
  return statusObject({ code: r.status, message: r.message, reason: r.status < 300 ? undefined : r.reason });
}

/** For adapters that see `Content-Length` before the body: true when it is over the limit. */
export function contentLengthExceedsLimit(
  contentLength: string | undefined,
  limit = MAX_WEBHOOK_BODY_BYTES,
): boolean {
  if (contentLength === undefined || !/^\d+$/.test(contentLength.trim())) return false;
  return Number(contentLength) > limit;
}

export function tooLarge(limit = MAX_WEBHOOK_BODY_BYTES): WebhookReply {
  return reply(413, `the payload is larger than ${limit} bytes`);
}

export function checkMethod(request: WebhookRequest): WebhookReply | undefined {
  if (request.method !== undefined && request.method.toUpperCase() !== 'POST') {
    return reply(405, `${request.method.toUpperCase()} is not allowed on a webhook; use POST`);
  }
  return undefined;
}

export type MediaType = { ok: true; type: string } | { ok: false; message: string };

const JSON_TYPE: MediaType = Object.freeze({ ok: true, type: 'application/json' });

/** `application/json; charset=utf-8` → `application/json`; an empty header is `''`. */
export function mediaTypeOf(header: string | undefined): MediaType {
  // What every forge sends, answered without splitting and matching it.
  if (header === 'application/json') return JSON_TYPE;
  if (header === undefined || header.trim() === '') return { ok: true, type: '' };
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) {
    return { ok: false, message: `non-parseable Content-Type ${JSON.stringify(header)}` };
  }
  return { ok: true, type };
}

/** JSON types: `application/json` and `application/*+json` (Distribution's events type is one). */
export function isJsonMediaType(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: WebhookReply };

/**
 * Parses a JSON body; a syntax error is a 400 that quotes the parser, and so is nesting
 * past the depth limit (src/core/untrusted-input.ts), which no real payload comes near.
 */
export function parseJsonBody(rawBody: Buffer): Parsed<unknown> {
  try {
    return { ok: true, value: parseJsonText(rawBody.toString('utf8'), { what: 'the payload' }) };
  } catch (err) {
    return { ok: false, reply: reply(400, errorMessage(err)) };
  }
}

// Defensive readers: payloads come from outside and may have any shape; a missing or
// mistyped field must become a 400 or a default, never a TypeError.
export type Json = Record<string, unknown>;
export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
export function strings(v: unknown): string[] {
  return arr(v).filter((x): x is string => typeof x === 'string');
}
