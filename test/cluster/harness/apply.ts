// Server-side apply of plain objects, the way `kubectl apply --server-side`
// does it: each object is sent whole as an apply patch under one field
// manager, so fields that manager omits but another manager owns are kept.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export interface ApplyOptions {
  /** Take ownership of fields another manager owns (kubectl --force-conflicts). Default false. */
  force?: boolean;
}

/**
 * Applies objects in order (put Namespaces first) and returns what the API
 * server stored. Not for CRDs: KubernetesObjectApi drops their schemas'
 * `x-kubernetes-*` keys (installCrds in crds.ts sends them raw).
 */
export async function applyObjects(
  kc: KubeConfig,
  objects: readonly KubernetesObject[],
  fieldManager: string,
  opts: ApplyOptions = {},
): Promise<KubernetesObject[]> {
  // A fresh client per call: KubernetesObjectApi caches API discovery, which
  // would miss resources of CRDs installed after its first use.
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) {
    applied.push(
      await api.patch(obj, undefined, undefined, fieldManager, opts.force ?? false, PatchStrategy.ServerSideApply),
    );
  }
  return applied;
}
