/**
 * Per-revision data-plane modes and what each one implies, declared once for the model (which
 * chooses a revision's mode and checks it), the builders (which shape its objects by it) and the
 * runtime (which reads the mode back from the Deployment). Two questions are asked of a mode, and
 * each has one name here:
 * - `hasQueueProxy`: do the revision's pods carry the queue-proxy sidecar (`full`, `static`)?
 * - `activatorAlwaysInPath`: is the activator in the path at every scale, doing the sidecar's work
 *   (containerConcurrency, timeouts, the app's readiness, the concurrency the autoscaler reads)?
 *   Only `activator`; `direct` has neither a sidecar nor an activator.
 */
import { AutoscalerClass, type ResolvedAutoscaling } from './autoscaling';

/**
 * What sits in a revision's request path, chosen per revision (construct `dataPlane`, Knative YAML
 * annotation DATA_PLANE_ANNOTATION on the revision template):
 * - `full`: Knative's graph: the queue-proxy sidecar in every pod, and the activator in the path
 *   at low scale (the runtime flips the public Endpoints between the activator and the pods).
 * - `activator`: no sidecar; the activator is always in the path (the public Endpoints always hold
 *   the activators) and does the queue-proxy's work: containerConcurrency, the revision's
 *   timeouts, the app's readiness, and the concurrency it reports to the autoscaler.
 * - `direct`: no sidecar, no activator: the public Service selects the pods. Needs min-scale >= 1.
 * - `static`: the queue-proxy sidecar, but no runtime: the public Service selects the pods (SKS
 *   "Serve" mode for good, knative/serving pkg/reconciler/serverlessservice/serverlessservice.go).
 *   Needs min-scale >= 1.
 */
export const DataPlaneModes = {
  FULL: 'full',
  ACTIVATOR: 'activator',
  DIRECT: 'direct',
  STATIC: 'static',
} as const;
export type DataPlaneMode = (typeof DataPlaneModes)[keyof typeof DataPlaneModes];

const MODES: readonly string[] = Object.values(DataPlaneModes);

export function isDataPlaneMode(value: unknown): value is DataPlaneMode {
  return typeof value === 'string' && MODES.includes(value);
}

/**
 * Marks the Deployment of a revision whose mode is not `full` with its mode, so the runtime
 * (which reads only the Deployment) knows what to do with it. Absent = `full`. The same key is
 * the revision template annotation that chooses the mode in Knative YAML.
 */
export const DATA_PLANE_ANNOTATION = 'kservice.cdk8s.io/data-plane';

/** The pods carry the queue-proxy sidecar; otherwise the kubelet runs the app's probes and pods drain with preStop.sleep. */
export function hasQueueProxy(mode: DataPlaneMode): boolean {
  return mode === DataPlaneModes.FULL || mode === DataPlaneModes.STATIC;
}

/** The activator is in the path at every scale and does the queue-proxy's work (mode `activator`). */
export function activatorAlwaysInPath(mode: DataPlaneMode): boolean {
  return mode === DataPlaneModes.ACTIVATOR;
}

/** The public Service selects the pods (Kubernetes fills the Endpoints; no runtime in the path). */
export function selectsPods(mode: DataPlaneMode): boolean {
  return mode === DataPlaneModes.DIRECT || mode === DataPlaneModes.STATIC;
}

/** The runtime writes the public Endpoints (the object is emitted without subsets); the activator may be in the path. */
export function runtimeOwnsEndpoints(mode: DataPlaneMode): boolean {
  return !selectsPods(mode);
}

/**
 * Who sets a revision's replicas. The one answer the Deployment builder (declare spec.replicas or
 * not), the RBAC builder (grant deployments/scale or not) and the runtime autoscaler (scale it or
 * not) all import, so the three can never disagree:
 * - `autoscaler`: the KPA class on the runtime data plane: our autoscaler, through the scale
 *   subresource. The Deployment declares no replicas, or every re-apply would fight it.
 * - `hpa`: the HPA class: the HorizontalPodAutoscaler. No replicas either, for the same reason.
 * - `external`: any other class (a third-party autoscaler watching the annotations): neither our
 *   autoscaler nor RBAC for it; the Deployment declares no replicas so the other autoscaler keeps
 *   what it sets.
 * - `fixed`: the KPA class on the `static` or `direct` data plane (no activator, no stats): nothing
 *   scales, so the Deployment pins replicas to initial-scale and re-applying it is what keeps them.
 */
