// Scale from zero, scale up under load, scale back to zero: the compiled graph and the runtime
// (activator, autoscaler, queue-proxy) on a real control plane with the node agent as kubelet.
// Requests enter the way Istio would send them: to an address of the revision's public
// Endpoints (PublicEndpointsRouter), or for the cold start straight to an activator pod.
import { type V1Deployment, type V1Endpoints } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { Names } from '../../../lib/contract/naming';
import { waitFor } from '../harness';
import { measureColdStart } from './support/cold-start';
import { describeLoad, runLoad } from './support/load';
import { PublicEndpointsRouter } from './support/router';
import { activatorPods, isReady, listPods, TEST_IMAGE, useServingCluster } from './support/serving';
import { watchRevision } from './support/revision-watch';
import type { Timeline } from './support/watch';

const NS = 'demo';
const REV = 'hello-00001';

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'hello', {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE, env: { START_DELAY_MS: '200' } }],
      // A hard limit of 2 in-flight requests per pod: 6 concurrent clients need more than one pod.
      containerConcurrency: 2,
      // TBC 0: the activator leaves the path as soon as one pod serves (Serve at one pod).
      autoscaling: { initialScale: 0, maxScale: 3, targetBurstCapacity: 0 },
    });
  },
});

let endpoints: Timeline<V1Endpoints, string[]>;
let replicas: Timeline<V1Deployment, number | undefined>;
let router: PublicEndpointsRouter;

beforeAll(async () => {
  ({ endpoints, replicas, router } = await watchRevision(cluster().controlPlane.kubeConfig, NS, REV));
});

afterAll(async () => {
  await Promise.all([endpoints?.stop(), replicas?.stop(), router?.stop()]);
});

async function activatorIPs(): Promise<string[]> {
  return (await activatorPods(cluster())).map((p) => p.status?.podIP ?? '').sort();
}

function timelines(): string {
  return `public Endpoints ${REV}:\n${endpoints.describe()}\nDeployment replicas:\n${replicas.describe()}`;
}

