// Issue 18, "Done when": capacity split across activators, on a real control plane with the node
// agent as kubelet. Three activator replicas; a data-plane mode `activator` revision (no
// queue-proxy: the activators alone bound what each pod gets) with containerConcurrency 1 and
// three pods. The autoscaler lists all three activators in its public Endpoints (no longer one
// pinned activator), and each activator takes its slice of the pods by its index in that list
// (lib/runtime/activator/subsetting.ts, knative/serving pkg/activator/net/throttler.go).
// Measured on the same run, same load shape: the load sent to one activator only (as if it were
// the only one in the Endpoints) against the load spread over the public Endpoints. The apps'
// own /stats count what they saw: never more than one request at once, and how many pods served
// at once (one activator's slice versus all of them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels, Ports, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { DataPlane } from '../../../lib/model/kservice-props';
import { waitFor } from '../harness';
import { httpGet, httpTry } from './support/http';
import { describeLoad, runLoad, type LoadReport } from './support/load';
import { revisionHeaders, type PublicEndpointsRouter } from './support/router';
import { watchRevision } from './support/revision-watch';
import { activatorPods, isReady, listPods, TEST_IMAGE, useServingCluster } from './support/serving';
import type { Timeline } from './support/watch';
import type { V1Deployment, V1Endpoints } from '@kubernetes/client-node';

const NS = 'demo';
const REV = 'split-00001';
const CONTAINER_CONCURRENCY = 1;
const PODS = 3;
const ACTIVATORS = 3;

const cluster = useServingCluster({
  system: { activatorReplicas: ACTIVATORS },
  // Knative spreads a revision over max(2, capacity / activator-capacity) activators; at 1 every
  // pod's share counts, so three pods are spread over all three activators.
  autoscaler: { activatorCapacity: 1 },
  services: (chart, config) => {
    new KService(chart, 'split', {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE }],
      dataPlane: DataPlane.ACTIVATOR,
      containerConcurrency: CONTAINER_CONCURRENCY,
      // A fixed set of pods: the comparison is about the activators, not scaling.
      autoscaling: { minScale: PODS, maxScale: PODS, initialScale: PODS },
    });
  },
});

let endpoints: Timeline<V1Endpoints, string[]>;
let replicas: Timeline<V1Deployment, number | undefined>;
let router: PublicEndpointsRouter;
let activators: string[];

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

async function podIPs(): Promise<string[]> {
  const pods = await listPods(cluster().core, NS, `${Labels.REVISION}=${REV}`);
  return pods.filter(isReady).map((p) => p.status?.podIP ?? '').filter(Boolean).sort();
}

interface AppStats {
  readonly maxConcurrent: number;
  readonly total: number;
}

/** Every pod's test-app /stats (straight to podIP:8080), reset for the next phase. */
async function takeStats(ips: readonly string[]): Promise<Map<string, AppStats>> {
  const out = new Map<string, AppStats>();
  for (const ip of ips) out.set(ip, JSON.parse((await httpGet(`http://${ip}:8080/stats?reset=1`, { timeoutMs: 5000 })).body) as AppStats);
  return out;
}

/** Bounded load of 100 ms requests: `concurrency` workers, `requests` in all. */
function load(concurrency: number, requests: number, send: (path: string) => ReturnType<typeof httpTry>): Promise<LoadReport> {
  return runLoad({ concurrency, maxRequests: requests, maxDurationMs: 120_000, send: () => send('/sleep?ms=100') });
}

/** A request straight to one activator, as Istio would send it there. */
function toActivator(ip: string, path: string): ReturnType<typeof httpTry> {
  return httpTry(`http://${ip}:${Ports.QUEUE_HTTP}${path}`, { headers: revisionHeaders(NS, REV), timeoutMs: 60_000 });
}

