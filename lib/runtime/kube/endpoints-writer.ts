import type { CoreV1Api, V1EndpointSubset, V1Endpoints } from '@kubernetes/client-node';
import { isConflict } from './client';

/**
 * Writes the subsets of an existing Endpoints object (the revision's public Endpoints, created by
 * the compiled graph): read, then replace with the read resourceVersion, so a concurrent writer
 * is detected (409) rather than overwritten; on a conflict, read again and retry. Never creates
 * or deletes: RBAC grants get/update/patch on the named objects only.
 *
 * Resolves once the API server has accepted the write, which is the acknowledgement the autoscaler
 * waits for before scaling a revision to zero.
 */
export async function writeEndpointsSubsets(
  core: CoreV1Api,
  namespace: string,
  name: string,
  subsets: V1EndpointSubset[],
  fieldManager: string,
  attempts = 3,
): Promise<V1Endpoints> {
  for (let attempt = 1; ; attempt++) {
    const current = await core.readNamespacedEndpoints({ name, namespace });
    try {
      return await core.replaceNamespacedEndpoints({
        name,
        namespace,
        fieldManager,
        body: { ...current, subsets: subsets.length > 0 ? subsets : undefined },
      });
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
    }
  }
}
