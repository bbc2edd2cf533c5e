/** The CLI's HTTP client for Slipway's API: errors come back as Kubernetes Status messages. */
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
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.options.server), {
        method,
        headers,
        ...(body !== undefined
          ? {
              body:
                typeof body === 'string' || body instanceof Uint8Array
                  ? (body as string)
                  : JSON.stringify(body),
            }
          : {}),
      });
    } catch (err) {
      throw new ApiError(
        0,
        `cannot reach the Slipway server at ${this.options.server}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    if (!res.ok) {
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
