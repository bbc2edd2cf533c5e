/**
 * The deploy target with the project's quotas in front of it: a revision's replicas take
 * `pods` (and their containers' `limits.cpu`/`limits.memory`) from the quota before the
 * target is asked to run them. Past the quota the scale is refused with a 403 naming it:
 * an API scale answers that, and a rollout whose strategy is refused ends Failed with the
 * same words, as a Kubernetes deployment reports the pods its quota refused
 * (docs/quotas.md). Scaling down and deleting give the pods back. The last refusal stays
 * in the revision's status until a scale of it succeeds.
 */
import { ForbiddenError } from '../core/errors.js';
import { replicasRequest } from '../core/quota.js';
import type { QuotaLedger } from '../store/quotas.js';
import type { DeployTarget, RevisionStatus, WaitOptions } from './target.js';

const holderOf = (name: string): string => `rc/${name}`;

export function quotaTarget(target: DeployTarget, quotas: QuotaLedger): DeployTarget {
  const scaleRevision = async (
    namespace: string,
    name: string,
    replicas: number,
    options: WaitOptions,
  ): Promise<void> => {
    if (replicas > 0) {
      const rc = await target.getRevision(namespace, name);
      const request = replicasRequest(rc?.spec.template, replicas);
      const r = await quotas.reserve(namespace, holderOf(name), request);
      if (r.kind !== 'reserved') {
        const message = `pods "${name}" is forbidden: ${r.message}`;
        await quotas.noteRefusal(namespace, holderOf(name), message);
        throw new ForbiddenError(message);
      }
    }
    await quotas.noteRefusal(namespace, holderOf(name), undefined);
    await target.scaleRevision(namespace, name, replicas, options);
    if (replicas === 0) await quotas.release(namespace, holderOf(name));
  };
  const deleteRevision = async (namespace: string, name: string, options: WaitOptions): Promise<void> => {
    await target.deleteRevision(namespace, name, options);
    await quotas.release(namespace, holderOf(name));
    await quotas.noteRefusal(namespace, holderOf(name), undefined);
  };
  // The last refusal is the revision's replica failure, as Kubernetes reports the pods its
  // quota refused (FailedCreate): the DeploymentConfig's ReplicaFailure condition shows it.
  const revisionStatus = async (namespace: string, name: string): Promise<RevisionStatus> => {
    const status = await target.revisionStatus(namespace, name);
    const refused = await quotas.refusal(namespace, holderOf(name));
    return refused === undefined ? status : { ...status, failures: [...status.failures, refused] };
  };
  return new Proxy(target, {
    get(obj, prop, receiver) {
      if (prop === 'scaleRevision') return scaleRevision;
      if (prop === 'deleteRevision') return deleteRevision;
      if (prop === 'revisionStatus') return revisionStatus;
      const value: unknown = Reflect.get(obj, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
    },
  });
}
