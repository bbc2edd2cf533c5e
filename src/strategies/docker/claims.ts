/**
 * PersistentVolumeClaims on the local target: one named Docker volume per claim
 * (`claimVolumeName`), labelled so volumes whose claim is gone can be found again.
 * Volumes a DeploymentConfig mounts without a claim object are Docker's own (unlabelled)
 * and never removed here.
 */
import type Docker from 'dockerode';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ClaimVolumes } from '../target.js';
import { claimVolumeName } from './replicas.js';

const LABELS = {
  managed: 'slipway.dev/managed',
  namespace: 'slipway.dev/namespace',
  claim: 'slipway.dev/claim',
};

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/** Claims as named volumes of `docker`. */
export function dockerClaimVolumes(docker: Docker, logger: Logger): ClaimVolumes {
  const remove = async (namespace: string, claim: string): Promise<void> => {
    const name = claimVolumeName(namespace, claim);
    try {
      await docker.getVolume(name).remove();
      logger.info({ volume: name }, 'claim deleted: volume removed');
    } catch (err) {
      if (statusCode(err) === 404) return;
      // Kubernetes keeps a claim a pod still uses (pvc-protection); here the volume stays until the resync after its last replica went.
      if (statusCode(err) === 409) {
        logger.info(
          { volume: name },
          'claim deleted: volume still in use, removed once no container mounts it',
        );
        return;
      }
      throw err;
    }
  };
  return {
    async ensure(namespace, claim) {
      const name = claimVolumeName(namespace, claim);
      // Creating an existing local volume answers with it: idempotent across processes.
      await docker.createVolume({
        Name: name,
        Labels: { [LABELS.managed]: 'claim', [LABELS.namespace]: namespace, [LABELS.claim]: claim },
      });
    },
    remove,
    async prune(exists) {
      const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABELS.managed}=claim`] } });
      for (const v of Volumes ?? []) {
        const ns = v.Labels?.[LABELS.namespace];
        const claim = v.Labels?.[LABELS.claim];
        if (!ns || !claim || exists(ns, claim)) continue;
        await remove(ns, claim).catch((err: unknown) =>
          logger.warn(
            { volume: v.Name, err: errorMessage(err) },
            'could not remove the volume of a deleted claim',
          ),
        );
      }
    },
  };
}
