/**
 * The public Endpoints `REV` (knative/serving pkg/reconciler/serverlessservice/resources/services.go), declared WITHOUT subsets. The runtime owns the
 * addresses (activator IPs or pod IPs); leaving `subsets` out means re-applying the manifests never
 * touches them (apply merges only the fields a manifest sets), so a deploy cannot cut a serving
 * revision off from its pods. Emitted only where the runtime owns them (data-plane modes `full` and
 * `activator`, ../contract/data-plane.ts runtimeOwnsEndpoints); with `direct` and `static` the
 * public Service selects the pods and Kubernetes fills them.
 *
 * The runtime does not depend on this object: a GitOps engine that leaves Endpoints out (Argo CD
 * 3.x excludes them by default) gets the same object from the autoscaler, which creates it by
 * server-side apply with the same labels and annotations (../contract/autoscaling.ts
 * serverlessServiceMetadata). It stays in the graph for `kubectl apply` users.
 */
import type { IEndpoints } from 'kubernetes-models/v1/Endpoints';
import { serverlessServiceMeta } from './meta';
import type { RevisionSpec } from '../model/spec';

export function buildPublicEndpoints(rev: RevisionSpec): IEndpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: rev.name,
      namespace: rev.namespace,
      ...serverlessServiceMeta(rev, 'Public'),
    },
  };
}
