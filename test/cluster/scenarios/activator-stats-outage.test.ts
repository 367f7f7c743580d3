// Issue 18, "Done when": the activators' stats endpoint stops answering for 10 s while a revision
// in Proxy mode is under load, and the revision does not scale down. In Proxy mode every request
// reaches the pods through an activator, so the pods report their load as proxied and the
// autoscaler takes it from the activators' pages instead; a page that does not come must read as
// missing data, not as zero load.
//
// The fault is a real network fault, not a hook in the code: in each activator pod's network
// namespace, every packet sent from the metrics port (9090) goes to a blackhole (policy routing,
// support/faults.ts silencePort). The activators keep running and proxying on 8012; only their
// stats stop answering, for the autoscalers and for this test alike.
//
// The revision: containerConcurrency 1 (a per-pod target of 0.7), maxScale 3, activators always in
// the path (target-burst-capacity -1). Six clients in a loop of 200 ms requests keep about 3 to 6
// requests in the activators (in flight or held), which needs 5 pods or more, capped at 3: it
// scales down only if the autoscaler believes the load fell to 1.4 or less, a wide margin. With
// the code before issue 18 it fell to 0 and the revision went to 1 pod.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type V1Deployment, type V1Endpoints, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOSCALER_LEASE, Labels, Ports, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { waitFor } from '../harness';
import { metricValue, netnsOf, scrape, silencePort } from './support/faults';
import { describeLoad, runLoad } from './support/load';
import type { PublicEndpointsRouter } from './support/router';
import { activatorPods, isReady, listPods, TEST_IMAGE, useServingCluster, type ServingCluster } from './support/serving';
import { watchRevision } from './support/revision-watch';
import type { Timeline } from './support/watch';

const NS = 'stats-outage';
const REV = 'busy-00001';
const MAX_SCALE = 3;
const OUTAGE_MS = 10_000;
/** Samples after the outage: more than the stable window (6 s, FAST_AUTOSCALER) of fresh data. */
const AFTER_MS = 8_000;

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'busy', {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE }],
      containerConcurrency: 1,
      // Panic needs desired ≥ 10 × ready here, which 6 clients never reach: the stable window
      // alone decides (a panic never scales down, which would hide the fault's effect).
      autoscaling: { minScale: 1, maxScale: MAX_SCALE, targetBurstCapacity: -1, panicThresholdPercentage: 1000 },
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

const podName = (p: V1Pod): string => p.metadata?.name ?? '';
const podIP = (p: V1Pod): string => p.status?.podIP ?? '';

function timelines(): string {
  return `public Endpoints ${REV}:\n${endpoints.describe()}\nDeployment replicas:\n${replicas.describe()}`;
}

async function readyRevisionPods(c: ServingCluster): Promise<number> {
  return (await listPods(c.core, NS, `${Labels.REVISION}=${REV}`)).filter(isReady).length;
}

/** A decision gauge of the revision on one autoscaler replica (the one holding its bucket: only it scrapes and decides). */
function deciderGauge(autoscaler: V1Pod, name: string): Promise<number | undefined> {
  return metricValue(podIP(autoscaler), name, { namespace: NS, revision: REV });
}

/** `activator scrape failed` lines of the autoscalers' logs at or after `since`. */
function scrapeFailuresLogged(c: ServingCluster, autoscalers: readonly V1Pod[], since: number): string[] {
  return autoscalers.flatMap((p) =>
    readFileSync(c.agent.worker(SYSTEM_NAMESPACE, podName(p))!.logFiles().autoscaler, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('activator scrape failed'))
      .filter((line) => Date.parse((JSON.parse(line) as { time: string }).time) >= since),
  );
}

