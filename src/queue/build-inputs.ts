/**
 * A build's input Secrets and ConfigMaps (`spec.source.secrets`, `configMaps`), read from
 * the store for the builder: each key becomes a file in `destinationDir` (the Docker
 * strategy's context directory, or the S2I builder's working directory; see
 * src/builders/source/input-files.ts). A missing object fails the build, naming it; a
 * Secret's values are masked in the build log from here on.
 */
import type { BuildSpec } from '../core/build-types.js';
import { BuildFailure } from '../core/errors.js';
import { lookupKind, type Resource } from '../core/resource.js';
import { configKey } from '../core/secret-types.js';
import type { BuildInputFiles } from '../builders/types.js';
import type { ResourceStore } from '../store/resource-store.js';

const SECRET = lookupKind('v1', 'Secret')!;
const CONFIG_MAP = lookupKind('v1', 'ConfigMap')!;

type Stored = Resource & {
  data?: Record<string, string> | null;
  binaryData?: Record<string, string> | null;
};

/** Reads every input object of `spec`; `mask` gets each Secret value. */
export async function readBuildInputs(
  store: ResourceStore,
  namespace: string,
  spec: BuildSpec,
  mask: (value: string) => void,
): Promise<BuildInputFiles[]> {
  const wanted = [
    ...(spec.source.secrets ?? []).map((i) => ({
      kind: 'Secret' as const,
      name: i.secret.name,
      destinationDir: i.destinationDir ?? '',
    })),
    ...(spec.source.configMaps ?? []).map((i) => ({
      kind: 'ConfigMap' as const,
      name: i.configMap.name,
      destinationDir: i.destinationDir ?? '',
    })),
  ];
  const inputs: BuildInputFiles[] = [];
  for (const want of wanted) {
    const secret = want.kind === 'Secret';
    const found = (await store.get(secret ? SECRET : CONFIG_MAP, namespace, want.name)) as Stored | undefined;
    if (!found) {
      throw new BuildFailure(
        secret ? 'CannotRetrieveSecret' : 'FetchSourceFailed',
        `${want.kind} "${want.name}" named by spec.source.${secret ? 'secrets' : 'configMaps'} does not exist in namespace "${namespace}"`,
      );
    }
    const files: BuildInputFiles['files'] = [];
    const add = (key: string, content: Buffer): void => {
      // Keys are checked on write; an object stored before that check is checked here.
      if (!configKey.safeParse(key).success)
        throw new BuildFailure(
          'FetchSourceFailed',
          `${want.kind} "${want.name}" has the key ${JSON.stringify(key)}, which cannot be a file name; keys consist of alphanumeric characters, '-', '_' or '.'`,
        );
      files.push({ name: key, content });
    };
    for (const [key, value] of Object.entries(found.data ?? {})) {
      const content = secret ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
      if (secret) mask(content.toString('utf8'));
      add(key, content);
    }
    if (!secret)
      for (const [key, value] of Object.entries(found.binaryData ?? {}))
        add(key, Buffer.from(value, 'base64'));
    inputs.push({ ...want, files });
  }
  return inputs;
}
