/**
 * The queue-proxy sidecar's resources, resolved once per revision as Knative's
 * createQueueResources does (knative/serving pkg/reconciler/revision/resources/queue.go), in its
 * order: config-deployment's values (contract/config.ts DEFAULT_QUEUE_SIDECAR_RESOURCES unless
 * configured), then resource-percentage of the serving container's cpu/memory requests and
 * limits (bounded), then each explicit `queue.sidecar.serving.knative.dev/*` annotation. The
 * builder writes the result as it is.
 */
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { ServingConfig } from '../contract/config';
import { QUEUE_SIDECAR_QUANTITY_ANNOTATIONS, QueueSidecarAnnotations } from '../contract/data-plane';
import { canonicalQuantity, formatMilliBinarySI, parseMilli } from '../contract/quantity';

type ResourceName = 'cpu' | 'memory' | 'ephemeral-storage';
type ResourceList = Partial<Record<ResourceName, string>>;

/**
 * resource-percentage's result is kept within these bounds, in milli-units (knative/serving
 * pkg/reconciler/revision/resources/resourceboundary.go): request cpu 25m..100m, limit cpu
 * 40m..500m, request memory 50Mi..200Mi, limit memory 200Mi..500Mi.
 */
const MI = 1024n * 1024n * 1000n;
const PERCENTAGE_BOUNDS = {
  requests: { cpu: [25n, 100n], memory: [50n * MI, 200n * MI] },
  limits: { cpu: [40n, 500n], memory: [200n * MI, 500n * MI] },
} as const;

/**
 * Malformed annotation values are skipped, as Knative does (the parse reports them). Every value
 * is written in canonical form: Knative parses config-deployment's values and the annotations as
 * quantities and writes them back (resource.Quantity), as the API server would store them.
 */
export function resolveQueueSidecarResources(
  configured: ServingConfig['queueSidecarResources'],
  annotations: Readonly<Record<string, string>>,
  servingResources: IResourceRequirements | undefined,
): IResourceRequirements {
  const c = configured;
  const resources = {
    requests: { cpu: c.cpuRequest, memory: c.memoryRequest, 'ephemeral-storage': c.ephemeralStorageRequest } as ResourceList,
    limits: { cpu: c.cpuLimit, memory: c.memoryLimit, 'ephemeral-storage': c.ephemeralStorageLimit } as ResourceList,
  };
  applyResourcePercentage(annotations, servingResources ?? {}, resources);
  for (const { key, kind, resource } of QUEUE_SIDECAR_QUANTITY_ANNOTATIONS) {
    const v = annotations[key] === undefined ? undefined : canonicalQuantity(annotations[key]);
    if (v !== undefined) resources[kind][resource] = v;
  }
  const set = (r: ResourceList) =>
    Object.fromEntries(Object.entries(r).filter(([, v]) => v).map(([k, v]) => [k, canonicalQuantity(v as string) ?? v]));
  const out: IResourceRequirements = { requests: set(resources.requests) };
  return Object.keys(set(resources.limits)).length > 0 ? { ...out, limits: set(resources.limits) } : out;
}

function applyResourcePercentage(
  annotations: Readonly<Record<string, string>>,
  user: IResourceRequirements,
  resources: { requests: ResourceList; limits: ResourceList },
): void {
  const key = QueueSidecarAnnotations.RESOURCE_PERCENTAGE.find((k) => annotations[k] !== undefined);
  const raw = key === undefined ? undefined : annotations[key].trim();
  if (raw === undefined || raw === '' || !Number.isFinite(Number(raw))) return;
  const fraction = Number(raw) / 100;
  for (const kind of ['requests', 'limits'] as const) {
    for (const name of ['cpu', 'memory'] as const) {
      const q = user[kind]?.[name];
      const milli = q === undefined ? undefined : parseMilli(String(q));
      if (milli === undefined || milli === 0n) continue;
      // Knative multiplies as float64 and truncates to int64.
      const scaled = BigInt(Math.trunc(Number(milli) * fraction));
      const [min, max] = PERCENTAGE_BOUNDS[kind][name];
      resources[kind][name] = formatMilliBinarySI(scaled < min ? min : scaled > max ? max : scaled);
    }
  }
}