export type ScaleOwner = 'autoscaler' | 'hpa' | 'external' | 'fixed';

export function scaleOwner(autoscalingClass: string, dataPlane: DataPlaneMode): ScaleOwner {
  if (autoscalingClass === AutoscalerClass.HPA) return 'hpa';
  if (autoscalingClass !== AutoscalerClass.KPA) return 'external';
  return selectsPods(dataPlane) ? 'fixed' : 'autoscaler';
}

/** Only a revision nobody scales declares spec.replicas in its Deployment. */
export function declaresReplicas(owner: ScaleOwner): boolean {
  return owner === 'fixed';
}

/**
 * spec.replicas of a revision nobody scales (ScaleOwner `fixed`): initial-scale kept within
 * [min-scale, max-scale], the place Knative's autoscaler would have moved it to and left it.
 */
export function fixedReplicas(a: Pick<ResolvedAutoscaling, 'initialScale' | 'minScale' | 'maxScale'>): number {
  const atLeastMin = Math.max(a.initialScale, a.minScale);
  return a.maxScale > 0 ? Math.min(atLeastMin, a.maxScale) : atLeastMin;
}

/** Every queue-sidecar annotation key starts with it (knative/serving pkg/apis/serving/register.go). */
export const QUEUE_SIDECAR_ANNOTATION_PREFIX = 'queue.sidecar.serving.knative.dev/';
const QUEUE_SIDECAR = QUEUE_SIDECAR_ANNOTATION_PREFIX;

/**
 * The per-revision queue-proxy resource annotations (knative/serving pkg/apis/serving/register.go),
 * meaningful only in the modes that have the sidecar.
 */
export const QueueSidecarAnnotations = {
  CPU_REQUEST: `${QUEUE_SIDECAR}cpu-resource-request`,
  CPU_LIMIT: `${QUEUE_SIDECAR}cpu-resource-limit`,
  MEMORY_REQUEST: `${QUEUE_SIDECAR}memory-resource-request`,
  MEMORY_LIMIT: `${QUEUE_SIDECAR}memory-resource-limit`,
  EPHEMERAL_STORAGE_REQUEST: `${QUEUE_SIDECAR}ephemeral-storage-resource-request`,
  EPHEMERAL_STORAGE_LIMIT: `${QUEUE_SIDECAR}ephemeral-storage-resource-limit`,
  /** Deprecated in Knative, still applied; `resourcePercentage` is its older spelling. */
  RESOURCE_PERCENTAGE: [`${QUEUE_SIDECAR}resource-percentage`, `${QUEUE_SIDECAR}resourcePercentage`],
} as const;

/** The quantity annotations, by the resource and the side (requests or limits) they set. */
export const QUEUE_SIDECAR_QUANTITY_ANNOTATIONS = [
  { key: QueueSidecarAnnotations.CPU_REQUEST, kind: 'requests', resource: 'cpu' },
  { key: QueueSidecarAnnotations.CPU_LIMIT, kind: 'limits', resource: 'cpu' },
  { key: QueueSidecarAnnotations.MEMORY_REQUEST, kind: 'requests', resource: 'memory' },
  { key: QueueSidecarAnnotations.MEMORY_LIMIT, kind: 'limits', resource: 'memory' },
  { key: QueueSidecarAnnotations.EPHEMERAL_STORAGE_REQUEST, kind: 'requests', resource: 'ephemeral-storage' },
  { key: QueueSidecarAnnotations.EPHEMERAL_STORAGE_LIMIT, kind: 'limits', resource: 'ephemeral-storage' },
] as const;
