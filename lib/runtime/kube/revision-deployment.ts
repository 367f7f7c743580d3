import type { V1Container, V1Deployment, V1EndpointAddress, V1Endpoints } from '@kubernetes/client-node';
import { DATA_PLANE_ANNOTATION, DataPlaneModes, type DataPlaneMode } from '../../contract/data-plane';
import { Labels, Ports, QUEUE_CONTAINER_NAME, QueueEnv, RevisionAnnotations, RevisionDefaults } from '../../contract/constants';
import { type ProbeHandler, ProbeParseError, defaultProbe, parseProbe } from '../shared/readiness';

/**
 * What the runtime reads from a revision's compiled Deployment: the graph is the configuration.
 * The autoscaling annotations sit on the Deployment's metadata. In data-plane mode `full` (and
 * `static`) containerConcurrency, the timeout and the serving port are the queue-proxy
 * container's env (knative/serving pkg/reconciler/revision/resources/queue.go); in mode `activator`
 * there is no queue-proxy: they are RevisionAnnotations on the Deployment, and the port and the
 * readiness probe are the serving container's own. `direct` revisions are read only for their mode
 * (the runtime leaves them alone).
 */
export interface RevisionDeployment {
  readonly namespace: string;
  readonly revision: string;
  readonly deploymentName: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  /**
   * The port the public Endpoints name: the queue-proxy's (8012, or 8013 for h2c) in mode `full`;
   * in mode `activator` the activator's own port of the same number (8012), since only activators
   * are ever listed there.
   */
  readonly queuePort: number;
  /** Where the activator sends a request on a pod: `queuePort` in mode `full`, the app's port in mode `activator`. */
  readonly podPort: number;
  /** Mode `activator` only: the queue-proxy's remaining work, done by the activator. */
  readonly activatorAlwaysInPath?: ActivatorAlwaysInPathSettings;
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

/**
 * What the queue-proxy would enforce and probe in a pod, for a revision without one (mode
 * `activator`). 0 turns a timeout off, as REVISION_*_TIMEOUT_SECONDS in the queue-proxy's env.
 */
export interface ActivatorAlwaysInPathSettings {
  readonly responseStartTimeoutSeconds: number;
  readonly idleTimeoutSeconds: number;
  /**
   * The serving container's readiness probe (Knative's default, TCP on the app's port, when it
   * has none), run by the activator against the pod's IP: `host` is ignored (the kubelet's default).
   */
  readonly probe: ProbeHandler;
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
  const annotations = d.metadata?.annotations ?? {};
  const dataPlane = dataPlaneOf(where, annotations[DATA_PLANE_ANNOTATION]);
  const common = {
    namespace,
    revision,
    deploymentName: name,
    annotations,
    replicas: d.spec?.replicas ?? 1,
    progressDeadlineSeconds: d.spec?.progressDeadlineSeconds ?? RevisionDefaults.PROGRESS_DEADLINE_SECONDS,
    dataPlane,
    generation: d.metadata?.generation ?? 1,
  };
  const containers = d.spec?.template?.spec?.containers ?? [];
  if (dataPlane === DataPlaneModes.ACTIVATOR) return { ...common, ...readActivatorAlwaysInPath(where, annotations, containers) };
  if (dataPlane === DataPlaneModes.DIRECT) return { ...common, ...DIRECT_REQUEST_SETTINGS };
  return { ...common, ...readQueueProxy(where, containers) };
}

type RequestSettings = Pick<RevisionDeployment, 'containerConcurrency' | 'timeoutSeconds' | 'queuePort' | 'podPort' | 'activatorAlwaysInPath'>;

/** Nothing of ours is in a `direct` revision's request path; these values are never used. */
const DIRECT_REQUEST_SETTINGS: RequestSettings = {
  containerConcurrency: RevisionDefaults.CONTAINER_CONCURRENCY,
  timeoutSeconds: RevisionDefaults.TIMEOUT_SECONDS,
  queuePort: Ports.QUEUE_HTTP,
  podPort: Ports.QUEUE_HTTP,
};

/** Mode `full`/`static`: the queue-proxy container's env. */
function readQueueProxy(where: string, containers: readonly V1Container[]): RequestSettings {
  const queue = containers.find((c) => c.name === QUEUE_CONTAINER_NAME);
  if (!queue) throw new RevisionDeploymentError(where, `has no ${QUEUE_CONTAINER_NAME} container`);
  const env = new Map((queue.env ?? []).map((e) => [e.name, e.value ?? '']));
  const number = (key: string, fallback: number, min = 0) =>
    parseSetting(where, `${QUEUE_CONTAINER_NAME} env ${key}`, env.get(key), fallback, min);
  const queuePort = number(QueueEnv.QUEUE_SERVING_PORT, Ports.QUEUE_HTTP, 1);
  return {
    containerConcurrency: number(QueueEnv.CONTAINER_CONCURRENCY, RevisionDefaults.CONTAINER_CONCURRENCY),
    timeoutSeconds: number(QueueEnv.REVISION_TIMEOUT_SECONDS, RevisionDefaults.TIMEOUT_SECONDS),
    queuePort,
    podPort: queuePort,
  };
}

/**
 * Mode `activator`: the RevisionAnnotations, and the serving container's port and readiness probe
 * (the activator forwards HTTP/1.1, so an h2c port is refused, and it runs only httpGet (http)
 * and tcpSocket probes: the compiler refuses the others, so meeting one here means a hand-edited
 * Deployment, reported rather than guessed at).
 */
function readActivatorAlwaysInPath(where: string, annotations: Readonly<Record<string, string>>, containers: readonly V1Container[]): RequestSettings {
  const number = (key: string, fallback: number, min = 0) => parseSetting(where, `annotation ${key}`, annotations[key], fallback, min);
  const serving = servingContainer(containers);
  if (!serving) throw new RevisionDeploymentError(where, 'has no containers');
  if (serving.name === QUEUE_CONTAINER_NAME) {
    throw new RevisionDeploymentError(where, `is marked ${DATA_PLANE_ANNOTATION}=${DataPlaneModes.ACTIVATOR} but has a ${QUEUE_CONTAINER_NAME} container`);
  }
  const port = serving.ports?.[0];
  if (port?.name === 'h2c') {
    throw new RevisionDeploymentError(where, `container ${serving.name} port is named h2c: the activator forwards HTTP/1.1 only, so h2c apps need data-plane mode full`);
  }
  const appPort = port?.containerPort ?? Ports.DEFAULT_USER_PORT;
  return {
    containerConcurrency: number(RevisionAnnotations.CONTAINER_CONCURRENCY, RevisionDefaults.CONTAINER_CONCURRENCY),
    timeoutSeconds: number(RevisionAnnotations.TIMEOUT_SECONDS, RevisionDefaults.TIMEOUT_SECONDS, 1),
    // The activator listens on 8012 (8013 h2c); h2c apps were refused above.
    queuePort: Ports.QUEUE_HTTP,
    podPort: appPort,
    activatorAlwaysInPath: {
      responseStartTimeoutSeconds: number(RevisionAnnotations.RESPONSE_START_TIMEOUT_SECONDS, 0),
      idleTimeoutSeconds: number(RevisionAnnotations.IDLE_TIMEOUT_SECONDS, 0),
      probe: appProbe(where, serving, appPort),
    },
  };
}

/** Knative's serving container: the one that declares a port (only one may), else the only one. */
function servingContainer(containers: readonly V1Container[]): V1Container | undefined {
  return containers.find((c) => (c.ports ?? []).length > 0) ?? containers[0];
}

function appProbe(where: string, container: V1Container, appPort: number): ProbeHandler {
  const probe = container.readinessProbe;
  if (probe === undefined) return defaultProbe(appPort).handler;
  const at = `container ${container.name} readinessProbe`;
  if (probe.exec !== undefined || probe.grpc !== undefined) {
    throw new RevisionDeploymentError(where, `${at}: the activator runs only httpGet and tcpSocket probes (${probe.exec ? 'exec' : 'grpc'} given)`);
  }
  let handler: ProbeHandler;
  try {
    handler = parseProbe(probe, '', appPort).handler;
  } catch (err) {
    if (err instanceof ProbeParseError) throw new RevisionDeploymentError(where, `${at}${err.field}: ${err.problem}`);
    throw err;
  }
  if (handler.kind === 'http' && handler.scheme !== 'http') {
    throw new RevisionDeploymentError(where, `${at}.httpGet.scheme: the activator probes over plain HTTP only`);
  }
  return handler;
}

/** A numeric setting: absent or empty → fallback; anything but a finite number >= min → error. */
function parseSetting(where: string, field: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new RevisionDeploymentError(where, `${field}="${raw}" is not a number >= ${min}`);
  return n;
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
