/** Secret (v1): webhook secrets, source and push credentials. */
import { z } from 'zod';

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const secretBody = z.looseObject({
  type: z.string().optional(),
  data: z
    .record(z.string(), z.string().regex(base64, 'must be base64-encoded (use stringData for plain text)'))
    .nullable()
    .optional(),
  stringData: z.record(z.string(), z.string()).nullable().optional(),
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
