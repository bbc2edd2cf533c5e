/**
 * A Python package index for builds that cannot reach PyPI: wheels written here (a
 * wheel is a zip with a `.dist-info` folder: METADATA, WHEEL, RECORD) and served in the
 * PEP 503 "simple" layout on the Docker bridge's gateway address, the host's side of
 * the network that build containers run on. Builds find it through PIP_INDEX_URL.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { crc32 } from 'node:zlib';
import type Docker from 'dockerode';

export interface WheelSpec {
  /** The distribution name as written in requirements: `greeting-lib`. */
  name: string;
  version: string;
  /** Files inside the wheel, by path: `greeting_lib/__init__.py`. */
  files: Record<string, string>;
  requires?: string[];
  /** The `[console_scripts]` entries: `{gunicorn: 'gunicorn:main'}`. */
  scripts?: Record<string, string>;
}

export interface Wheel {
  /** PEP 503's normalized project name. */
  project: string;
  filename: string;
  data: Buffer;
}

/** PEP 503: runs of -, _ and . become one -, lower-cased. */
export function normalizeProject(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A pure-Python `py3-none-any` wheel with the given files and metadata. */
export function makeWheel(spec: WheelSpec): Wheel {
  const stem = `${spec.name.replace(/[-_.]+/g, '_')}-${spec.version}`;
  const info = `${stem}.dist-info`;
  const files: [string, Buffer][] = Object.entries(spec.files).map(([p, c]) => [p, Buffer.from(c)]);
  const metadata = [
    'Metadata-Version: 2.1',
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    ...(spec.requires ?? []).map((r) => `Requires-Dist: ${r}`),
    '',
  ].join('\n');
  files.push([`${info}/METADATA`, Buffer.from(metadata)]);
  files.push([
    `${info}/WHEEL`,
    Buffer.from('Wheel-Version: 1.0\nGenerator: slipway-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n'),
  ]);
  if (spec.scripts) {
    const lines = Object.entries(spec.scripts).map(([k, v]) => `${k} = ${v}`);
    files.push([`${info}/entry_points.txt`, Buffer.from(`[console_scripts]\n${lines.join('\n')}\n`)]);
  }
  const record = files.map(([p, data]) => `${p},sha256=${sha256(data, 'base64url')},${data.length}`);
  files.push([`${info}/RECORD`, Buffer.from([...record, `${info}/RECORD,,`, ''].join('\n'))]);
  return {
    project: normalizeProject(spec.name),
    filename: `${stem}-py3-none-any.whl`,
    data: zipStored(files),
  };
}

function sha256(data: Buffer, encoding: 'hex' | 'base64url'): string {
  return createHash('sha256').update(data).digest(encoding);
}

/** A zip archive of uncompressed ("stored") entries: all a wheel needs. */
function zipStored(entries: [string, Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const dosDate = (1 << 5) | 1; // 1980-01-01, the earliest date a zip can hold
  let offset = 0;
  for (const [path, data] of entries) {
    const name = Buffer.from(path);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export interface PackageIndex {
  /** `http://GATEWAY:PORT/simple/`, for PIP_INDEX_URL. */
  url: string;
  /** `GATEWAY:PORT`, for PIP_TRUSTED_HOST: pip refuses a plain-HTTP index otherwise. */
  trustedHost: string;
  /** Every path requested, in order. */
  requests: string[];
  stop(): Promise<void>;
}

/** The IPv4 gateway of Docker's default bridge: where build containers reach the host. */
export async function bridgeGateway(docker: Docker): Promise<string> {
  const info = (await docker.getNetwork('bridge').inspect()) as {
    IPAM?: { Config?: { Gateway?: string }[] };
  };
  const gateway = info.IPAM?.Config?.find((c) => c.Gateway && !c.Gateway.includes(':'))?.Gateway;
  if (!gateway)
    throw new Error("Docker's bridge network has no IPv4 gateway for builds to reach the host on");
  return gateway;
}

/** Serves `wheels` as a PEP 503 simple index on the bridge gateway, on a free port. */
export async function servePackageIndex(docker: Docker, wheels: Wheel[]): Promise<PackageIndex> {
  const host = await bridgeGateway(docker);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://index').pathname;
    requests.push(path);
    const project = /^\/simple\/([^/]+)\/$/.exec(path)?.[1];
    if (project !== undefined) {
      const found = wheels.filter((w) => w.project === normalizeProject(project));
      if (found.length === 0) return void res.writeHead(404).end('no such project\n');
      const links = found.map(
        (w) => `<a href="/files/${w.filename}#sha256=${sha256(w.data, 'hex')}">${w.filename}</a><br>`,
      );
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end(`<!DOCTYPE html><html><body>\n${links.join('\n')}\n</body></html>\n`);
    }
    const file = wheels.find((w) => path === `/files/${w.filename}`);
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.data.length });
      return void res.end(file.data);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host}:${port}/simple/`,
    trustedHost: `${host}:${port}`,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
