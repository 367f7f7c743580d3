/**
 * The public Endpoints `REV` (knative/serving pkg/reconciler/serverlessservice/resources/services.go), declared WITHOUT subsets. The runtime owns the
 * addresses (activator IPs or pod IPs); leaving `subsets` out means re-applying the manifests never
 * touches them (apply merges only the fields a manifest sets), so a deploy cannot cut a serving
 * revision off from its pods. Emitted only where the runtime owns them (data-plane modes `full` and
 * `activator`, ../model/data-plane.ts runtimeOwnsEndpoints); with `direct` and `static` the
 * public Service selects the pods and Kubernetes fills them.
 */
import type { Json } from '../model/json';
import { serverlessServiceAnnotations, serverlessServiceLabels } from './meta';
import type { RevisionSpec } from '../model/spec';

export function buildPublicEndpoints(rev: RevisionSpec): Json {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: rev.name,
      namespace: rev.namespace,
      labels: serverlessServiceLabels(rev, 'Public'),
      annotations: serverlessServiceAnnotations(rev),
    },
  };
}
