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

export function errorMiddleware(
  logger: Logger,
  options: { redisConnected?: () => boolean } = {},
): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (res.headersSent) {
      res.end();
      return;
    }
    const e = err as Error & { status?: number; type?: string };
    if (err instanceof InputError) {
      const reason = err.code === 400 ? 'BadRequest' : 'Invalid';
      const causes = err.causes.map((c) => ({
        field: c.field,
        message: c.message,
        reason: 'FieldValueInvalid',
      }));
      return sendStatus(res, err.code, reason, err.message, causes.length ? { causes } : undefined);
    }
    if (err instanceof NotFoundError) return sendStatus(res, 404, 'NotFound', err.message);
    if (err instanceof AlreadyExistsError) return sendStatus(res, 409, 'AlreadyExists', err.message);
    if (err instanceof ConflictError) return sendStatus(res, 409, 'Conflict', err.message);
    if (err instanceof UnauthorizedError) return sendStatus(res, 401, 'Unauthorized', err.message);
    if (err instanceof ForbiddenError) return sendStatus(res, 403, 'Forbidden', err.message);
    if (err instanceof MethodNotAllowedError) return sendStatus(res, 405, 'MethodNotAllowed', err.message);
    if (err instanceof PayloadTooLargeError)
      return sendStatus(res, 413, 'RequestEntityTooLarge', err.message);
    if (e.type === 'entity.too.large')
      return sendStatus(res, 413, 'RequestEntityTooLarge', 'the request body is too large');
    if (err instanceof UnavailableError) return sendStatus(res, 503, 'ServiceUnavailable', err.message);
    // A request that failed because Redis went away mid-way is the same 503, not a bug.
    if (isRedisConnectionError(err) || (options.redisConnected && !options.redisConnected()))
      return sendStatus(res, 503, 'ServiceUnavailable', REDIS_UNAVAILABLE);
    if (e.type === 'entity.parse.failed')
      return sendStatus(res, 400, 'BadRequest', `the request body is not valid JSON: ${e.message}`);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      return sendStatus(res, e.status, 'BadRequest', e.message);
    logger.error({ err }, 'unhandled error in request');
    return sendStatus(
      res,
      500,
      'InternalError',
      'an internal error occurred; the server log has the details',
    );
  };
}
