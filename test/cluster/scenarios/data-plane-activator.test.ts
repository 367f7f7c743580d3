// Data-plane mode `activator` (issue 13) on a real control plane with the node agent as kubelet:
// a revision without a queue-proxy, the activator always in its path. The compiled graph
// (DataPlane.ACTIVATOR: no sidecar, the app's own readiness probe, preStop sleep, public Endpoints
// runtime-owned) and the runtime (activator, autoscaler) from the image. Requests enter the way
// Istio would send them: to an address of the revision's public Endpoints (PublicEndpointsRouter),
// which must only ever be an activator.
import { type V1Deployment, type V1Endpoints, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_PLANE_ANNOTATION } from '../../../lib/contract/autoscaling';
import { Labels, QUEUE_CONTAINER_NAME } from '../../../lib/contract/constants';
import { Names } from '../../../lib/contract/naming';
import { KService } from '../../../lib/constructs/kservice';
import { DataPlane } from '../../../lib/model/kservice-props';
import { waitFor } from '../harness';
import { httpGet } from './support/http';
import { describeLoad, runLoad } from './support/load';
import { PublicEndpointsRouter } from './support/router';
import { activatorPods, isReady, listPods, TEST_IMAGE, useServingCluster } from './support/serving';
import { watchRevision } from './support/revision-watch';
import type { Timeline } from './support/watch';

const NS = 'demo';
const REV = 'hello-00001';
const CONTAINER_CONCURRENCY = 1;

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'hello', {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE, env: { START_DELAY_MS: '200' } }],
      dataPlane: DataPlane.ACTIVATOR,
      // One request at a time per pod: the activator alone enforces it (no queue-proxy).
      containerConcurrency: CONTAINER_CONCURRENCY,
      autoscaling: { initialScale: 0, maxScale: 3 },
    });
  },
});

let endpoints: Timeline<V1Endpoints, string[]>;
let replicas: Timeline<V1Deployment, number | undefined>;
let router: PublicEndpointsRouter;
let activators: string[];
/** Per pod IP, the most requests in flight test-app ever reported (its own /stats). */
const maxInFlightByPod = new Map<string, number>();
/** Pod IPs the revision had, from its pods' watch. */
const revisionPodIPs = new Set<string>();

beforeAll(async () => {
  ({ endpoints, replicas, router } = await watchRevision(cluster().controlPlane.kubeConfig, NS, REV));
  activators = (await activatorPods(cluster())).map((p) => p.status?.podIP ?? '').sort();
});

afterAll(async () => {
  await Promise.all([endpoints?.stop(), replicas?.stop(), router?.stop()]);
});

function timelines(): string {
  return `activators ${activators.join(',')}\npublic Endpoints ${REV}:\n${endpoints.describe()}\nDeployment replicas:\n${replicas.describe()}`;
}

async function waitWithTimelines<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  try {
    return await waitFor(what, probe, { timeoutMs });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${timelines()}`);
  }
}

async function revisionPods(): Promise<V1Pod[]> {
  return listPods(cluster().core, NS, `${Labels.REVISION}=${REV}`);
}

/** Reads every ready pod's test-app /stats (straight to podIP:8080) and keeps the maxima. */
async function sampleAppConcurrency(): Promise<void> {
  const ready = (await revisionPods()).filter(isReady);
  await Promise.all(
    ready.map(async (p) => {
      const ip = p.status?.podIP;
      if (!ip) return;
      revisionPodIPs.add(ip);
      const stats = await httpGet(`http://${ip}:8080/stats`, { timeoutMs: 2000 }).catch(() => undefined);
      if (stats?.status !== 200) return;
      const { maxConcurrent } = JSON.parse(stats.body) as { maxConcurrent: number };
      maxInFlightByPod.set(ip, Math.max(maxInFlightByPod.get(ip) ?? 0, maxConcurrent));
    }),
  );
}

/** Every public Endpoints value so far was activators only: never a pod IP. */
function expectOnlyActivatorsInEndpoints(): void {
  for (const change of endpoints.changes) {
    for (const ip of change.value) expect(activators, `public Endpoints listed ${ip}\n${timelines()}`).toContain(ip);
  }
}

