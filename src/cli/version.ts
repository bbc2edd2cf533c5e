/** Slipway's version, from package.json: read when asked, not at every start. */
import { readFileSync } from 'node:fs';

export function slipwayVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