/** waitFor, with the watch timelines in the error: what happened instead, in order. */
async function waitWithTimelines<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  try {
    return await waitFor(what, probe, { timeoutMs });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${timelines()}`);
  }
}

async function readyRevisionPods(): Promise<number> {
  return (await listPods(cluster().core, NS, `${Labels.REVISION}=${REV}`)).filter(isReady).length;
}

describe('scaling', () => {
  it('cold start: a request held by the activator scales the revision 0 -> 1 and is answered; Endpoints go Proxy -> Serve', async () => {
    const c = cluster();
    const activators = await activatorIPs();
    // At zero the public Endpoints list the activators (Proxy mode).
    await waitWithTimelines('public Endpoints in Proxy mode (activator IPs)', () => JSON.stringify(endpoints.current) === JSON.stringify(activators), 60_000);
    // The Deployment declares no replicas, so Kubernetes creates it at 1; the autoscaler applies
    // initial-scale 0 right after putting the activators in the Endpoints.
    await waitWithTimelines('initial-scale 0 applied', () => replicas.current === 0, 30_000);
    await waitFor('the pod Kubernetes started before initial-scale 0 gone', async () => (await listPods(c.core, NS, `${Labels.REVISION}=${REV}`)).length === 0, { timeoutMs: 30_000 });

    const t0 = Date.now();
    const m = await measureColdStart({ core: c.core, agent: c.agent, namespace: NS, revision: REV, activatorIP: activators[0] });
    console.log(`cold start: request-to-response ${m.requestToResponseMs.toFixed(0)} ms, app start-to-ready ${m.appStartToReadyMs} ms, overhead ${m.overheadMs.toFixed(0)} ms (pod ${m.pod})`);
    expect(m.response.status).toBe(200);
    expect(m.response.body).toBe('Hello World!\n');
    // The app's 200 ms start delay is part of the request's time: it really waited for the pod.
    expect(m.appStartToReadyMs).toBeGreaterThanOrEqual(200);
    expect(m.requestToResponseMs).toBeGreaterThanOrEqual(m.appStartToReadyMs);

    expect(replicas.firstAfter(t0, (v) => v === 1), timelines()).toBeDefined();
    // The autoscaler scaled through the scale subresource (its RBAC allows nothing else).
    const scale = await c.apps.readNamespacedDeploymentScale({ name: Names.deployment(REV), namespace: NS });
    expect(scale.spec?.replicas).toBe(1);
    const deployment = await c.apps.readNamespacedDeployment({ name: Names.deployment(REV), namespace: NS });
    // The manifest declares no replicas, so no applier owns them (a re-apply cannot reset them).
    // With no owner before it, the API server records none for the scale write either (1.36).
    const replicasOwners = (deployment.metadata?.managedFields ?? []).filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('"f:replicas"') && f.subresource !== 'status');
    expect(replicasOwners.map((f) => [f.manager, f.subresource]), JSON.stringify(deployment.metadata?.managedFields?.map((f) => [f.manager, f.subresource]))).toEqual([]);
    const pod = await c.core.readNamespacedPod({ name: m.pod, namespace: NS });
    const serve = await waitWithTimelines('public Endpoints in Serve mode (the pod IP)', () => endpoints.firstAfter(t0, (v) => v.length === 1 && v[0] === pod.status?.podIP), 30_000);
    expect(serve.at).toBeGreaterThan(t0);
    expect(endpoints.changes.some((ch) => ch.at < serve.at && JSON.stringify(ch.value) === JSON.stringify(activators)), timelines()).toBe(true);
  });

  it('scale up: sustained load beyond one pod adds pods and no request fails', async () => {
    let maxReady = await readyRevisionPods();
    let sawMoreAt = 0;
    const watcher = setInterval(() => void readyRevisionPods().then((n) => {
      maxReady = Math.max(maxReady, n);
      if (n > 1 && !sawMoreAt) sawMoreAt = Date.now();
    }), 500);
    try {
      const report = await runLoad({
        concurrency: 6,
        maxRequests: 3000,
        maxDurationMs: 60_000,
        // Keep going a few seconds after the second pod is ready, so its arrival is under load.
        until: () => sawMoreAt > 0 && Date.now() - sawMoreAt > 4000,
        send: () => router.request(REV, '/sleep?ms=200', { timeoutMs: 30_000 }),
      });
      console.log(`scale up: ${describeLoad(report)}; max ready pods ${maxReady}`);
      expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
      expect(maxReady, timelines()).toBeGreaterThan(1);
    } finally {
      clearInterval(watcher);
    }
  });

  it('scale to zero: Endpoints switch to the activator before the Deployment reaches zero; requests during the switch succeed', async () => {
    const activators = await activatorIPs();
    const t0 = Date.now();
    const duringSwitch: Promise<number>[] = [];
    // Fired from the watch event itself: the first requests that see the activator in the path.
    const off = endpoints.onChange((ips) => {
      if (JSON.stringify(ips) === JSON.stringify(activators) && duringSwitch.length < 3) {
        for (let i = 0; i < 3; i++) duringSwitch.push(router.request(REV, '/', { timeoutMs: 30_000 }).then((r) => r.status));
      }
    });
    try {
      const zero = await waitWithTimelines('Deployment scaled to zero', () => replicas.firstAfter(t0, (v) => v === 0), 90_000);
      expect(await Promise.all(duringSwitch), timelines()).toEqual([200, 200, 200]);
      // The last Endpoints change before the Deployment reached zero pointed at the activators.
      const before = endpoints.changes.filter((ch) => ch.at <= zero.at).at(-1);
      expect(before?.value, timelines()).toEqual(activators);
    } finally {
      off();
    }
    await waitFor('revision pods gone', async () => (await listPods(cluster().core, NS, `${Labels.REVISION}=${REV}`)).length === 0, { timeoutMs: 30_000 });
    // And from zero it still answers (a second cold start, through the router this time).
    const again = await router.request(REV, '/', { timeoutMs: 60_000 });
    expect(again.status, again.body).toBe(200);
  });
});
