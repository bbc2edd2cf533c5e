/** Secret (v1): webhook secrets, source and push credentials. */
import { z } from 'zod';

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A Secret's or ConfigMap's key, as Kubernetes allows it: it becomes a file name when a
 * build takes the object as an input (spec.source.secrets, configMaps), so nothing that
 * reads as a path.
 */
export const configKey = z
  .string()
  .min(1, 'a key must not be empty')
  .max(253, 'a key must be no more than 253 characters')
  .regex(/^[-._a-zA-Z0-9]+$/, "a key must consist of alphanumeric characters, '-', '_' or '.'")
  .refine((k) => k !== '.' && !k.startsWith('..'), { message: "a key must not be '.' or start with '..'" });

const base64Value = z.string().regex(base64, 'must be base64-encoded (use stringData for plain text)');

export const secretBody = z.looseObject({
  type: z.string().optional(),
  data: z.record(configKey, base64Value).nullable().optional(),
  stringData: z.record(configKey, z.string()).nullable().optional(),
});

/** ConfigMap (v1): plain configuration, here for builds that take it as an input. */
export const configMapBody = z.looseObject({
  data: z.record(configKey, z.string()).nullable().optional(),
  binaryData: z.record(configKey, z.string().regex(base64, 'must be base64-encoded')).nullable().optional(),
});

export const SecretTypes = {
  Opaque: 'Opaque',
  BasicAuth: 'kubernetes.io/basic-auth',
  SSHAuth: 'kubernetes.io/ssh-auth',
  DockerConfigJson: 'kubernetes.io/dockerconfigjson',
  DockerCfg: 'kubernetes.io/dockercfg',
} as const;

/** Reads one key of a Secret's data as text. */
export function secretValue(
  secret: { data?: Record<string, string> | null },
  key: string,
): string | undefined {
  const raw = secret.data?.[key];
  return raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8');
}

/** Every key of a Secret's data as text. */
export function secretData(secret: { data?: Record<string, string> | null }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}
