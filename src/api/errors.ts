/** The one error middleware: named errors become Kubernetes `Status` objects. */
import type { ErrorRequestHandler, Response } from 'express';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  InputError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnavailableError,
} from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { statusObject, type StatusObject } from '../core/status.js';

export function sendStatus(
  res: Response,
  code: number,
  reason: string,
  message: string,
  details?: StatusObject['details'],
): void {
  res.status(code).json(statusObject({ code, reason, message, details }));
}

/**
 * ioredis' own failures when the connection is gone: the retries ran out, the
 * connection closed under a command, or the offline queue is off.
 */
export function isRedisConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /^(Connection is closed|Stream isn't writeable|Command timed out)|enableOfflineQueue|ECONNREFUSED|ECONNRESET/.test(
      err.message,
    )
  );
}

const REDIS_UNAVAILABLE = 'Redis is not answering; try again once it is back';

/**
 * The Status object an error is answered with: named errors by their kind, a lost Redis
 * as 503, anything else as a 500 that says no more than that (the log has the details).
 * Shared by the error middleware and the webhook endpoints, which answer outside express.
 */
export function errorStatus(
  err: unknown,
  logger: Logger,
  options: { redisConnected?: () => boolean } = {},
): StatusObject {
  const status = (code: number, reason: string, message: string, details?: StatusObject['details']) =>
    statusObject({ code, reason, message, details });
  const e = err as Error & { status?: number; type?: string };
  if (err instanceof InputError) {
    const reason = err.code === 400 ? 'BadRequest' : 'Invalid';
    const causes = err.causes.map((c) => ({
      field: c.field,
      message: c.message,
      reason: 'FieldValueInvalid',
    }));
    return status(err.code, reason, err.message, causes.length ? { causes } : undefined);
  }
  if (err instanceof NotFoundError) return status(404, 'NotFound', err.message);
  if (err instanceof AlreadyExistsError) return status(409, 'AlreadyExists', err.message);
  if (err instanceof ConflictError) return status(409, 'Conflict', err.message);
  if (err instanceof UnauthorizedError) return status(401, 'Unauthorized', err.message);
  if (err instanceof ForbiddenError) return status(403, 'Forbidden', err.message);
  if (err instanceof MethodNotAllowedError) return status(405, 'MethodNotAllowed', err.message);
  if (err instanceof PayloadTooLargeError) return status(413, 'RequestEntityTooLarge', err.message);
  if (e.type === 'entity.too.large')
    return status(413, 'RequestEntityTooLarge', 'the request body is too large');
  if (err instanceof UnavailableError) return status(503, 'ServiceUnavailable', err.message);
  // A request that failed because Redis went away mid-way is the same 503, not a bug.
  if (isRedisConnectionError(err) || (options.redisConnected && !options.redisConnected()))
    return status(503, 'ServiceUnavailable', REDIS_UNAVAILABLE);
  if (e.type === 'entity.parse.failed')
    return status(400, 'BadRequest', `the request body is not valid JSON: ${e.message}`);
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return status(e.status, 'BadRequest', e.message);
  logger.error({ err }, 'unhandled error in request');
  return status(500, 'InternalError', 'an internal error occurred; the server log has the details');
}

export function errorMiddleware(
  logger: Logger,
  options: { redisConnected?: () => boolean } = {},
): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    const status = errorStatus(err, logger, options);
    res.status(status.code).json(status);
  };
}
