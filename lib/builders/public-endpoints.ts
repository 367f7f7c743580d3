/**
 * The public Endpoints `REV` (knative/serving pkg/reconciler/serverlessservice/resources/services.go), declared WITHOUT subsets. The runtime owns the
 * addresses (activator IPs or pod IPs); leaving `subsets` out means re-applying the manifests never
 * touches them (apply merges only the fields a manifest sets), so a deploy cannot cut a serving
 * revision off from its pods. Not emitted with the static data plane (Kubernetes fills it).
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
