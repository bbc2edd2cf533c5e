/** Where the CLI keeps the server URL and token `slipway up` made (mode 0600). */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliCredentials {
  server: string;
  token: string;
}

export function credentialsPath(): string {
  return process.env.SLIPWAY_CREDENTIALS ?? join(homedir(), '.config', 'slipway', 'credentials.json');
}

export function readCredentials(): CliCredentials | undefined {
  try {
    return JSON.parse(readFileSync(credentialsPath(), 'utf8')) as CliCredentials;
  } catch {
    return undefined;
  }
}

export function writeCredentials(creds: CliCredentials): void {
  const path = credentialsPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
}

/** The CLI's current project (`slipway project NAME`), kept beside the credentials. */
export function currentProjectPath(): string {
  return join(dirname(credentialsPath()), 'project');
}

export function readCurrentProject(): string | undefined {
  try {
    const name = readFileSync(currentProjectPath(), 'utf8').trim();
    return name || undefined;
  } catch {
    return undefined;
  }
}

export function writeCurrentProject(name: string): void {
  const path = currentProjectPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${name}\n`, { mode: 0o600 });
}
