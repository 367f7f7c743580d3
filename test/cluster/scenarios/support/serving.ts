// A whole compiled serving graph running on the node agent: the app (ServingSystem + KServices)
// is synthesized in-process with cdk8s, applied with server-side apply after the Istio CRDs, and
// the activator and autoscaler Deployments run as pods (the runtime bundle under node, with the
// ServiceAccount tokens and RBAC the compiler generated). Revision pods run queue-proxy (runtime
// bundle) next to test-app.mjs as the user container.
import { App, Chart } from 'cdk8s';
import {
  AppsV1Api, CoreV1Api, type KubernetesObject, type V1Deployment, type V1Endpoints, type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { AutoscalerConfigProps, ServingConfigProps } from '../../../../lib/contract/config';
import { DEFAULT_RUNTIME_IMAGE, SYSTEM_NAMESPACE } from '../../../../lib/contract/constants';
import { ServingSystem, type ServingSystemProps } from '../../../../lib/constructs/serving-system';
import { waitFor } from '../../harness';
import { startNodeCluster, stopNodeCluster, type NodeCluster } from '../../node-agent/cluster';
import { runtimeImage, runtimeImageRootfs, testAppImage, type ImageRule } from '../../node-agent/images';

/** The user image of every scenario KService; the agent runs it as test-app.mjs. */
export const TEST_IMAGE = 'registry.test/test-app:1';

/**
 * Short drains so pods leave within seconds (defaults: queue-proxy 30 s, activator 45 s).
 * Added by the agent to every runtime container, on top of the pod's env.
 */
export const RUNTIME_TEST_ENV = { QUEUE_DRAIN_SECONDS: '2', ACTIVATOR_DRAIN_SECONDS: '2' };

/**
 * config-autoscaler tuned for test speed (Knative: stable window 60 s, grace 30 s): decisions
 * come after seconds, not minutes. Zero initial scale lets a revision start cold.
 */
export const FAST_AUTOSCALER: AutoscalerConfigProps = {
  stableWindowSeconds: 6,
  // Knative's minimum (config-autoscaler validation; the constructs refuse less since ccdcb20).
  scaleToZeroGracePeriodSeconds: 6,
  scaleToZeroPodRetentionPeriodSeconds: 0,
  allowZeroInitialScale: true,
};

export interface ServingScenarioOptions {
  /** Adds the KServices under test to the chart. `config` is what the ServingSystem uses. */
  readonly services: (chart: Chart, config: ServingConfigProps) => void;
  /** Overrides on top of FAST_AUTOSCALER. */
  readonly autoscaler?: AutoscalerConfigProps;
  readonly system?: Omit<ServingSystemProps, 'config'>;
  /** More images the node agent can run, besides the runtime and TEST_IMAGE (e.g. a crashing app). */
  readonly images?: readonly ImageRule[];
  /**
   * Applies the synthesized objects (Namespaces first) in place of the default server-side apply
   * as `kservice`, e.g. the way a GitOps engine would (gitops-engines.test.ts).
   */
  readonly apply?: (controlPlane: NodeCluster['controlPlane'], objects: KubernetesObject[]) => Promise<void>;
}

export interface ServingCluster extends NodeCluster {
  readonly objects: KubernetesObject[];
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}

/** Synthesizes the app in-process (validations included) and returns its objects. */
export function synthesize(opts: ServingScenarioOptions): KubernetesObject[] {
  const config: ServingConfigProps = { autoscaler: { ...FAST_AUTOSCALER, ...opts.autoscaler } };
  const app = new App({ outdir: '/nonexistent-not-written' });
  const chart = new Chart(app, 'scenario');
  new ServingSystem(chart, 'system', { ...opts.system, config });
  opts.services(chart, config);
  return parseAllDocuments(app.synthYaml()).map((d) => d.toJS() as KubernetesObject).filter(Boolean);
}

/**
 * Namespace objects for namespaces the objects use but do not declare (e.g. istio-system, where
 * Istio's installation would have created it), so they can be applied to an empty cluster.
 */
export function missingNamespaces(objects: readonly KubernetesObject[]): KubernetesObject[] {
  const declared = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata?.name));
  const used = new Set(objects.map((o) => o.metadata?.namespace).filter((n): n is string => Boolean(n) && !declared.has(n)));
  return [...used].sort().map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
}

