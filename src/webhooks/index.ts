/** The webhook receivers' public face: what the HTTP server wires up (see docs/webhooks.md). */
export {
  handleBuildConfigWebhook,
  rejectedSecretMessage,
  WEBHOOK_TYPES,
  type BuildConfigWebhookInput,
  type BuildConfigWebhookResult,
} from './buildconfig-webhook.js';
export {
  createGitHubOrgReceiver,
  type GitHubOrgReceiver,
  type GitHubOrgWebhookResult,
} from './github-org-webhook.js';
export {
  DISTRIBUTION_EVENTS_MEDIA_TYPE,
  handleRegistryNotification,
  type ImagePushEvent,
  type RegistryWebhookResult,
} from './registry-webhook.js';
export {
  contentLengthExceedsLimit,
  MAX_WEBHOOK_BODY_BYTES,
  toStatusObject,
  type WebhookReply,
  type WebhookRequest,
} from './request.js';
export { WEBHOOK_SECRET_KEY, type GetSecret } from './trigger-secrets.js';
