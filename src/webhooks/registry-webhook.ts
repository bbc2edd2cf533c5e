/**
 * `POST /webhooks/registry`: Distribution's notification envelopes
 * (https://distribution.github.io/distribution/about/notifications/). The registry
 * sends the bearer token from its `notifications.endpoints[].headers` and retries each
 * envelope until it gets a 2xx, so everything that is not an error is answered 200,
 * including events Slipway ignores.
 *
 * Kept: manifest pushes that carry a tag, on repositories named `namespace/stream`
 * (how Slipway lays out ImageStreams in its registry). Ignored: pulls, blob events,
 * deletes, digest-only pushes, and repositories of another shape.
 */
import {
  arr,
  checkMethod,
  isJsonMediaType,
  MAX_WEBHOOK_BODY_BYTES,
  mediaTypeOf,
  obj,
  parseJsonBody,
  reply,
  str,
  tooLarge,
} from './request.js';
import type { WebhookReply, WebhookRequest } from './request.js';
import { secretsEqual } from './signatures.js';

export const DISTRIBUTION_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** Manifest media types (Docker v2 schema 1/2, manifest lists, OCI manifests and indexes). */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

/** A tag in the registry now points at a manifest. */
export interface ImagePushEvent {
  /** The registry's event id; claim `deliveryId` so a retried envelope acts once. */
  id: string;
  deliveryId: string;
  /** `namespace/stream`. */
  repository: string;
  namespace: string;
  stream: string;
  tag: string;
  /** `sha256:…` */
  digest: string;
  mediaType: string;
  /** The registry as the pusher addressed it (`127.0.0.1:5000`). */
  registryHost: string;
  /** `{registryHost}/{namespace}/{stream}@{digest}`. */
  dockerImageReference: string;
  /** The registry's URL of the manifest. */
  url?: string;
  timestamp?: string;
}

export interface IgnoredRegistryEvent {
  id: string;
  reason: string;
}

export type RegistryWebhookResult =
  | { action: 'images'; events: ImagePushEvent[]; ignored: IgnoredRegistryEvent[]; reply: WebhookReply }
  | { action: 'reply'; reply: WebhookReply };

const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

function isManifestEvent(target: Record<string, unknown>): boolean {
  const mediaType = str(target.mediaType) ?? '';
  if (MANIFEST_MEDIA_TYPES.has(mediaType)) return true;
  // Older registries report some manifests with a generic type; the URL still says.
  return /\/manifests\//.test(str(target.url) ?? '');
}

/** The host of the registry as its client addressed it: request.host, else the target URL's host. */
function registryHostOf(event: Record<string, unknown>, target: Record<string, unknown>): string | undefined {
  const requestHost = str(obj(event.request)?.host);
  if (requestHost) return requestHost;
  const url = str(target.url);
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

/**
 * Handles one notification envelope. `token` is SLIPWAY_REGISTRY_NOTIFY_TOKEN; with no
 * token configured every notification is refused (fail closed).
 */
export function handleRegistryNotification(input: {
  request: WebhookRequest;
  token: string | undefined;
}): RegistryWebhookResult {
  const { request } = input;
  const answer = (r: WebhookReply): RegistryWebhookResult => ({ action: 'reply', reply: r });
  const methodError = checkMethod(request);
  if (methodError) return answer(methodError);
  if (request.rawBody.length > MAX_WEBHOOK_BODY_BYTES) return answer(tooLarge());

  if (!input.token) {
    return answer(
      reply(
        401,
        'registry notifications are disabled: set SLIPWAY_REGISTRY_NOTIFY_TOKEN and send it as a bearer token',
      ),
    );
  }
  const auth = request.getHeader('authorization') ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (!m || !secretsEqual(input.token, m[1]!.trim())) {
    return answer(
      reply(
        401,
        'missing or wrong bearer token: configure the registry endpoint with headers: {Authorization: [Bearer TOKEN]}',
      ),
    );
  }

  const ct = mediaTypeOf(request.getHeader('content-type'));
  if (!ct.ok) return answer(reply(400, ct.message));
  if (!isJsonMediaType(ct.type)) {
    return answer(
      reply(
        400,
        `unsupported Content-Type ${JSON.stringify(ct.type)}; expected ${DISTRIBUTION_EVENTS_MEDIA_TYPE}`,
      ),
    );
  }
  const body = parseJsonBody(request.rawBody);
  if (!body.ok) return answer(body.reply);
  const envelope = obj(body.value);
  if (!envelope || !Array.isArray(envelope.events)) {
    return answer(reply(400, 'the payload is not a notification envelope: it has no "events" array'));
  }

  const events: ImagePushEvent[] = [];
  const ignored: IgnoredRegistryEvent[] = [];
  arr(envelope.events).forEach((raw, i) => {
    const event = obj(raw);
    const id = str(event?.id) ?? `#${i}`;
    const skip = (reason: string): void => void ignored.push({ id, reason });
    if (!event) return skip('not an object');
    const action = str(event.action);
    if (action !== 'push') return skip(`action ${action ?? '(none)'} is not a push`);
    const target = obj(event.target);
    if (!target || !isManifestEvent(target)) return skip('not a manifest (a blob or layer)');
    const tag = str(target.tag);
    if (!tag) return skip('a push by digest updates no tag');
    const repository = str(target.repository) ?? '';
    const parts = repository.split('/');
    if (parts.length !== 2 || !parts.every((p) => PATH_COMPONENT.test(p))) {
      return skip(`repository ${JSON.stringify(repository)} is not namespace/imagestream`);
    }
    const digest = str(target.digest);
    if (!digest || !DIGEST.test(digest)) return skip('no digest');
    const host = registryHostOf(event, target);
    if (!host) return skip('the event names no registry host');
    const out: ImagePushEvent = {
      id,
      deliveryId: `registry:${id}`,
      repository,
      namespace: parts[0]!,
      stream: parts[1]!,
      tag,
      digest,
      mediaType: str(target.mediaType) ?? '',
      registryHost: host,
      dockerImageReference: `${host}/${repository}@${digest}`,
    };
    const url = str(target.url);
    if (url) out.url = url;
    const timestamp = str(event.timestamp);
    if (timestamp) out.timestamp = timestamp;
    events.push(out);
  });
  return {
    action: 'images',
    events,
    ignored,
    reply: reply(200, `${events.length} tag update(s) accepted, ${ignored.length} event(s) ignored`),
  };
}
