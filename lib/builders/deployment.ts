/**
 * The revision's Deployment `REV-deployment`, following Knative's
 * knative/serving pkg/reconciler/revision/resources/deploy.go.
 *
 * Deliberate differences from Knative, forced by a static graph:
 * - The selector is `serving.knative.dev/revision: REV`, not `revisionUID` (no UID exists before
 *   the object is applied); the private Service selects on the same label.
 * - No ownerReferences (they need the owner's UID), no `revisionUID`/`configurationUID`/`serviceUID`
 *   labels and no `deployment-hash` label (nothing compares hashes without a controller).
 * - The Deployment carries the autoscaling annotations (see meta.ts `deploymentAnnotations`).
 * - Images are not resolved to digests.
 * - No `spec.replicas` unless nobody scales the revision (`declaresReplicas`, ../autoscaling.ts):
 *   Knative's revision reconciler creates the Deployment with initial-scale replicas and then never
 *   writes them again, but a static manifest is re-applied by GitOps tools, and a declared
 *   replicas field would either conflict with the autoscaler's scale writes (server-side apply) or
 *   reset them (client-side apply, forced apply). The runtime autoscaler sets initial-scale itself
 *   (controller.ts).
 */
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import { DATA_PLANE_ANNOTATION, declaresReplicas, scaleOwner } from '../contract/autoscaling';
import { Names } from '../contract/naming';
import { compact, sortedRecord, type Json } from '../model/json';
import { deploymentAnnotations, podAnnotations, revisionSelector, revisionWorkloadLabels } from './meta';
import { buildQueueProxyContainer } from './queue-proxy-container';
import type { RevisionSpec } from '../model/spec';
import { buildUserContainers } from './user-container';

export function buildDeployment(rev: RevisionSpec): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: Names.deployment(rev.name),
      namespace: rev.namespace,
      labels: revisionWorkloadLabels(rev),
      annotations: dataPlaneAnnotations(rev),
    },
    spec: {
      ...(declaresReplicas(revisionScaleOwner(rev)) ? { replicas: rev.autoscaling.initialScale } : {}),
      selector: { matchLabels: revisionSelector(rev) },
      progressDeadlineSeconds: rev.progressDeadlineSeconds,
      revisionHistoryLimit: 0,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } },
      template: {
        metadata: { labels: revisionWorkloadLabels(rev), annotations: podAnnotations(rev) },
        spec: buildPodSpec(rev),
      },
    },
  };
}

/** Who sets this revision's replicas (one rule: ../autoscaling.ts `scaleOwner`). */
export function revisionScaleOwner(rev: Pick<RevisionSpec, 'autoscaling' | 'dataPlane'>) {
  return scaleOwner(rev.autoscaling.class, rev.dataPlane);
}

/** The Deployment's annotations, plus the static data plane's marker the runtime reads. */
function dataPlaneAnnotations(rev: RevisionSpec): Record<string, string> {
  const annotations = deploymentAnnotations(rev);
  return rev.dataPlane === 'static' ? sortedRecord({ ...annotations, [DATA_PLANE_ANNOTATION]: 'static' }) : annotations;
}

/** Knative's makePodSpec: user pod fields, then containers, service links, grace period, affinity. */
export function buildPodSpec(rev: RevisionSpec): Json {
  return compact({
    ...rev.pod,
    containers: [...buildUserContainers(rev), buildQueueProxyContainer(rev)],
    enableServiceLinks: rev.pod.enableServiceLinks ?? false,
    terminationGracePeriodSeconds: rev.timeoutSeconds,
    affinity: rev.pod.affinity ?? defaultAffinity(rev),
  });
}

/** config-deployment `default-affinity-type: prefer-spread-revision-over-nodes`. */
export function defaultAffinity(rev: RevisionSpec): IAffinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: revisionSelector(rev) },
          },
        },
      ],
    },
  };
}