describe('data-plane mode activator', () => {
  it('compiles to a Deployment without a queue-proxy that the runtime reads as mode activator', async () => {
    const d = await cluster().apps.readNamespacedDeployment({ name: Names.deployment(REV), namespace: NS });
    expect(d.metadata?.annotations?.[DATA_PLANE_ANNOTATION]).toBe('activator');
    expect(d.spec?.template.spec?.containers.map((c) => c.name)).not.toContain(QUEUE_CONTAINER_NAME);
    expect(d.spec?.template.spec?.containers[0].lifecycle?.preStop?.sleep?.seconds).toBeGreaterThan(0);
  });

  it('at zero: the public Endpoints hold one activator (no pod slot yet: pods × containerConcurrency, at least one), initial-scale 0 applied', async () => {
    await waitWithTimelines('public Endpoints written with an activator', () => endpoints.current !== undefined && endpoints.current.length === 1, 60_000);
    await waitWithTimelines('initial-scale 0 applied', () => replicas.current === 0, 30_000);
    await waitFor('the pod Kubernetes started before initial-scale 0 gone', async () => (await revisionPods()).length === 0, { timeoutMs: 30_000 });
    expectOnlyActivatorsInEndpoints();
  });

  it('bounded load scales 0 -> N; every request answered 200; Endpoints never a pod; the app never sees more than containerConcurrency', async () => {
    let maxReady = 0;
    let sawMoreAt = 0;
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sampling.then(async () => {
        await sampleAppConcurrency();
        const n = (await revisionPods()).filter(isReady).length;
        maxReady = Math.max(maxReady, n);
        if (n > 1 && !sawMoreAt) sawMoreAt = Date.now();
      });
    }, 500);
    try {
      const report = await runLoad({
        concurrency: 4,
        maxRequests: 2000,
        maxDurationMs: 90_000,
        // A few seconds past the second pod's arrival, so it serves under load.
        until: () => sawMoreAt > 0 && Date.now() - sawMoreAt > 5000,
        send: () => router.request(REV, '/sleep?ms=200', { timeoutMs: 60_000 }),
      });
      console.log(`activator mode, scale up: ${describeLoad(report)}; max ready pods ${maxReady}; app max in flight per pod ${JSON.stringify(Object.fromEntries(maxInFlightByPod))}`);
      expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
      expect(maxReady, timelines()).toBeGreaterThan(1);
    } finally {
      clearInterval(sampler);
      await sampling;
    }
    await sampleAppConcurrency();
    expect(maxInFlightByPod.size).toBeGreaterThan(1);
    for (const [ip, max] of maxInFlightByPod) expect(max, `pod ${ip}`).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
    expectOnlyActivatorsInEndpoints();
    for (const ip of revisionPodIPs) expect(endpoints.changes.some((ch) => ch.value.includes(ip)), timelines()).toBe(false);
  });

  it('a pod deleted while it serves a request: that request completes, the next ones go to the other pods', async () => {
    const stats = async (ip: string) => JSON.parse((await httpGet(`http://${ip}:8080/stats`, { timeoutMs: 2000 })).body) as { total: number; inFlight: number };
    const long = router.request(REV, '/sleep?ms=3000', { timeoutMs: 60_000 });
    const serving = await waitFor('the long request on a pod', async () => {
      for (const p of (await revisionPods()).filter(isReady)) {
        const ip = p.status?.podIP;
        if (ip && (await stats(ip).catch(() => undefined))?.inFlight === 1) return p;
      }
      return undefined;
    }, { timeoutMs: 30_000 });
    const goneIP = serving.status!.podIP!;
    const goneBefore = (await stats(goneIP)).total;
    // Graceful deletion: the Endpoints drop the pod at once; its preStop sleep (5 s) keeps the app up.
    await cluster().core.deleteNamespacedPod({ name: serving.metadata!.name!, namespace: NS });
    await waitFor('the pod gone from the private Endpoints', async () => {
      const ep = await cluster().core.readNamespacedEndpoints({ name: Names.privateService(REV), namespace: NS });
      return !(ep.subsets ?? []).some((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])].some((a) => a.ip === goneIP));
    }, { timeoutMs: 10_000 });
    const next = await runLoad({ concurrency: 1, maxRequests: 5, maxDurationMs: 30_000, send: () => router.request(REV, '/sleep?ms=10', { timeoutMs: 30_000 }) });
    expect(next.byStatus, describeLoad(next)).toEqual({ 200: 5 });
    // Still inside the preStop sleep: the app is up, and none of the five reached it.
    expect((await stats(goneIP)).total).toBe(goneBefore);
    const answer = await long;
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toBe('slept 3000\n');
  });

  it('less load: pods terminate (preStop sleep) while requests run, and none is lost', async () => {
    let upTo3 = false;
    // The pod deleted above has left first: only a termination that starts under this load counts.
    await waitFor('no revision pod terminating', async () => !(await revisionPods()).some((p) => p.metadata?.deletionTimestamp), { timeoutMs: 60_000 });
    // Back up to three pods first, so less load has something to scale down.
    const up = await runLoad({
      concurrency: 4,
      maxRequests: 2000,
      maxDurationMs: 60_000,
      until: () => upTo3,
      send: async () => {
        const r = await router.request(REV, '/sleep?ms=200', { timeoutMs: 60_000 });
        if ((await revisionPods()).filter(isReady).length >= 3) upTo3 = true;
        return r;
      },
    });
    expect(up.byStatus, describeLoad(up)).toEqual({ 200: up.total });
    const before = (await revisionPods()).filter(isReady).length;
    let terminatedSome = false;
    const report = await runLoad({
      concurrency: 1,
      maxRequests: 1000,
      maxDurationMs: 60_000,
      until: () => terminatedSome,
      send: async () => {
        const r = await router.request(REV, '/sleep?ms=200', { timeoutMs: 60_000 });
        const now = await revisionPods();
        if (now.some((p) => p.metadata?.deletionTimestamp) || now.filter(isReady).length < before) terminatedSome = true;
        return r;
      },
    });
    console.log(`activator mode, scale down under load: ${describeLoad(report)}; ready pods before ${before}`);
    expect(terminatedSome, timelines()).toBe(true);
    // Keep going across the termination itself (the preStop sleep and the Endpoints change).
    const across = await runLoad({
      concurrency: 1,
      maxRequests: 200,
      maxDurationMs: 8000,
      send: () => router.request(REV, '/sleep?ms=50', { timeoutMs: 60_000 }),
    });
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
    expect(across.byStatus, describeLoad(across)).toEqual({ 200: across.total });
    expectOnlyActivatorsInEndpoints();
  });

  it('no load: scales to zero with the activators still in the public Endpoints; a request then starts it again', async () => {
    const t0 = Date.now();
    await waitWithTimelines('Deployment scaled to zero', () => replicas.firstAfter(t0, (v) => v === 0), 90_000);
    await waitFor('revision pods gone', async () => (await revisionPods()).length === 0, { timeoutMs: 60_000 });
    expect(endpoints.current?.length, timelines()).toBe(1);
    const again = await router.request(REV, '/', { timeoutMs: 60_000 });
    expect(again.status, again.body).toBe(200);
    expect(again.body).toBe('Hello World!\n');
    expectOnlyActivatorsInEndpoints();
  });
});
