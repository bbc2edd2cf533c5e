/**
 * The CLI's HTTP client for Slipway's API: errors come back as Kubernetes Status messages.
 *
 * It speaks node:http rather than the global fetch: Node builds fetch (undici) on first
 * use, which costs a CLI verb more CPU than everything else it loads (docs/cli.md).
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { lookupKindByName, resourcePath, type KindInfo, type Resource } from '../core/resource.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  server: string;
  token?: string | undefined;
}

/** An answer of the API, read once: as text, as JSON, or chunk by chunk as it arrives. */
export interface ApiResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it arrives: a followed build log streams until the build ends. */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

function apiResponse(message: IncomingMessage): ApiResponse {
  const text = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of message) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  return {
    status: message.statusCode ?? 0,
    headers: message.headers,
    body: message,
    text,
    json: async () => JSON.parse(await text()) as unknown,
  };
}

/** One request; https loads only for an https:// server. */
async function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | Uint8Array | undefined,
): Promise<IncomingMessage> {
  const request = url.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, resolve);
    req.on('error', reject);
    req.end(body);
  });
}

export class SlipwayClient {
  constructor(private readonly options: ClientOptions) {}

  /** The server URL this client talks to. */
  get server(): string {
    return this.options.server;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResponse> {
    const url = new URL(path, this.options.server);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new ApiError(0, `error: the server URL ${this.options.server} is not http:// or https://`);
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    let res: ApiResponse;
    try {
      res = apiResponse(
        await send(
          url,
          method,
          headers,
          body === undefined || typeof body === 'string' || body instanceof Uint8Array
            ? body
            : JSON.stringify(body),
        ),
      );
    } catch (err) {
      throw new ApiError(0, `cannot reach the Slipway server at ${this.options.server}: ${String(err)}`);
    }
    if (res.status < 200 || res.status > 299) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not a Status object
      }
      throw new ApiError(res.status, `Error from server (${res.status}): ${message}`);
    }
    return res;
  }

  async json<T = Resource>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  async get(info: KindInfo, namespace: string, name: string): Promise<Resource | undefined> {
    try {
      return await this.json('GET', resourcePath(info, namespace, name));
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  async list(info: KindInfo, namespace: string | undefined, selector?: string): Promise<Resource[]> {
    const path = namespace === undefined ? `${info.prefix}/${info.plural}` : resourcePath(info, namespace);
    const q = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
    return (await this.json<{ items: Resource[] }>('GET', path + q)).items;
  }
}

/** `build/web-1`, `bc/web`, or (`builds`, `web-1`) → kind and name. */
export function parseTarget(first: string, second?: string): { info: KindInfo; name: string | undefined } {
  let word = first;
  let name = second;
  if (first.includes('/')) {
    const idx = first.indexOf('/');
    word = first.slice(0, idx);
    name = first.slice(idx + 1);
  }
  const info = lookupKindByName(word);
  if (!info) throw new ApiError(0, `error: the server doesn't have a resource type "${word}"`);
  return { info, name };
}
