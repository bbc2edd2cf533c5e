/**
 * BuildConfig and Build (build.openshift.io/v1), with OpenShift's field names.
 * Objects are loose: fields Slipway does not act on are kept as the user wrote them,
 * so OpenShift YAML applies unchanged.
 */
import { z } from 'zod';
import { commitProblem, envNameProblem, gitRefProblem, quoteValue } from './build-input-rules.js';

const relPath = z.string().refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
  message: 'must be a relative path inside the repository (no leading "/" and no "..")',
});

/** A zod check from one of build-input-rules' `…Problem` functions. */
function ruled(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message: `${quoteValue(value)} ${message}` });
  });
}

export const envVar = z.looseObject({
  name: ruled(envNameProblem),
  value: z.string().optional(),
  valueFrom: z.looseObject({}).optional(),
});
export type EnvVar = z.infer<typeof envVar>;

export const objectReference = z.looseObject({
  kind: z.string().optional(),
  name: z.string().min(1, 'must not be empty'),
  namespace: z.string().optional(),
});
export type ObjectReference = z.infer<typeof objectReference>;

const localRef = z.looseObject({ name: z.string().min(1, 'must not be empty') });

const secretRef = z.looseObject({
  secret: z.string().optional(),
  secretReference: localRef.optional(),
});

export const webHookTrigger = secretRef.extend({
  allowEnv: z.boolean().optional(),
  /** Slipway: require X-Hub-Signature-256 on GitHub deliveries. */
  requireSignature: z.boolean().optional(),
  /** Slipway: extra ref patterns (globs) that this trigger builds; default is the BuildConfig's ref. */
  refs: z.array(z.string()).optional(),
  /** Slipway: build only when a push touches these globs (default: contextDir when set). */
  paths: z.array(z.string()).optional(),
  /** Slipway: also build tag pushes. */
  includeTags: z.boolean().optional(),
});
export type WebHookTrigger = z.infer<typeof webHookTrigger>;

export const buildTriggerPolicy = z.looseObject({
  type: z.enum(['GitHub', 'Generic', 'GitLab', 'Bitbucket', 'ImageChange', 'ConfigChange']),
  github: webHookTrigger.optional(),
  generic: webHookTrigger.optional(),
  gitlab: webHookTrigger.optional(),
  bitbucket: webHookTrigger.optional(),
  imageChange: z
    .looseObject({
      from: objectReference.optional(),
      lastTriggeredImageID: z.string().optional(),
      paused: z.boolean().optional(),
    })
    .optional(),
});
export type BuildTriggerPolicy = z.infer<typeof buildTriggerPolicy>;

export const gitBuildSource = z.looseObject({
  uri: z.string().min(1, 'must not be empty'),
  // Empty means the remote's default branch.
  ref: ruled((ref) => (ref === '' ? undefined : gitRefProblem(ref))).optional(),
  httpProxy: z.string().optional(),
  httpsProxy: z.string().optional(),
  noProxy: z.string().optional(),
});

/**
 * OpenShift's build inputs: a Secret's or ConfigMap's keys as files, for the build only.
 * `destinationDir` is checked by `buildInputCauses` (src/core/validation.ts): relative for
 * the Docker strategy (inside the context), anything without `..` for Source.
 */
export const secretBuildSource = z.looseObject({ secret: localRef, destinationDir: z.string().optional() });
export const configMapBuildSource = z.looseObject({
  configMap: localRef,
  destinationDir: z.string().optional(),
});

/**
 * OpenShift's image source: paths copied out of an image into the source before the
 * build (`sourcePath` absolute in the image; `destinationDir` relative to the source's
 * root). `as` (Dockerfile FROM replacement) is refused by validation.
 */
export const imageSource = z.looseObject({
  from: objectReference,
  as: z.array(z.string()).nullable().optional(),
  paths: z
    .array(
      z.looseObject({
        sourcePath: z.string().min(1, 'must not be empty'),
        destinationDir: z.string().optional(),
      }),
    )
    .nullable()
    .optional(),
  pullSecret: localRef.optional(),
});

export const buildSource = z.looseObject({
  type: z.enum(['Git', 'Dockerfile', 'Binary', 'Image', 'None']).optional(),
  git: gitBuildSource.optional(),
  dockerfile: z.string().optional(),
  contextDir: relPath.optional(),
  sourceSecret: localRef.optional(),
  binary: z.looseObject({ asFile: z.string().optional() }).optional(),
  secrets: z.array(secretBuildSource).nullable().optional(),
  configMaps: z.array(configMapBuildSource).nullable().optional(),
  images: z.array(imageSource).nullable().optional(),
});
export type BuildSource = z.infer<typeof buildSource>;

