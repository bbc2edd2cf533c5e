/**
 * `slipway tag SOURCE DEST…` as `oc tag`: points each destination ImageStreamTag at the
 * image SOURCE names, in the current project. SOURCE is `stream:tag`, `stream@sha256:…`,
 * or with `--source=docker` an image reference by digest. The server records the image
 * in each destination's history and fires its ImageChange triggers.
 */
import { Option, type Command } from 'commander';
import { ApiError, type SlipwayClient } from './client.js';

const SOURCE_KINDS = { istag: 'ImageStreamTag', isimage: 'ImageStreamImage', docker: 'DockerImage' } as const;

/** The kind `oc tag` would read SOURCE as, when --source is not given. */
export function sourceKind(source: string, given?: keyof typeof SOURCE_KINDS): string {
  if (given) return SOURCE_KINDS[given];
  if (/@sha256:/.test(source)) return source.includes('/') ? 'DockerImage' : 'ImageStreamImage';
  return 'ImageStreamTag';
}

export function registerTagCommands(program: Command, client: () => SlipwayClient, ns: () => string): void {
  program
    .command('tag')
    .description('point image stream tags at the image another tag (or digest) has; fires their triggers')
    .argument('<source>', 'stream:tag, stream@sha256:…, or (with --source=docker) REPOSITORY@sha256:…')
    .argument('<dest...>', 'stream:tag to point at it (the stream is made if needed)')
    .addOption(new Option('--source <kind>', 'how to read SOURCE').choices(Object.keys(SOURCE_KINDS)))
    .action(async (source: string, dests: string[], opts: { source?: keyof typeof SOURCE_KINDS }) => {
      const c = client();
      const kind = sourceKind(source, opts.source);
      const from = kind === 'ImageStreamTag' && !source.includes(':') ? `${source}:latest` : source;
      for (const dest of dests) {
        const name = dest.includes(':') ? dest : `${dest}:latest`;
        if (name.includes('/'))
          throw new ApiError(
            0,
            `error: "${dest}" must be STREAM:TAG in the current project (use -n for another)`,
          );
        const res = await c.json<{ image: { metadata: { name: string } } }>(
          'POST',
          `/apis/image.openshift.io/v1/namespaces/${encodeURIComponent(ns())}/imagestreamtags`,
          {
            kind: 'ImageStreamTag',
            apiVersion: 'image.openshift.io/v1',
            metadata: { name },
            tag: { from: { kind, name: from } },
          },
        );
        console.log(`Tag ${name} set to ${from} (${res.image.metadata.name.slice(0, 19)}).`);
      }
    });
}
