import type { V1Deployment, V1EndpointAddress, V1Endpoints } from '@kubernetes/client-node';
import { DATA_PLANE_ANNOTATION, DataPlaneModes, type DataPlaneMode } from '../../contract/autoscaling';
import { Labels, Ports, QUEUE_CONTAINER_NAME, RevisionDefaults } from '../../contract/constants';

/**
 * What the runtime reads from a revision's compiled Deployment: the graph is the configuration.
 * The autoscaling annotations sit on the Deployment's metadata; containerConcurrency, the timeout
 * and the serving port are the queue-proxy container's env (knative/serving pkg/reconciler/revision/resources/queue.go).
 */
export interface RevisionDeployment {
  readonly namespace: string;
  readonly revision: string;
  readonly deploymentName: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly queuePort: number;
  /** spec.replicas (Kubernetes defaults it to 1). */
  readonly replicas: number;
  readonly progressDeadlineSeconds: number;
  /** `static` when the compiler marked it DataPlane.STATIC (nothing of ours routes or scales it). */
  readonly dataPlane: DataPlaneMode;
  /**
   * metadata.generation: 1 means nobody has changed the spec since the object was created, so
   * no scale write has happened yet (every replicas change bumps it).
   */
  readonly generation: number;
}

export class RevisionDeploymentError extends Error {
  constructor(deployment: string, problem: string) {
    super(`Deployment ${deployment}: ${problem}`);
    this.name = 'RevisionDeploymentError';
  }
}

export function readRevisionDeployment(d: V1Deployment): RevisionDeployment {
  const namespace = d.metadata?.namespace ?? '';
  const name = d.metadata?.name ?? '';
  const where = `${namespace}/${name}`;
  const revision = d.metadata?.labels?.[Labels.REVISION];
  if (!revision) throw new RevisionDeploymentError(where, `has no ${Labels.REVISION} label`);
  const queue = d.spec?.template?.spec?.containers?.find((c) => c.name === QUEUE_CONTAINER_NAME);
  if (!queue) throw new RevisionDeploymentError(where, `has no ${QUEUE_CONTAINER_NAME} container`);
  const env = new Map((queue.env ?? []).map((e) => [e.name, e.value ?? '']));
  const number = (key: string, fallback: number) => {
    const raw = env.get(key);
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new RevisionDeploymentError(where, `${QUEUE_CONTAINER_NAME} env ${key}="${raw}" is not a number >= 0`);
    return n;
  };
  return {
    namespace,
    revision,
    deploymentName: name,
    annotations: d.metadata?.annotations ?? {},
    containerConcurrency: number('CONTAINER_CONCURRENCY', RevisionDefaults.CONTAINER_CONCURRENCY),
    timeoutSeconds: number('REVISION_TIMEOUT_SECONDS', RevisionDefaults.TIMEOUT_SECONDS),
    queuePort: number('QUEUE_SERVING_PORT', Ports.QUEUE_HTTP),
    replicas: d.spec?.replicas ?? 1,
    progressDeadlineSeconds: d.spec?.progressDeadlineSeconds ?? RevisionDefaults.PROGRESS_DEADLINE_SECONDS,
    dataPlane: dataPlaneOf(where, d.metadata?.annotations?.[DATA_PLANE_ANNOTATION]),
    generation: d.metadata?.generation ?? 1,
  };
}

/** The Deployment's data-plane mode annotation; absent means `full`. */
function dataPlaneOf(where: string, value: string | undefined): DataPlaneMode {
  if (value === undefined) return DataPlaneModes.FULL;
  const modes: readonly string[] = Object.values(DataPlaneModes);
  if (!modes.includes(value)) throw new RevisionDeploymentError(where, `annotation ${DATA_PLANE_ANNOTATION}="${value}" is not one of ${modes.join(', ')}`);
  return value as DataPlaneMode;
}

/** IPs of an Endpoints object: ready addresses and not-ready ones, each sorted. */
export function endpointsIps(ep: V1Endpoints | undefined): { ready: string[]; notReady: string[] } {
  const ips = (pick: (s: { addresses?: V1EndpointAddress[]; notReadyAddresses?: V1EndpointAddress[] }) => V1EndpointAddress[] | undefined) =>
    [...new Set((ep?.subsets ?? []).flatMap((s) => (pick(s) ?? []).map((a) => a.ip)))].sort(compareIps);
  return { ready: ips((s) => s.addresses), notReady: ips((s) => s.notReadyAddresses) };
}

/** Numeric order for IPv4 (so 10.0.0.9 < 10.0.0.10), string order otherwise. */
export function compareIps(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  if (pa.length === 4 && pb.length === 4 && [...pa, ...pb].every(Number.isInteger)) {
    for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