describe('the activators\' stats endpoint stops answering for 10 s', () => {
  it('a revision in Proxy mode under load does not scale down, and no request fails', async () => {
    const c = cluster();
    const activators = await activatorPods(c);
    const activatorIPs = activators.map(podIP);
    // Only the replica holding the revision's bucket (one bucket by default: the Lease
    // kservice-autoscaler) scrapes and decides for it; the other stands by without scraping.
    const leases = c.controlPlane.kubeConfig.makeApiClient(CoordinationV1Api);
    const holder = await waitFor('the autoscaler Lease held', async () => (await leases.readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE })).spec?.holderIdentity);
    const autoscalers = (await listPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler')).filter((p) => isReady(p) && podName(p) === holder);
    expect(autoscalers).toHaveLength(1);
    await waitFor('public Endpoints on the activators (Proxy mode)', () => {
      const ips = router.addresses(REV);
      return ips.length > 0 && ips.every((ip) => activatorIPs.includes(ip));
    }, { timeoutMs: 60_000 });

    let stop = false;
    const load = runLoad({
      concurrency: 6,
      maxRequests: 8000,
      maxDurationMs: 180_000,
      until: () => stop,
      send: () => router.request(REV, '/sleep?ms=200', { timeoutMs: 30_000 }),
    });
    // The decider's stable value on each autoscaler, sampled from the node every 500 ms.
    const stable: Array<{ at: number; values: Array<number | undefined> }> = [];
    const sampler = setInterval(() => {
      const at = Date.now();
      void Promise.all(autoscalers.map((a) => deciderGauge(a, 'kservice_autoscaler_stable_value').catch(() => undefined))).then((values) => stable.push({ at, values }));
    }, 500);
    let faultAt = 0;
    let healedAt = 0;
    let stableBefore: Array<number | undefined> = [];
    try {
      await waitFor(`${MAX_SCALE} pods ready under load`, async () => (await readyRevisionPods(c)) === MAX_SCALE, { timeoutMs: 120_000 });
      await waitFor('the deciders not in panic mode', async () => {
        const panic = await Promise.all(autoscalers.map((a) => deciderGauge(a, 'kservice_autoscaler_panic_mode')));
        return panic.every((v) => v === 0);
      }, { timeoutMs: 60_000 });
      expect(replicas.current, timelines()).toBe(MAX_SCALE);
      stableBefore = await Promise.all(autoscalers.map((a) => deciderGauge(a, 'kservice_autoscaler_stable_value')));

      const heals = await Promise.all(
        activators.map(async (p) => silencePort(await netnsOf(c.agent.worker(SYSTEM_NAMESPACE, podName(p))!.pids().activator!), Ports.QUEUE_METRICS)),
      );
      faultAt = Date.now();
      try {
        // The stats really stop answering (seen from the node as well) while the activators proxy on.
        const probes = await Promise.allSettled(activatorIPs.map((ip) => scrape(ip)));
        expect(probes.map((p) => p.status)).toEqual(activatorIPs.map(() => 'rejected'));
        await sleep(OUTAGE_MS - (Date.now() - faultAt));
      } finally {
        for (const heal of heals) await heal();
      }
      healedAt = Date.now();
      for (const ip of activatorIPs) await waitFor(`${ip} stats answering again`, () => scrape(ip).then(() => true, () => false), { timeoutMs: 30_000 });
      await sleep(AFTER_MS);
    } finally {
      stop = true;
      clearInterval(sampler);
    }
    const report = await load;
    const stableSince = stable.filter((s) => s.at >= faultAt).map((s) => s.values.map((v) => v?.toFixed(2)).join('/'));
    console.log(`activator stats outage under load: ${describeLoad(report)}; outage ${healedAt - faultAt} ms; replicas since the fault ${JSON.stringify(replicas.changes.filter((ch) => ch.at >= faultAt).map((ch) => ch.value))}; stable value before ${stableBefore.map((v) => v?.toFixed(2)).join('/')}, since ${stableSince.join(' ')}`);
    // The revision did not scale down, during the outage or after it.
    const since = replicas.changes.filter((ch) => ch.at >= faultAt).map((ch) => ch.value);
    expect(since.every((v) => v === MAX_SCALE), timelines()).toBe(true);
    expect(replicas.current, timelines()).toBe(MAX_SCALE);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
    // The replica measuring the revision did see the activators fail...
    const logged = scrapeFailuresLogged(c, autoscalers, faultAt);
    expect(logged.length, 'autoscaler log lines "activator scrape failed" since the fault').toBeGreaterThanOrEqual(autoscalers.length);
    // ...and the load they believed never fell: no zeros counted for the missing pages.
    for (const [i, before] of stableBefore.entries()) {
      const seen = stable.filter((s) => s.at >= faultAt).map((s) => s.values[i]).filter((v): v is number => v !== undefined);
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen), `stable value on ${podName(autoscalers[i])}: ${before} before, ${seen.join(' ')} since the fault`).toBeGreaterThan((before ?? 0) / 2);
    }
  });
});
