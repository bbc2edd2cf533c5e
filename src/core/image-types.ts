/** ImageStream (image.openshift.io/v1): tags pointing at image digests, with history. */
import { z } from 'zod';
import { objectReference } from './build-types.js';

export const tagReference = z.looseObject({
  name: z.string().min(1, 'must not be empty'),
  from: objectReference.optional(),
  annotations: z.record(z.string(), z.string()).nullable().optional(),
  reference: z.boolean().optional(),
  importPolicy: z.looseObject({}).optional(),
  referencePolicy: z.looseObject({ type: z.string().optional() }).optional(),
});

export const imageStreamSpec = z.looseObject({
  lookupPolicy: z.looseObject({ local: z.boolean().optional() }).optional(),
  dockerImageRepository: z.string().optional(),
  tags: z.array(tagReference).nullable().optional(),
});
export type ImageStreamSpec = z.infer<typeof imageStreamSpec>;

export interface TagEvent {
  created: string;
  /** Pullable reference by digest: `127.0.0.1:5000/ns/app@sha256:…`. */
  dockerImageReference: string;
  /** The image's digest, `sha256:…`: OpenShift names images by it. */
  image: string;
  generation: number;
}

export interface NamedTagEventList {
  tag: string;
  /** Newest first, as OpenShift keeps them. */
  items: TagEvent[];
  conditions?: unknown[];
}

export interface ImageStreamStatus {
  dockerImageRepository?: string;
  publicDockerImageRepository?: string;
  tags?: NamedTagEventList[];
}
