/**
 * The named errors of Slipway. One error middleware (src/api/errors.ts) maps them to
 * Kubernetes `Status` responses; the build runner maps BuildFailure to a Build's
 * phase and OpenShift reason.
 */

export interface FieldCause {
  /** Dotted path of the offending field, e.g. `spec.source.git.uri`. */
  field: string;
  message: string;
}

export class SlipwayError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = this.constructor.name;
  }
}

/** The request was malformed (400) or a resource failed validation (422). */
export class InputError extends SlipwayError {
  readonly causes: FieldCause[];
  readonly code: 400 | 422;
  constructor(message: string, options: { causes?: FieldCause[]; code?: 400 | 422; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.causes = options.causes ?? [];
    this.code = options.code ?? 422;
  }
}

export class NotFoundError extends SlipwayError {}
export class ConflictError extends SlipwayError {}
export class AlreadyExistsError extends ConflictError {}
export class UnauthorizedError extends SlipwayError {}
export class ForbiddenError extends SlipwayError {}
export class MethodNotAllowedError extends SlipwayError {}
export class PayloadTooLargeError extends SlipwayError {}
/** Something the request needs (Redis) is not answering: a 503, worth retrying later. */
export class UnavailableError extends SlipwayError {}

/** A failure that retrying cannot fix (BullMQ's UnrecoverableError, in Slipway's words). */
export class UnrecoverableError extends SlipwayError {}

/** OpenShift's build status reasons (openshift/api build/v1 types.go). */
export const BuildReasons = {
  CannotCreateBuildPodSpec: 'CannotCreateBuildPodSpec',
  InvalidOutputReference: 'InvalidOutputReference',
  InvalidImageReference: 'InvalidImageReference',
  BuildPodDeleted: 'BuildPodDeleted',
  ExceededRetryTimeout: 'ExceededRetryTimeout',
  MissingPushSecret: 'MissingPushSecret',
  PostCommitHookFailed: 'PostCommitHookFailed',
  PushImageToRegistryFailed: 'PushImageToRegistryFailed',
  PullBuilderImageFailed: 'PullBuilderImageFailed',
  FetchSourceFailed: 'FetchSourceFailed',
  // Copying spec.source.images' paths out of their images failed.
  FetchImageContentFailed: 'FetchImageContentFailed',
  InvalidContextDirectory: 'InvalidContextDirectory',
  CancelledBuild: 'CancelledBuild',
  DockerBuildFailed: 'DockerBuildFailed',
  ManageDockerfileFailed: 'ManageDockerfileFailed',
  AssembleFailed: 'AssembleFailed',
  GenericBuildFailed: 'GenericBuildFailed',
  CannotRetrieveSecret: 'CannotRetrieveSecret',
  BuildPodExists: 'BuildPodExists',
  // The build ran past spec.completionDeadlineSeconds (the build pod's DeadlineExceeded).
  DeadlineExceeded: 'DeadlineExceeded',
  // s2i's failure reasons, which OpenShift's builder reports verbatim as the Build's
  // reason (openshift/builder sti.go convertS2IFailureType).
  InstallScriptsFailed: 'InstallScriptsFailed',
  ScriptsFetchFailed: 'ScriptsFetchFailed',
  PullRuntimeImageFailed: 'PullRuntimeImageFailed',
  RuntimeArtifactsFetchFailed: 'RuntimeArtifactsFetchFailed',
  InvalidArtifactsMapping: 'InvalidArtifactsMapping',
  CommitContainerFailed: 'CommitContainerFailed',
} as const;
export type BuildReason = (typeof BuildReasons)[keyof typeof BuildReasons];

/** A build ended badly; `reason` is OpenShift's, `phase` says whose fault it was. */
export class BuildFailure extends SlipwayError {
  readonly reason: BuildReason;
  readonly phase: 'Failed' | 'Error';
  /** Whether a retry could succeed (a registry that is down); source errors are not. */
  readonly retryable: boolean;
  /** The last lines of the failing step's output, for `status.logSnippet`. */
  readonly logSnippet: string | undefined;
  constructor(
    reason: BuildReason,
    message: string,
    options: {
      phase?: 'Failed' | 'Error';
      retryable?: boolean;
      cause?: unknown;
      logSnippet?: string | undefined;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.phase = options.phase ?? 'Failed';
    this.retryable = options.retryable ?? false;
    this.logSnippet = options.logSnippet;
  }
}

/** Thrown inside a build when its AbortSignal fired because a user cancelled it. */
export class BuildCancelled extends SlipwayError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
