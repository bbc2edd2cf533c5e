/**
 * The few container operations every S2I step (and the postCommit hook) is made of,
 * over dockerode: create-and-always-remove, run to completion while streaming output
 * line by line, stop on cancellation, and read or stat files in a container.
 */
import type { Writable } from 'node:stream';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { BuildCancelled, errorMessage } from '../../core/errors.js';

export function throwIfCancelled(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new BuildCancelled(`build cancelled ${what}`);
}

/**
 * Creates a container, hands it to `use`, and removes it afterwards whatever happens
 * (`force` also stops it when `use` was interrupted while it ran).
 */
export async function withContainer<T>(
  docker: Docker,
  options: Docker.ContainerCreateOptions,
  use: (container: Docker.Container) => Promise<T>,
  onCleanupError?: (message: string) => void,
): Promise<T> {
  const container = await docker.createContainer(options);
  try {
    return await use(container);
  } finally {
    try {
      await container.remove({ force: true, v: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) {
        onCleanupError?.(
          `warning: could not remove container ${container.id.slice(0, 12)}: ${errorMessage(err)}`,
        );
      }
    }
  }
}

/** Splits a byte stream into lines (without the newline; a trailing `\r` dropped). */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder();
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
  end(): void {
    const text = this.rest + this.decoder.decode();
    this.rest = '';
    if (text) this.onLine(text.endsWith('\r') ? text.slice(0, -1) : text);
  }
}

/** The last `size` lines seen, for `status.logSnippet`. */
export class TailBuffer {
  private readonly lines: string[] = [];
  constructor(private readonly size = 20) {}
  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
  last(): string {
    return this.lines[this.lines.length - 1] ?? '';
  }
}

export interface RunOptions {
  docker: Docker;
  signal: AbortSignal;
  /** For the cancellation message: "while running assemble". */
  what: string;
  /** Each line of stdout, when stdout is text. */
  onStdoutLine?: (line: string) => void;
  /** Raw stdout (save-artifacts' tar stream); ended when the container's output ends. */
  stdout?: Writable;
  /** Each line of stderr. */
  onStderrLine?: (line: string) => void;
}

/**
 * Attaches to a created container, starts it and waits for it to exit, streaming its
 * output as it comes. Returns the exit code. When `signal` aborts, the container is
 * killed and BuildCancelled is thrown (the caller's withContainer removes it).
 */
export async function runToCompletion(container: Docker.Container, options: RunOptions): Promise<number> {
  const { docker, signal } = options;
  throwIfCancelled(signal, options.what);

  const attached = (await container.attach({
    stream: true,
    stdout: true,
    stderr: true,
  })) as NodeJS.ReadableStream;
  const outLines = options.onStdoutLine ? new LineSplitter(options.onStdoutLine) : undefined;
  const errLines = new LineSplitter(options.onStderrLine ?? (() => undefined));
  // demuxStream only calls write(); handling each frame synchronously keeps stdout and
  // stderr lines in the order the engine sent them.
  const stdoutSink = {
    write: (chunk: Buffer): boolean =>
      options.stdout ? options.stdout.write(chunk) : (outLines?.push(chunk), true),
  };
  const stderrSink = { write: (chunk: Buffer): boolean => (errLines.push(chunk), true) };
  docker.modem.demuxStream(attached, stdoutSink as unknown as Writable, stderrSink as unknown as Writable);
  const outputEnded = new Promise<void>((resolve) => {
    attached.on('end', resolve);
    attached.on('close', resolve);
    attached.on('error', () => resolve());
  });

  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new BuildCancelled(`build cancelled ${options.what}`));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Raced below; without a handler, an abort between the races would be unhandled.
  aborted.catch(() => undefined);
  try {
    await Promise.race([container.start(), aborted]);
    const result = (await Promise.race([container.wait(), aborted])) as { StatusCode: number };
    // The engine may report the exit before the last output frames arrive.
    await Promise.race([outputEnded, new Promise((r) => setTimeout(r, 5000).unref())]);
    return result.StatusCode;
  } catch (err) {
    if (err instanceof BuildCancelled) {
      await container.kill().catch(() => undefined);
      (attached as unknown as { destroy?: () => void }).destroy?.();
    }
    throw err;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    outLines?.end();
    errLines.end();
    options.stdout?.end();
  }
}

/** A path's stat inside a container (HEAD /archive), or undefined when it does not exist. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  linkTarget: string;
}

/** Go's os.FileMode bits as the engine reports them. */
const GoModeDir = 2 ** 31;
const GoModeSymlink = 2 ** 27;

export function isDirectory(stat: PathStat): boolean {
  return stat.mode >= GoModeDir;
}

export function isExecutableFile(stat: PathStat): boolean {
  if (stat.linkTarget || Math.floor(stat.mode / GoModeSymlink) % 2 === 1) return true; // cannot tell through a link
  return !isDirectory(stat) && (stat.mode & 0o111) !== 0;
}

export async function statPath(container: Docker.Container, path: string): Promise<PathStat | undefined> {
  try {
    const res = (await container.infoArchive({ path })) as unknown as {
      headers: Record<string, string | undefined>;
      resume?: () => void;
    };
    res.resume?.();
    const header = res.headers['x-docker-container-path-stat'];
    if (!header) return undefined;
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

/**
 * Reads one regular file from a container (created or stopped), or undefined when it
 * does not exist. Meant for small files: /etc/passwd, image_metadata.json.
 */
export async function readContainerFile(
  container: Docker.Container,
  path: string,
  maxBytes = 4 * 1024 * 1024,
): Promise<Buffer | undefined> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = (await container.getArchive({ path })) as NodeJS.ReadableStream;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
  return new Promise((resolve, reject) => {
    const extract = tarStream.extract();
    let content: Buffer | undefined;
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (data: unknown) => {
        const c = data as Buffer;
        size += c.length;
        if (size <= maxBytes) chunks.push(c);
      });
      stream.on('end', () => {
        if (content === undefined && header.type === 'file') {
          if (size > maxBytes) {
            reject(new Error(`${path} is larger than ${maxBytes} bytes`));
            return;
          }
          content = Buffer.concat(chunks);
        }
        next();
      });
      stream.resume();
    });
    extract.on('finish', () => resolve(content));
    extract.on('error', reject);
    archive.on('error', reject);
    archive.pipe(extract);
  });
}
