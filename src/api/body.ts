/**
 * The API's one body reader: JSON (`application/json`, `application/*+json`, merge
 * patches included) and YAML (`application/yaml`, `application/x-yaml`, `text/yaml`).
 * Both share one size limit, read as bytes before anything parses them, and one set of
 * shape limits (src/core/untrusted-input.ts). Every failure is a named error the error
 * middleware turns into a 400 or 413 Status; nothing is thrown where express cannot
 * catch it. Other content types leave `req.body` undefined (the routes then see no body).
 */
import express, { type RequestHandler } from 'express';
import { InputError, PayloadTooLargeError } from '../core/errors.js';
import { MAX_YAML_BYTES, parseJsonText, parseYamlText, quoteInput } from '../core/untrusted-input.js';

/** Every body; a manifest of 5 MiB is already far past any real one. YAML has a smaller one. */
export const MAX_API_BODY_BYTES = 5 * 1024 * 1024;

export function isJsonContentType(header: string): boolean {
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

export function isYamlContentType(header: string): boolean {
  const type = header.split(';', 1)[0]!.trim().toLowerCase();
  return /^(application|text)\/(x-)?yaml$/.test(type);
}

/**
 * Parses a request body's bytes by its content type; InputError (400) when it cannot,
 * PayloadTooLargeError (413) for YAML over its own, smaller limit (MAX_YAML_BYTES).
 */
export function parseBody(raw: Buffer, contentType: string): unknown {
  if (isJsonContentType(contentType)) {
    const text = raw.toString('utf8');
    return text.trim() === '' ? undefined : parseJsonText(text, { what: 'the request body' });
  }
  if (raw.length > MAX_YAML_BYTES) {
    throw new PayloadTooLargeError(
      `the YAML request body is larger than the limit of ${MAX_YAML_BYTES} bytes (${MAX_YAML_BYTES / 1024} KiB) for YAML; send JSON (limit ${MAX_API_BODY_BYTES} bytes) instead`,
    );
  }
  const text = raw.toString('utf8');
  return text.trim() === '' ? undefined : parseYamlText(text, { what: 'the request body' });
}

export function tooLargeError(limit = MAX_API_BODY_BYTES): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `the request body is larger than the limit of ${limit} bytes (${limit / 1024 / 1024} MiB)`,
  );
}

/**
 * Express middleware. `skip` names requests whose routes read the body themselves
 * (binary uploads have their own, larger limit).
 */
export function apiBody(options: { limit?: number; skip?: (path: string) => boolean } = {}): RequestHandler {
  const limit = options.limit ?? MAX_API_BODY_BYTES;
  const raw = express.raw({
    limit,
    type: (req) => {
      const type = req.headers['content-type'] ?? '';
      return isJsonContentType(type) || isYamlContentType(type);
    },
  });
  return (req, res, next) => {
    if (options.skip?.(req.path)) return next();
    raw(req, res, (err?: unknown) => {
      if (err) {
        const e = err as { type?: string; message?: string };
        if (e.type === 'entity.too.large') return next(tooLargeError(limit));
        return next(
          new InputError(`the request body could not be read: ${e.message ?? String(err)}`, { code: 400 }),
        );
      }
      if (!Buffer.isBuffer(req.body)) {
        req.body = undefined;
        return next();
      }
      try {
        req.body = parseBody(req.body, req.headers['content-type'] ?? '');
        next();
      } catch (parseErr) {
        next(parseErr);
      }
    });
  };
}

/**
 * Every query parameter of the API is a single value: `?labelSelector=a&labelSelector=b`
 * is a 400 naming the parameter, so routes can read `req.query` values as strings.
 */
export const singleQueryValues: RequestHandler = (req, _res, next) => {
  for (const [name, value] of Object.entries(req.query)) {
    if (typeof value !== 'string') {
      return next(
        new InputError(`the query parameter "${name}" is given more than once; give it once`, {
          code: 400,
          causes: [{ field: name, message: 'must be given once' }],
        }),
      );
    }
  }
  next();
};

/**
 * A request body that must be one object of `kind` (its `kind` may be left out): a 400
 * naming the problem otherwise. An empty body is `{}` unless `required`.
 */
export function requestBody(
  body: unknown,
  kind: string,
  options: { required?: boolean } = {},
): Record<string, unknown> {
  if ((body === undefined || body === null || body === '') && !options.required) return {};
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InputError(`a ${kind} must be an object`, { code: 400 });
  const b = body as Record<string, unknown>;
  if (b.kind !== undefined && b.kind !== kind)
    throw new InputError(`kind ${quoteInput(b.kind)} is not ${kind}`, {
      code: 400,
      causes: [{ field: 'kind', message: `must be ${kind}` }],
    });
  return b;
}
