/**
 * Unpacks a binary build input into the source directory: a tar archive (gzip or
 * not), or with `asFile` a single file written under that name, as OpenShift does.
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-fs';
import { BuildFailure, errorMessage } from '../../core/errors.js';

export async function unpackBinarySource(options: {
  data: Buffer;
  dir: string;
  asFile?: string | undefined;
  log: (line: string) => void;
}): Promise<void> {
  const { data, dir, asFile, log } = options;
  if (asFile) {
    const name = basename(asFile);
    writeFileSync(join(dir, name), data);
    log(`Received ${data.length} bytes as file ${name}`);
    return;
  }
  const gzipped = data[0] === 0x1f && data[1] === 0x8b;
  try {
    const source = Readable.from([data]);
    const extract = tar.extract(dir, {
      // Archives may not write outside the source directory or carry device files.
      ignore: (_name, header) =>
        header?.type !== 'file' && header?.type !== 'directory' && header?.type !== 'symlink',
    });
    if (gzipped) await pipeline(source, createGunzip(), extract);
    else await pipeline(source, extract);
  } catch (err) {
    throw new BuildFailure(
      'FetchSourceFailed',
      `the binary input is not a readable tar archive: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  log(`Extracted binary input (${data.length} bytes${gzipped ? ', gzip' : ''})`);
}
