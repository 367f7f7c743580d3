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
 * - Data-plane modes (../model/data-plane.ts), which Knative does not have: without the queue-proxy
 *   (`activator`, `direct`) the pod holds only the user's containers, the grace period adds the
 *   preStop sleep, and the Deployment is marked with its mode (plus, for `activator`, the settings
 *   the queue-proxy's env would carry) for the runtime, which reads only the Deployment.
 * - No `spec.replicas` unless nobody scales the revision (`declaresReplicas`, ../contract/data-plane.ts):
 *   Knative's revision reconciler creates the Deployment with initial-scale replicas and then never
 *   writes them again, but a static manifest is re-applied by GitOps tools, and a declared
 *   replicas field would either conflict with the autoscaler's scale writes (server-side apply) or
 *   reset them (client-side apply, forced apply). The runtime autoscaler sets initial-scale itself
 *   (controller.ts).
 */
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { DATA_PLANE_ANNOTATION, DataPlaneModes, declaresReplicas, fixedReplicas, hasQueueProxy, scaleOwner } from '../contract/data-plane';
import { PRE_STOP_SLEEP_SECONDS, RevisionAnnotations } from '../contract/constants';
import { Names } from '../contract/naming';
import { compact, sortedRecord } from '../model/json';
import { deploymentAnnotations, podAnnotations, revisionSelector, revisionWorkloadLabels } from './meta';
import { buildQueueProxyContainer } from './queue-proxy-container';
import type { RevisionSpec } from '../model/spec';
import { buildUserContainers } from './user-container';

export function buildDeployment(rev: RevisionSpec): IDeployment {
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
      ...(declaresReplicas(revisionScaleOwner(rev)) ? { replicas: fixedReplicas(rev.autoscaling) } : {}),
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

/** Who sets this revision's replicas (one rule: ../contract/data-plane.ts `scaleOwner`). */
export function revisionScaleOwner(rev: Pick<RevisionSpec, 'autoscaling' | 'dataPlane'>) {
  return scaleOwner(rev.autoscaling.class, rev.dataPlane);
}

/**
 * The Deployment's annotations, plus what the runtime reads there: the mode of a revision that is
 * not `full` (absent = full), and for `activator` the revision settings the activator enforces in
 * place of the queue-proxy (whose env carries them in `full`).
 */
function dataPlaneAnnotations(rev: RevisionSpec): Record<string, string> {
  const annotations = deploymentAnnotations(rev);
  if (rev.dataPlane === DataPlaneModes.FULL) return annotations;
  return sortedRecord({
    ...annotations,
    [DATA_PLANE_ANNOTATION]: rev.dataPlane,
    ...(rev.dataPlane === DataPlaneModes.ACTIVATOR ? activatorRevisionAnnotations(rev) : {}),
  });
}

function activatorRevisionAnnotations(rev: RevisionSpec): Record<string, string> {
  return {
    [RevisionAnnotations.CONTAINER_CONCURRENCY]: String(rev.containerConcurrency),
    [RevisionAnnotations.TIMEOUT_SECONDS]: String(rev.timeoutSeconds),
    [RevisionAnnotations.RESPONSE_START_TIMEOUT_SECONDS]: String(rev.responseStartTimeoutSeconds),
    [RevisionAnnotations.IDLE_TIMEOUT_SECONDS]: String(rev.idleTimeoutSeconds),
  };
}

/** Knative's makePodSpec: user pod fields, then containers, service links, grace period, affinity. */
export function buildPodSpec(rev: RevisionSpec): IPodSpec {
  const sidecar = hasQueueProxy(rev.dataPlane);
  // The pass-through pod fields were checked against the PodSpec schema by the model (props-shape.ts).
  const pod = rev.pod as Partial<IPodSpec>;
  return compact<IPodSpec>({
    ...pod,
    containers: sidecar ? [...buildUserContainers(rev), buildQueueProxyContainer(rev)] : buildUserContainers(rev),
    enableServiceLinks: pod.enableServiceLinks ?? false,
    // Without the queue-proxy the preStop sleep comes first, then requests in flight get the timeout.
    terminationGracePeriodSeconds: sidecar ? rev.timeoutSeconds : PRE_STOP_SLEEP_SECONDS + rev.timeoutSeconds,
    affinity: pod.affinity ?? defaultAffinity(rev),
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