export const dockerBuildStrategy = z.looseObject({
  from: objectReference.optional(),
  pullSecret: localRef.optional(),
  noCache: z.boolean().optional(),
  env: z.array(envVar).optional(),
  forcePull: z.boolean().optional(),
  dockerfilePath: relPath.optional(),
  buildArgs: z.array(envVar).optional(),
});
export type DockerBuildStrategy = z.infer<typeof dockerBuildStrategy>;

export const sourceBuildStrategy = z.looseObject({
  from: objectReference,
  pullSecret: localRef.optional(),
  env: z.array(envVar).optional(),
  scripts: z.string().optional(),
  incremental: z.boolean().optional(),
  forcePull: z.boolean().optional(),
  /** Slipway: build for real, never reusing the image of an earlier build with the same inputs. */
  noCache: z.boolean().optional(),
});
export type SourceBuildStrategy = z.infer<typeof sourceBuildStrategy>;

export const buildStrategy = z.looseObject({
  type: z.enum(['Docker', 'Source', 'Custom', 'JenkinsPipeline']),
  dockerStrategy: dockerBuildStrategy.optional(),
  sourceStrategy: sourceBuildStrategy.optional(),
  customStrategy: z.looseObject({}).optional(),
});
export type BuildStrategy = z.infer<typeof buildStrategy>;

export const buildOutput = z.looseObject({
  to: objectReference.optional(),
  pushSecret: localRef.optional(),
  imageLabels: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional(),
});
export type BuildOutput = z.infer<typeof buildOutput>;

export const buildPostCommit = z.looseObject({
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  script: z.string().optional(),
});

export const sourceRevision = z.looseObject({
  type: z.string().optional(),
  git: z
    .looseObject({
      commit: ruled(commitProblem).optional(),
      author: z.looseObject({ name: z.string().optional(), email: z.string().optional() }).optional(),
      committer: z.looseObject({ name: z.string().optional(), email: z.string().optional() }).optional(),
      message: z.string().optional(),
    })
    .optional(),
});
export type SourceRevision = z.infer<typeof sourceRevision>;

/** The part BuildConfig.spec and Build.spec share (OpenShift's CommonSpec). */
const commonSpec = {
  serviceAccount: z.string().optional(),
  source: buildSource,
  revision: sourceRevision.optional(),
  strategy: buildStrategy,
  output: buildOutput.optional(),
  resources: z.looseObject({}).optional(),
  postCommit: buildPostCommit.optional(),
  completionDeadlineSeconds: z.number().int().positive().optional(),
  nodeSelector: z.record(z.string(), z.string()).nullable().optional(),
};

export const buildConfigSpec = z.looseObject({
  ...commonSpec,
  triggers: z.array(buildTriggerPolicy).optional(),
  runPolicy: z.enum(['Serial', 'SerialLatestOnly', 'Parallel']).optional(),
  successfulBuildsHistoryLimit: z.number().int().nonnegative().optional(),
  failedBuildsHistoryLimit: z.number().int().nonnegative().optional(),
});
export type BuildConfigSpec = z.infer<typeof buildConfigSpec>;

export const buildConfigStatus = z.looseObject({
  lastVersion: z.number().int().nonnegative().optional(),
});
export type BuildConfigStatus = z.infer<typeof buildConfigStatus>;

export const buildTriggerCause = z.looseObject({
  message: z.string().optional(),
  genericWebHook: z.looseObject({}).optional(),
  githubWebHook: z.looseObject({}).optional(),
  gitlabWebHook: z.looseObject({}).optional(),
  bitbucketWebHook: z.looseObject({}).optional(),
  imageChangeBuild: z.looseObject({}).optional(),
});
export type BuildTriggerCause = z.infer<typeof buildTriggerCause>;

export const buildSpec = z.looseObject({
  ...commonSpec,
  triggeredBy: z.array(buildTriggerCause).optional(),
});
export type BuildSpec = z.infer<typeof buildSpec>;

export const BUILD_PHASES = [
  'New',
  'Pending',
  'Running',
  'Complete',
  'Failed',
  'Error',
  'Cancelled',
] as const;
export type BuildPhase = (typeof BUILD_PHASES)[number];

export interface StageInfo {
  name: string;
  startTime: string;
  durationMilliseconds: number;
  steps: { name: string; startTime: string; durationMilliseconds: number }[];
}

export const buildStatus = z.looseObject({
  phase: z.enum(BUILD_PHASES).optional(),
  cancelled: z.boolean().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  startTimestamp: z.string().optional(),
  completionTimestamp: z.string().optional(),
  duration: z.number().optional(),
  outputDockerImageReference: z.string().optional(),
  config: objectReference.optional(),
  output: z.looseObject({ to: z.looseObject({ imageDigest: z.string().optional() }).optional() }).optional(),
  stages: z.array(z.looseObject({})).optional(),
  logSnippet: z.string().optional(),
});
export type BuildStatus = z.infer<typeof buildStatus> & { stages?: StageInfo[] };
