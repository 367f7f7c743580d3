/**
 * The request paths compared on loopback. Each starts its proxies in front of an already running
 * app and says which processes are "the proxy" (their CPU and memory are what we report).
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Child, isAlive, startChild } from '../lib/children';
import { imageRuntime, imageRuntimeUnavailable } from '../lib/runtime-image';
import { freePort, isPortFree, waitForHttp200 } from '../lib/net';
import { DataPlaneModes } from '../../lib/contract/data-plane';
import { BenchOptions } from '../options';
import { Peers } from '../peers';
import { haproxyConfig } from './haproxy-config';
import { BENCH_NAMESPACE, BENCH_REVISION, QUEUE_PROBE_HEADERS, queueProxyEnv, REVISION_HEADERS } from './queue-env';

export const ROOT = path.resolve(__dirname, '../..');
const READY_TIMEOUT_MS = 20_000;
/** Ports Knative's queue-proxy always binds (admin, autoscaler metrics); they are not configurable there. */
const KNATIVE_FIXED_PORTS = [8022, 9090];

export type PathId = 'direct' | 'queue-proxy' | 'activator' | 'haproxy' | 'knative-queue-proxy' | 'mode-activator' | 'mode-direct';

export interface PathContext {
  readonly options: BenchOptions;
  readonly peers: Peers;
  readonly workDir: string;
  readonly appPort: number;
}

export interface RunningPath {
  readonly port: number;
  /** The processes between the load generator and the app (empty for the direct path). */
  readonly proxies: readonly Child[];
  /**
   * Those of `proxies` that every pod of a revision shares (the activator), as opposed to the
   * per-pod sidecar (the queue-proxy): their memory is not counted per pod.
   */
  readonly shared?: readonly Child[];
}

export interface PathDefinition {
  readonly id: PathId;
  readonly label: string;
  /** A reason to skip this path on this machine, or undefined when it can run. */
  unavailable(ctx: Omit<PathContext, 'appPort'>): Promise<string | undefined>;
  start(ctx: PathContext): Promise<RunningPath>;
}

const bundleMissing = async () => imageRuntimeUnavailable();

/** Starts one role of the runtime the way the image's entrypoint does (bench/lib/runtime-image.ts). */
function startRuntime(name: string, role: 'queue-proxy' | 'activator', env: NodeJS.ProcessEnv, cpus: string): Child {
  const runtime = imageRuntime();
  return startChild(name, runtime.node, [...runtime.args, role], { env: { ...env, ...runtime.env }, cpus });
}

const direct: PathDefinition = {
  id: 'direct',
  label: '(a) direct to the app',
  unavailable: async () => undefined,
  start: async (ctx) => ({ port: ctx.appPort, proxies: [] }),
};

const ourQueueProxy: PathDefinition = {
  id: 'queue-proxy',
  label: '(b) our queue-proxy',
  unavailable: bundleMissing,
  start: async (ctx) => {
    const qp = await startOurQueueProxy(ctx, 'queue-proxy');
    return { port: qp.port, proxies: [qp.child] };
  },
};

const activator: PathDefinition = {
  id: 'activator',
  label: '(c) our activator + queue-proxy',
  unavailable: bundleMissing,
  start: async (ctx) => {
    const qp = await startOurQueueProxy(ctx, 'queue-proxy (behind activator)');
    const act = await startActivator(ctx, fullModeRevision(ctx.options.containerConcurrency, qp.port));
    return { port: act.port, proxies: [act.child, qp.child], shared: [act.child] };
  },
};

const haproxy: PathDefinition = {
  id: 'haproxy',
  label: '(d) HAProxy as the queue',
  unavailable: async ({ peers }) => (peers.haproxy ? undefined : 'haproxy is not installed and apt-get install haproxy did not succeed'),
  start: async (ctx) => {
    const port = await freePort();
    const cfg = path.join(ctx.workDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig({ listenPort: port, appPort: ctx.appPort, containerConcurrency: ctx.options.containerConcurrency, revisionTimeoutSeconds: 300 }));
    // -db: stay in the foreground, one process (no master/worker), so /proc/<pid> is the proxy.
    const child = startChild('haproxy', ctx.peers.haproxy!, ['-db', '-f', cfg], { cpus: ctx.options.serverCpus });
    await waitReady(child, port, REVISION_HEADERS);
    return { port, proxies: [child] };
  },
};

const knativeQueueProxy: PathDefinition = {
  id: 'knative-queue-proxy',
  label: "(e) Knative's queue-proxy (Go)",
  unavailable: async ({ peers }) => {
    if (!peers.knativeQueue) return "Knative's queue-proxy was not built (see scripts/build-knative-queue.sh output above)";
    for (const port of KNATIVE_FIXED_PORTS) {
      if (!(await isPortFree(port))) return `port ${port} (fixed in Knative's queue-proxy) is in use by another process`;
    }
    return undefined;
  },
  start: async (ctx) => {
    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', ...queueProxyEnv({ servingPort: port, userPort: ctx.appPort, containerConcurrency: ctx.options.containerConcurrency }) };
    const child = startChild('knative queue-proxy', ctx.peers.knativeQueue!, [], { env, cpus: ctx.options.serverCpus });
    await waitReady(child, port, QUEUE_PROBE_HEADERS);
    return { port, proxies: [child] };
  },
};

