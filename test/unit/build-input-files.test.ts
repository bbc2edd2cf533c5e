/**
 * Where an S2I build's input Secrets and ConfigMaps go in the assemble container, and
 * which files are emptied after assemble (pure: the archive entries).
 */
import { expect, test } from '@jest/globals';
import { inputDirectory, inputFileEntries } from '../../src/builders/source/input-files.js';

test("destinationDir is relative to the image's working directory; '' is that directory; absolute stays", () => {
  expect(inputDirectory('/opt/app-root/src', '')).toBe('/opt/app-root/src');
  expect(inputDirectory('/opt/app-root/src', 'creds/npm')).toBe('/opt/app-root/src/creds/npm');
  expect(inputDirectory('/opt/app-root/src', '/etc/app')).toBe('/etc/app');
  // An image without WORKDIR works in `/`.
  expect(inputDirectory('', 'creds')).toBe('/creds');
});

test('every file goes in world-writable; only the Secrets are truncated afterwards', () => {
  const { files, truncate } = inputFileEntries(
    [
      {
        kind: 'Secret',
        name: 's',
        destinationDir: 'creds',
        files: [{ name: 'token', content: Buffer.from('t0ken') }],
      },
      {
        kind: 'ConfigMap',
        name: 'c',
        destinationDir: '/etc/app',
        files: [{ name: 'settings.txt', content: Buffer.from('colour=blue') }],
      },
    ],
    '/opt/app',
  );
  expect(files.map((f) => [f.name, f.content?.toString(), f.mode])).toEqual([
    ['opt/app/creds/token', 't0ken', 0o666],
    ['etc/app/settings.txt', 'colour=blue', 0o666],
  ]);
  expect(truncate.map((f) => [f.name, f.content?.length])).toEqual([['opt/app/creds/token', 0]]);
});
