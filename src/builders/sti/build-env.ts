/**
 * The environment `assemble` runs with, which also becomes part of the output image's
 * Env (as s2i commits it). Lowest to highest precedence:
 *
 *   1. the server's build environment (`extraEnv`: proxy settings), OpenShift's
 *      BuildDefaults: defaults that a build can override;
 *   2. OpenShift's build information: OPENSHIFT_BUILD_NAME, _NAMESPACE, _SOURCE,
 *      _REFERENCE, _COMMIT (openshift/builder `buildInfo`);
 *   3. `.s2i/environment` from the repository;
 *   4. `sourceStrategy.env` from the BuildConfig, which has the last word, as in
 *      OpenShift where the BuildConfig's variables override the repository's file.
 */
import { envNameProblem, quoteValue } from '../../core/build-input-rules.js';
import type { EnvVar } from '../../core/build-types.js';
import type { SourceInfo } from '../types.js';
import type { EnvPair } from './environment-file.js';

export interface BuildEnvInput {
  buildName: string;
  buildNamespace: string;
  source: SourceInfo;
  /** `spec.source.git.uri` / `.ref`, which OpenShift reports over what git resolved. */
  gitUri?: string | undefined;
  gitRef?: string | undefined;
  extraEnv: readonly EnvVar[];
  environmentFile: readonly EnvPair[];
  strategyEnv: readonly EnvVar[];
}

export interface BuildEnv {
  /** `NAME=value` entries, one per name, in first-seen order. */
  env: string[];
  /** Entries that could not be used, to log. */
  warnings: string[];
}

export function buildEnvironment(input: BuildEnvInput): BuildEnv {
  const values = new Map<string, string>();
  const warnings: string[] = [];
  const set = (name: string, value: string): void => {
    // Every way in checks names; a Build stored before the rule existed is caught here.
    const problem = envNameProblem(name);
    if (problem) {
      warnings.push(`environment variable name ${quoteValue(name)} ${problem}; skipped`);
      return;
    }
    values.set(name, value);
  };
  const fromEnvVars = (list: readonly EnvVar[], where: string): void => {
    for (const e of list) {
      if (e.value === undefined && e.valueFrom) {
        warnings.push(`${where}: ${e.name} uses valueFrom, which must be resolved before the build; skipped`);
        continue;
      }
      set(e.name, e.value ?? '');
    }
  };

  fromEnvVars(input.extraEnv, 'build defaults');
  const info: [string, string | undefined][] = [
    ['OPENSHIFT_BUILD_NAME', input.buildName],
    ['OPENSHIFT_BUILD_NAMESPACE', input.buildNamespace],
    ['OPENSHIFT_BUILD_SOURCE', input.gitUri ?? input.source.uri],
    ['OPENSHIFT_BUILD_REFERENCE', input.gitRef ?? input.source.ref],
    ['OPENSHIFT_BUILD_COMMIT', input.source.commit],
  ];
  for (const [name, value] of info) if (value) set(name, value);
  for (const e of input.environmentFile) set(e.name, e.value);
  fromEnvVars(input.strategyEnv, 'sourceStrategy.env');

  return { env: [...values].map(([k, v]) => `${k}=${v}`), warnings };
}