/**
 * Data-plane mode `activator` (lib/contract/autoscaling.ts DataPlaneModes): the shared activator
 * sends straight to the app's port, no queue-proxy in the pod (static config `dataPlane: activator`;
 * the activator probes the app itself and enforces the timeouts).
 */
const modeActivator: PathDefinition = {
  id: 'mode-activator',
  label: '(f) mode activator: our activator → app, no sidecar',
  unavailable: bundleMissing,
  start: async (ctx) => {
    const act = await startActivator(ctx, sidecarlessRevision(ctx.options.containerConcurrency, ctx.appPort));
    return { port: act.port, proxies: [act.child], shared: [act.child] };
  },
};

/**
 * Data-plane mode `direct`: nothing between the client and the app. On loopback it is the same
 * set-up as (a); it is measured as a path of its own so the goal "within 5% of the direct path"
 * compares two independent measurements (the difference is the run-to-run noise), not a figure
 * with itself.
 */
const modeDirect: PathDefinition = {
  id: 'mode-direct',
  label: '(g) mode direct: no proxy, measured apart from (a)',
  unavailable: async () => undefined,
  start: async (ctx) => ({ port: ctx.appPort, proxies: [] }),
};

export const PATHS: readonly PathDefinition[] = [direct, ourQueueProxy, activator, haproxy, knativeQueueProxy, modeActivator, modeDirect];

interface Started {
  readonly port: number;
  readonly child: Child;
}

async function startOurQueueProxy(ctx: PathContext, name: string): Promise<Started> {
  const [port, adminPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    ...queueProxyEnv({ servingPort: port, userPort: ctx.appPort, containerConcurrency: ctx.options.containerConcurrency }),
    QUEUE_ADMIN_PORT: String(adminPort),
    QUEUE_METRICS_PORT: String(metricsPort),
    QUEUE_DRAIN_SECONDS: '0',
  };
  const child = startRuntime(name, 'queue-proxy', env, ctx.options.serverCpus);
  await waitReady(child, port, QUEUE_PROBE_HEADERS);
  return { port, child };
}

async function startActivator(ctx: PathContext, revision: StaticRevision): Promise<Started> {
  const [port, h2cPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const staticConfig = path.join(ctx.workDir, 'activator-static.json');
  writeFileSync(staticConfig, JSON.stringify({ revisions: [revision] }, null, 2));
  const env = {
    ...process.env,
    ACTIVATOR_STATIC_CONFIG: staticConfig,
    ACTIVATOR_HTTP_PORT: String(port),
    ACTIVATOR_H2C_PORT: String(h2cPort),
    ACTIVATOR_METRICS_PORT: String(metricsPort),
    ACTIVATOR_DRAIN_SECONDS: '0',
    POD_NAME: 'activator-bench',
    POD_IP: '127.0.0.1',
    SYSTEM_NAMESPACE: 'knative-serving',
  };
  const child = startRuntime('activator', 'activator', env, ctx.options.serverCpus);
  // Ready once a request goes through: the activator has probed the queue-proxy and routes to it.
  await waitReady(child, port, REVISION_HEADERS);
  return { port, child };
}

/** Waits for GET / to answer 200; on failure the error carries the child's last output. */
async function waitReady(child: Child, port: number, headers: Record<string, string>): Promise<void> {
  try {
    await waitForHttp200(port, '/', headers, READY_TIMEOUT_MS, () => isAlive(child));
  } catch (err) {
    throw new Error(`${child.name}: ${(err as Error).message}\n${child.output().slice(-1500)}`);
  }
}

/** One revision of the standalone activator's configuration (lib/runtime/activator/static-config.ts). */
type StaticRevision = Record<string, unknown>;

/** Mode `full`: the activator sends to the pod's queue-proxy. */
function fullModeRevision(containerConcurrency: number, queuePort: number): StaticRevision {
  return { namespace: BENCH_NAMESPACE, revision: BENCH_REVISION, containerConcurrency, timeoutSeconds: 300, queuePort, pods: [`127.0.0.1:${queuePort}`] };
}

/**
 * Mode `activator`: the pod is the app itself; the timeouts as the queue-proxy paths have them
 * (queue-env.ts: response-start and idle off), the app probed by TCP on its port (the default).
 */
function sidecarlessRevision(containerConcurrency: number, appPort: number): StaticRevision {
  return {
    namespace: BENCH_NAMESPACE,
    revision: BENCH_REVISION,
    dataPlane: DataPlaneModes.ACTIVATOR,
    containerConcurrency,
    timeoutSeconds: 300,
    responseStartTimeoutSeconds: 0,
    idleTimeoutSeconds: 0,
    pods: [`127.0.0.1:${appPort}`],
  };
}