describe('three activators, containerConcurrency 1, three pods (mode activator)', () => {
  let ips: string[];

  it('the public Endpoints list all three activators, not one pinned activator', async () => {
    expect(activators).toHaveLength(ACTIVATORS);
    ips = await waitFor('three ready pods', async () => {
      const now = await podIPs();
      return now.length === PODS && now;
    }, { timeoutMs: 120_000 });
    try {
      await waitFor('all three activators in the public Endpoints', () => endpoints.current?.length === ACTIVATORS, { timeoutMs: 60_000 });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${timelines()}`);
    }
    expect(endpoints.current).toEqual(activators);
    // Every activator serves (each has learned its index and probed its pods).
    for (const ip of activators) await waitFor(`${ip} serving the revision`, async () => (await toActivator(ip, '/')).status === 200, { timeoutMs: 30_000 });
    await takeStats(ips);
  });

  it('under bounded load, no app ever has more than 1 in flight, and the three activators together keep more pods busy at once than one of them', async () => {
    // One activator alone (what one pinned activator gets): only its slice, one pod.
    const one = await load(6, 30, (path) => toActivator(activators[0], path));
    const oneStats = await takeStats(ips);
    // The same load shape over the public Endpoints: all three activators.
    const three = await load(9, 90, (path) => router.request(REV, path, { timeoutMs: 60_000 }));
    const threeStats = await takeStats(ips);
    const busyAtOnce = (stats: Map<string, AppStats>) => [...stats.values()].reduce((sum, s) => sum + s.maxConcurrent, 0);
    console.log(`capacity split: one activator ${describeLoad(one)}, pods ${JSON.stringify(Object.fromEntries(oneStats))}; three activators ${describeLoad(three)}, pods ${JSON.stringify(Object.fromEntries(threeStats))}`);

    expect(one.byStatus, describeLoad(one)).toEqual({ 200: one.total });
    expect(three.byStatus, describeLoad(three)).toEqual({ 200: three.total });
    for (const [ip, s] of [...oneStats, ...threeStats]) expect(s.maxConcurrent, `pod ${ip}`).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
    // One activator's slice: one of the three pods served it all.
    expect([...oneStats.values()].filter((s) => s.total > 0), JSON.stringify([...oneStats])).toHaveLength(1);
    // All three: every pod served, each up to its limit, so more pods busy at once than through one activator.
    for (const [ip, s] of threeStats) expect(s.total, `pod ${ip}`).toBeGreaterThan(0);
    expect(busyAtOnce(threeStats)).toBe(PODS * CONTAINER_CONCURRENCY);
    expect(busyAtOnce(threeStats)).toBeGreaterThan(busyAtOnce(oneStats));
    // The activators stayed as they were throughout.
    expect(endpoints.changes.at(-1)?.value, timelines()).toEqual(activators);
  });

  it('an activator replaced under load (the pods move between activators twice): every request answered 200, no app ever above 1 in flight', async () => {
    const c = cluster();
    const before = await activatorPods(c);
    const victim = before[0];
    let stop = false;
    const running = runLoad({
      concurrency: 9,
      maxRequests: 5000,
      maxDurationMs: 120_000,
      until: () => stop,
      send: () => router.request(REV, '/sleep?ms=100', { timeoutMs: 60_000 }),
    });
    let replacementIP = '';
    try {
      await new Promise((r) => setTimeout(r, 1500));
      await c.core.deleteNamespacedPod({ name: victim.metadata?.name ?? '', namespace: SYSTEM_NAMESPACE });
      const replacement = await waitFor('replacement activator ready', async () => {
        const ready = await activatorPods(c);
        return ready.length === before.length && ready.find((p) => !before.some((b) => b.metadata?.name === p.metadata?.name));
      }, { timeoutMs: 60_000 });
      replacementIP = replacement.status?.podIP ?? '';
      await waitFor("the new activator in the revision's public Endpoints", () => router.addresses(REV).includes(replacementIP), { timeoutMs: 30_000 });
      // Past the handover (ACTIVATOR_HANDOVER_MS, 2 s; twice that for the dropped activator's slots).
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      stop = true;
    }
    const report = await running;
    const stats = await takeStats(ips);
    console.log(`activator replaced under load: ${describeLoad(report)}; pods ${JSON.stringify(Object.fromEntries(stats))}\n${timelines()}`);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
    for (const [ip, s] of stats) expect(s.maxConcurrent, `pod ${ip}\n${timelines()}`).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
    expect(router.addresses(REV)).not.toContain(victim.status?.podIP);
    expect(router.addresses(REV)).toHaveLength(ACTIVATORS);
  });
});