/** Namespaces first (everything else lives in one), otherwise the synthesized order. */
export function applyOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  const isNs = (o: KubernetesObject): boolean => o.kind === 'Namespace';
  return [...objects.filter(isNs), ...objects.filter((o) => !isNs(o))];
}

export function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && Boolean(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

export async function listPods(core: CoreV1Api, namespace: string, labelSelector: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector })).items;
}

/** Waits until `count` pods matching the selector are Ready; returns them. */
export async function waitForReadyPods(core: CoreV1Api, namespace: string, labelSelector: string, count: number, timeoutMs = 90_000): Promise<V1Pod[]> {
  return waitFor(`${count} ready pods ${labelSelector} in ${namespace}`, async () => {
    const ready = (await listPods(core, namespace, labelSelector)).filter(isReady);
    return ready.length === count && ready;
  }, { timeoutMs });
}

export function activatorPods(c: ServingCluster): Promise<V1Pod[]> {
  return listPods(c.core, SYSTEM_NAMESPACE, 'app=activator').then((p) => p.filter(isReady));
}

/** Addresses of an Endpoints object, sorted. */
export function endpointIPs(ep: V1Endpoints | undefined): string[] {
  return (ep?.subsets ?? []).flatMap((s) => s.addresses ?? []).map((a) => a.ip).sort();
}

export async function deploymentOf(c: ServingCluster, namespace: string, name: string): Promise<V1Deployment> {
  return c.apps.readNamespacedDeployment({ name, namespace });
}

async function startServing(opts: ServingScenarioOptions): Promise<ServingCluster> {
  const objects = synthesize(opts);
  // The runtime pods run from the image that ships (npm run image), unpacked.
  const runtime = runtimeImageRootfs();
  const node = await startNodeCluster({
    images: [runtimeImage(DEFAULT_RUNTIME_IMAGE, RUNTIME_TEST_ENV, runtime), testAppImage(TEST_IMAGE), ...(opts.images ?? [])],
  });
  const c: ServingCluster = {
    ...node,
    objects,
    core: node.controlPlane.kubeConfig.makeApiClient(CoreV1Api),
    apps: node.controlPlane.kubeConfig.makeApiClient(AppsV1Api),
  };
  try {
    await node.controlPlane.installIstioCrds();
    await node.controlPlane.applyObjects(missingNamespaces(objects), 'scenario-setup');
    if (opts.apply) await opts.apply(node.controlPlane, applyOrder(objects));
    else await node.controlPlane.applyObjects(applyOrder(objects), 'kservice');
    const replicas = (name: string): number => {
      const d = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name && o.metadata.namespace === SYSTEM_NAMESPACE) as V1Deployment | undefined;
      return d?.spec?.replicas ?? 1;
    };
    await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=activator', replicas('activator'));
    await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', replicas('autoscaler'));
    return c;
  } catch (e) {
    await stopNodeCluster(node, true);
    throw e;
  }
}

/** beforeAll/afterAll for one serving cluster per test file; returns a getter. */
export function useServingCluster(opts: ServingScenarioOptions): () => ServingCluster {
  let cluster: ServingCluster | undefined;
  let failed = false;
  beforeAll(async () => {
    cluster = await startServing(opts);
  }, 300_000);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (cluster) await stopNodeCluster(cluster, failed);
  });
  return () => {
    if (!cluster) throw new Error('serving cluster not started (beforeAll failed?)');
    return cluster;
  };
}
