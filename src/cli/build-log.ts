/** Following a build's log from the CLI, and the exit code its end phase gives. */
import { lookupKind, resourcePath, type Resource } from '../core/resource.js';
import type { SlipwayClient } from './client.js';

const BUILD = lookupKind('build.openshift.io/v1', 'Build')!;
const ENDED = ['Complete', 'Failed', 'Error', 'Cancelled'];

/** Prints the log as it happens; answers the Build once it has ended (or after ~10 s more). */
export async function followBuildLog(c: SlipwayClient, namespace: string, name: string): Promise<Resource> {
  const res = await c.request('GET', `${resourcePath(BUILD, namespace, name)}/log?follow=true`);
  const decoder = new TextDecoder();
  for await (const chunk of res.body) process.stdout.write(decoder.decode(chunk, { stream: true }));
  // The log closes when the build ends; its phase decides the exit code.
  for (let i = 0; i < 50; i++) {
    const build = await c.json('GET', resourcePath(BUILD, namespace, name));
    const phase = (build.status as { phase?: string } | undefined)?.phase;
    if (phase && ENDED.includes(phase)) return build;
    await new Promise((r) => setTimeout(r, 200));
  }
  return c.json('GET', resourcePath(BUILD, namespace, name));
}

/** Waits for the build's end by following its log without printing it. */
export async function followBuildLogQuietly(
  c: SlipwayClient,
  namespace: string,
  name: string,
): Promise<Resource> {
  const res = await c.request('GET', `${resourcePath(BUILD, namespace, name)}/log?follow=true`);
  await res.text();
  return c.json('GET', resourcePath(BUILD, namespace, name));
}

/** A build that did not end Complete makes the command exit 1, with its phase and reason. */
export function exitForBuild(build: Resource): void {
  const s = (build.status ?? {}) as { phase?: string; reason?: string; message?: string };
  if (s.phase !== 'Complete') {
    process.stderr.write(
      `error: build ${build.metadata.name} ended ${s.phase}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}\n`,
    );
    process.exitCode = 1;
  }
}
