// Hostile faults on the real control plane, under bounded load, with every request counted: a
// revision's app crashing during its cold start, an activator SIGKILLed while it holds requests,
// the autoscaler leader cut off from the API server for longer than its Lease, and kube-apiserver
// and etcd stopped and started again. Each test counts requests sent and requests answered (none
// may hang or get lost) and asserts what each answer may be.
//
// Requests reach the runtime as in faults.test.ts: through PublicEndpointsRouter (Istio's part:
// one address of the public Endpoints per request, no retries, as Knative's VirtualService sets
// `retries: {}`) or straight to an activator pod. A process killed with SIGKILL cannot answer:
// its clients see the connection reset, which Envoy would turn into a 503 ("upstream connect
// error or disconnect/reset before headers"); those are counted as resets.
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type V1Pod } from '@kubernetes/client-node';
import { Duration } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOSCALER_LEASE } from '../../../lib/builders/rbac';
import { Labels, Ports, SYSTEM_NAMESPACE, USER_CONTAINER_NAME } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import type { KServiceProps } from '../../../lib/model/kservice-props';
import { Names } from '../../../lib/contract/naming';
import { waitFor } from '../harness';
import {
  activatorLoad, crashingImages, cutOffFromApi, leadershipChanges, leadershipIntervals, metricValue, netnsOf,
  overlappingLeaders,
} from './support/faults';
import { httpTry, type HttpResult } from './support/http';
import { answered, describeLoad, runLoad, type LoadReport } from './support/load';
import { PublicEndpointsRouter, revisionHeaders } from './support/router';
import { isReady, listPods, TEST_IMAGE, useServingCluster, waitForReadyPods, type ServingCluster } from './support/serving';

const NS = 'hostile';
/** minScale 2, activator always in the path: the revision the background load goes to. */
const STEADY = 'steady-00001';
/** At zero until a test wakes it: the proof that a scale decision lands after a fault. */
const WAKE_AFTER_RESTART = 'wake-a-00001';
const WAKE_AFTER_CUT_OFF = 'wake-b-00001';
/** A cold start that takes seconds (the app waits 4 s before listening), so requests stay held. */
const SLOW = 'slow-00001';
/** Its app exits 300 ms after every start; revision timeout 6 s. */
const CRASHING = 'crashing-00001';
/** Its app exits on the pod's first start only, then serves. */
const CRASH_ONCE = 'crash-once-00001';

const CRASH_ALWAYS_IMAGE = 'registry.test/crash-always:1';
const CRASH_ONCE_IMAGE = 'registry.test/crash-once:1';
const crashing = crashingImages({ always: CRASH_ALWAYS_IMAGE, once: CRASH_ONCE_IMAGE });
const CRASHING_TIMEOUT_SECONDS = 6;

const atZero = { initialScale: 0, maxScale: 1 };

const cluster = useServingCluster({
  images: crashing.rules,
  services: (chart, config) => {
    const service = (id: string, props: Omit<KServiceProps, 'namespace' | 'config'>) =>
      new KService(chart, id, { namespace: NS, config, ...props });
    service('steady', {
      containers: [{ image: TEST_IMAGE }],
      containerConcurrency: 2,
      autoscaling: { minScale: 2, maxScale: 3, targetBurstCapacity: -1 },
    });
    service('wake-a', { containers: [{ image: TEST_IMAGE }], autoscaling: atZero });
    service('wake-b', { containers: [{ image: TEST_IMAGE }], autoscaling: atZero });
    service('slow', { containers: [{ image: TEST_IMAGE, env: { START_DELAY_MS: '4000' } }], autoscaling: atZero, timeout: Duration.seconds(60) });
    service('crashing', { containers: [{ image: CRASH_ALWAYS_IMAGE }], autoscaling: atZero, timeout: Duration.seconds(CRASHING_TIMEOUT_SECONDS) });
    service('crash-once', { containers: [{ image: CRASH_ONCE_IMAGE }], autoscaling: atZero, timeout: Duration.seconds(60) });
  },
});

let router: PublicEndpointsRouter;

beforeAll(async () => {
  const c = cluster();
  await waitForReadyPods(c.core, NS, `${Labels.REVISION}=${STEADY}`, 2);
  router = new PublicEndpointsRouter(c.controlPlane.kubeConfig, NS);
  await router.start();
  await waitFor('public Endpoints of the steady revision', () => router.addresses(STEADY).length > 0, { timeoutMs: 60_000 });
});

afterAll(async () => {
  await router?.stop();
  crashing.cleanup();
});

interface LoadHooks {
  readonly onResult?: (r: HttpResult, sentAt: number, endedAt: number) => void;
  /** Instead of router.request(STEADY, ...), e.g. to record which address each request went to. */
  readonly send?: () => Promise<HttpResult>;
}

const STEADY_PATH = '/sleep?ms=100';

/** Load on the steady revision while `during` runs, and 2 s longer; every result is tallied. */
async function underLoad(during: () => Promise<void>, hooks: LoadHooks = {}): Promise<LoadReport> {
  let stop = false;
  const load = runLoad({
    concurrency: 4,
    maxRequests: 6000,
    maxDurationMs: 150_000,
    until: () => stop,
    send: hooks.send ?? (() => router.request(STEADY, STEADY_PATH, { timeoutMs: 30_000 })),
    onResult: hooks.onResult,
  });
  try {
    await sleep(1500);
    await during();
    await sleep(2000);
  } finally {
    stop = true;
  }
  return load;
}

/** Every request answered, every answer a 200. */
function expectAllServed(report: LoadReport): void {
  expect(report.total).toBeGreaterThan(0);
  expect(answered(report), describeLoad(report)).toBe(report.total);
  expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
}

function podIP(p: V1Pod): string {
  return p.status?.podIP ?? '';
}

function podName(p: V1Pod): string {
  return p.metadata?.name ?? '';
}

async function readyIn(c: ServingCluster, namespace: string, selector: string): Promise<V1Pod[]> {
  return (await listPods(c.core, namespace, selector)).filter(isReady);
}

/** PIDs of the activator and autoscaler processes, by pod: unchanged means none of them restarted. */
async function systemPids(c: ServingCluster): Promise<Record<string, number | undefined>> {
  const pods = await listPods(c.core, SYSTEM_NAMESPACE, 'app in (activator,autoscaler)');
  return Object.fromEntries(pods.map((p) => {
    const container = p.metadata?.labels?.app ?? '';
    return [podName(p), c.agent.worker(SYSTEM_NAMESPACE, podName(p))?.pids()[container]];
  }));
}

/** Neither activator holds or proxies anything for the revision any more: no slot leaked. */
async function expectNoActivatorSlots(c: ServingCluster, revision: string): Promise<void> {
  for (const pod of await readyIn(c, SYSTEM_NAMESPACE, 'app=activator')) {
    const load = await waitFor(`activator ${podName(pod)} idle for ${revision}`, async () => {
      const l = await activatorLoad(podIP(pod), NS, revision);
      return l.queued === 0 && l.inFlight === 0 && l;
    }, { timeoutMs: 15_000 }).catch(async () => activatorLoad(podIP(pod), NS, revision));
    expect(load, `activator ${podName(pod)} for ${revision}`).toEqual({ queued: 0, inFlight: 0 });
  }
}

async function revisionRestarts(c: ServingCluster, revision: string): Promise<number> {
  const pods = await listPods(c.core, NS, `${Labels.REVISION}=${revision}`);
  return Math.max(0, ...pods.map((p) => p.status?.containerStatuses?.find((s) => s.name === USER_CONTAINER_NAME)?.restartCount ?? 0));
}

/** A request to a revision at zero is answered: the autoscaler (leader) scaled it, end to end. */
async function expectScaleFromZero(c: ServingCluster, revision: string): Promise<void> {
  expect(await scaleOf(c, revision), `${revision} starts at zero`).toBe(0);
  const r = await router.request(revision, '/', { timeoutMs: 120_000 });
  expect(r.status, r.body).toBe(200);
  expect(await scaleOf(c, revision)).toBe(1);
}

/** spec.replicas of the revision's scale subresource (omitted from the JSON when 0). */
async function scaleOf(c: ServingCluster, revision: string): Promise<number> {
  return (await c.apps.readNamespacedDeploymentScale({ name: Names.deployment(revision), namespace: NS })).spec?.replicas ?? 0;
}

function tally(results: readonly HttpResult[]): Record<string, number> {
  const byOutcome: Record<string, number> = {};
  for (const r of results) {
    const outcome = r.status !== 0 ? String(r.status)
      : /ECONNRESET|socket hang up/.test(r.body) ? 'reset'
        : /ECONNREFUSED/.test(r.body) ? 'refused'
          : `error: ${r.body}`;
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  }
  return byOutcome;
}

describe('hostile faults', () => {
  it('an app that crashes during its cold start, under load elsewhere: held requests get 503 with Retry-After at the revision timeout, no slot leaks, the runtime stays up', async () => {
    const c = cluster();
    const pidsBefore = await systemPids(c);
    await waitFor(`${CRASHING} in Proxy mode`, () => router.addresses(CRASHING).length > 0, { timeoutMs: 30_000 });
    let results: HttpResult[] = [];
    const report = await underLoad(async () => {
      results = await Promise.all(Array.from({ length: 4 }, () => router.request(CRASHING, '/', { timeoutMs: 60_000 })));
    });
    console.log(`crashing app, 4 held requests: ${JSON.stringify(tally(results))}; steady load meanwhile: ${describeLoad(report)}`);
    expect(tally(results)).toEqual({ 503: 4 });
    for (const r of results) {
      expect(r.headers['retry-after'], JSON.stringify(r.headers)).toMatch(/^\d+$/);
      expect(r.body).toMatch(/no pod became available: revision timeout of 6s reached/);
    }
    expectAllServed(report);
    // The app did start and crash, and was restarted: the cold start really failed that way.
    await waitFor(`${CRASHING}'s app restarted after crashing`, async () => (await revisionRestarts(c, CRASHING)) >= 1, { timeoutMs: 15_000 });
    await expectNoActivatorSlots(c, CRASHING);
    await expectNoActivatorSlots(c, STEADY);
    expect(await systemPids(c)).toEqual(pidsBefore);
  });

  it('an app that crashes on its first start only, under load elsewhere: the held requests are served after the restart, no slot leaks', async () => {
    const c = cluster();
    const pidsBefore = await systemPids(c);
    await waitFor(`${CRASH_ONCE} in Proxy mode`, () => router.addresses(CRASH_ONCE).length > 0, { timeoutMs: 30_000 });
    let results: HttpResult[] = [];
    const report = await underLoad(async () => {
      results = await Promise.all(Array.from({ length: 4 }, () => router.request(CRASH_ONCE, '/', { timeoutMs: 90_000 })));
    });
    const restarts = await revisionRestarts(c, CRASH_ONCE);
    console.log(`crash-once app, 4 held requests: ${JSON.stringify(tally(results))}; app restarts ${restarts}; steady load meanwhile: ${describeLoad(report)}`);
    expect(tally(results)).toEqual({ 200: 4 });
    expect(restarts).toBe(1);
    expectAllServed(report);
    await expectNoActivatorSlots(c, CRASH_ONCE);
    await expectNoActivatorSlots(c, STEADY);
    expect(await systemPids(c)).toEqual(pidsBefore);
  });

  it('an activator SIGKILLed while it holds requests for a revision at zero, under load: every request ends; only those at the killed process fail, as resets or refused connections; the other activator serves; the restarted one takes over', async () => {
    const c = cluster();
    const [victim, survivor] = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=activator', 2);
    const worker = c.agent.worker(SYSTEM_NAMESPACE, podName(victim));
    const victimPid = worker?.pids().activator;
    expect(victimPid).toBeDefined();
    expect(await scaleOf(c, SLOW)).toBe(0);
    // STEADY keeps the activators in the path: the load is spread over both, by address.
    expect(router.addresses(STEADY)).toEqual([podIP(victim), podIP(survivor)].sort());
    const loadByTarget = new Map<string, HttpResult[]>();
    let next = 0;
    const sendSteady = async (): Promise<HttpResult> => {
      const ips = router.addresses(STEADY);
      const ip = ips[next++ % ips.length];
      const r = await httpTry(`http://${ip}:${Ports.QUEUE_HTTP}${STEADY_PATH}`, { headers: revisionHeaders(NS, STEADY), timeoutMs: 30_000 });
      loadByTarget.set(ip, [...(loadByTarget.get(ip) ?? []), r]);
      return r;
    };

    const HELD = 4;
    const send = (pod: V1Pod) => httpTry(`http://${podIP(pod)}:${Ports.QUEUE_HTTP}/`, { headers: revisionHeaders(NS, SLOW), timeoutMs: 90_000 });
    let victimResults: HttpResult[] = [];
    let survivorResults: HttpResult[] = [];
    let again: HttpResult[] = [];
    const report = await underLoad(async () => {
      const atVictim = Array.from({ length: HELD }, () => send(victim));
      const atSurvivor = Array.from({ length: HELD }, () => send(survivor));
      // Held: both activators report the requests queued (the app needs 4 s to listen).
      await waitFor('both activators hold the requests', async () => {
        const [v, s] = await Promise.all([activatorLoad(podIP(victim), NS, SLOW), activatorLoad(podIP(survivor), NS, SLOW)]);
        return v.queued === HELD && s.queued === HELD;
      }, { timeoutMs: 10_000 });
      expect(worker?.signal('activator', 'SIGKILL')).toBe(true);
      victimResults = await Promise.all(atVictim);
      survivorResults = await Promise.all(atSurvivor);
      // The node agent restarts the container; the new process serves the (now warm) revision.
      await waitFor('the killed activator restarted and ready', async () => {
        const pid = c.agent.worker(SYSTEM_NAMESPACE, podName(victim))?.pids().activator;
        const ready = (await readyIn(c, SYSTEM_NAMESPACE, 'app=activator')).some((p) => podName(p) === podName(victim));
        return pid !== undefined && pid !== victimPid && ready;
      }, { timeoutMs: 60_000 });
      again = await Promise.all(Array.from({ length: HELD }, () => send(victim)));
    }, { send: sendSteady });
    const atKilled = tally(loadByTarget.get(podIP(victim)) ?? []);
    const atOther = tally(loadByTarget.get(podIP(survivor)) ?? []);
    console.log(`activator SIGKILLed holding ${HELD}: its held requests ${JSON.stringify(tally(victimResults))}, the other activator's ${JSON.stringify(tally(survivorResults))}; ` +
      `load ${describeLoad(report)}: via the killed activator's address ${JSON.stringify(atKilled)}, via the other ${JSON.stringify(atOther)}`);
    // None hung (a hang would end as the client's own timeout error, an outcome of its own).
    expect(tally(victimResults)).toEqual({ reset: HELD });
    expect(tally(survivorResults)).toEqual({ 200: HELD });
    expect(tally(again)).toEqual({ 200: HELD });
    expect(answered(report), describeLoad(report)).toBe(report.total);
    expect(atOther).toEqual({ 200: loadByTarget.get(podIP(survivor))?.length });
    expect(Object.keys(atKilled).filter((k) => !['200', 'reset', 'refused'].includes(k)), JSON.stringify(atKilled)).toEqual([]);
    await expectNoActivatorSlots(c, SLOW);
    await expectNoActivatorSlots(c, STEADY);
  });

  it('the autoscaler leader cut off from the API server for longer than its Lease: it steps down, the other replica leads, never two at once; traffic goes on; a scale decision lands', async () => {
    const c = cluster();
    const cp = c.controlPlane;
    const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const lease = () => leases.readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE });
    const autoscalers = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    const leader = await waitFor('an autoscaler leader', async () => {
      const holder = (await lease()).spec?.holderIdentity;
      return autoscalers.find((p) => podName(p) === holder);
    });
    const other = autoscalers.find((p) => p !== leader)!;
    const leaseSeconds = (await lease()).spec?.leaseDurationSeconds ?? 15;
    const worker = c.agent.worker(SYSTEM_NAMESPACE, podName(leader))!;
    const netns = await netnsOf(worker.pids().autoscaler!);

    // Both replicas' own leader gauge, sampled from the node (the cut is toward the API server only).
    const samples: Array<{ at: number; leader: number | undefined; other: number | undefined }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [l, o] = await Promise.all([leader, other].map((p) => metricValue(podIP(p), 'kservice_autoscaler_leader').catch(() => undefined)));
        samples.push({ at: Date.now(), leader: l, other: o });
        await sleep(200);
      }
    })();

    let cutAt = 0;
    let healedAt = 0;
    let report: LoadReport;
    try {
      report = await underLoad(async () => {
        const heal = await cutOffFromApi(netns, cp.apiServerUrl);
        cutAt = Date.now();
        try {
          await waitFor('the cut-off leader steps down', () => samples.at(-1)?.leader === 0, { timeoutMs: 60_000 });
          await waitFor('the other replica holds the Lease', async () => (await lease()).spec?.holderIdentity === podName(other), { timeoutMs: 60_000 });
          // Cut off for longer than the Lease in any case.
          await sleep(Math.max(0, cutAt + (leaseSeconds + 2) * 1000 - Date.now()));
        } finally {
          await heal();
          healedAt = Date.now();
        }
        // Reconnected, the old leader stays a follower: a few of its retry periods pass.
        await sleep(6000);
      });
    } finally {
      sampling = false;
      await sampler;
    }
    console.log(`autoscaler leader cut off ${healedAt - cutAt} ms (lease ${leaseSeconds}s): ${describeLoad(report)}; ${samples.length} leader samples`);
    expectAllServed(report);
    expect((await lease()).spec?.holderIdentity).toBe(podName(other));

    // Never two leaders: not in any sample of the gauges, and not in the replicas' own logs.
    expect(samples.filter((s) => s.leader === 1 && s.other === 1)).toEqual([]);
    expect(samples.some((s) => s.at > cutAt && s.leader === 0 && s.other === 1)).toBe(true);
    const changes = [leader, other].flatMap((p) => leadershipChanges(c.agent.worker(SYSTEM_NAMESPACE, podName(p))!.logFiles().autoscaler));
    const intervals = leadershipIntervals(changes);
    expect(overlappingLeaders(intervals), JSON.stringify(intervals)).toEqual([]);
    const stepDown = changes.find((ch) => ch.identity === podName(leader) && !ch.leading && ch.at >= cutAt);
    const takeOver = changes.find((ch) => ch.identity === podName(other) && ch.leading && ch.at >= cutAt);
    expect(stepDown, JSON.stringify(changes)).toBeDefined();
    expect(takeOver, JSON.stringify(changes)).toBeDefined();
    expect(takeOver!.at).toBeGreaterThan(stepDown!.at);

    // The new leader acts: a revision at zero is scaled up and serves.
    await expectScaleFromZero(c, WAKE_AFTER_CUT_OFF);
    await expectNoActivatorSlots(c, STEADY);
  });

  it('kube-apiserver and etcd stopped and started again on the same ports and data: traffic goes on during the outage; afterwards leader election and the informers recover and a scale decision lands', async () => {
    const c = cluster();
    const cp = c.controlPlane;
    const leases = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const OUTAGE_MS = 12_000; // longer than the autoscaler's renew deadline (10 s): the leader steps down
    let stopping = 0; // the outage starts when kube-apiserver is told to stop (it shuts down gracefully)
    let down = 0; // both processes gone
    let up = 0;
    let servedDuringOutage = 0;
    const report = await underLoad(async () => {
      stopping = Date.now();
      await cp.stopApi();
      down = Date.now();
      await expect(c.core.listNamespacedPod({ namespace: NS }), 'the API is down').rejects.toThrow();
      await sleep(OUTAGE_MS);
      await cp.startApi();
      up = Date.now();
    }, {
      onResult: (r, sentAt, endedAt) => {
        if (r.status === 200 && down > 0 && sentAt >= down && (up === 0 || endedAt <= up)) servedDuringOutage++;
      },
    });
    console.log(`API outage ${up - stopping} ms (stopping ${down - stopping} ms, down ${up - down} ms): ${describeLoad(report)}; ${servedDuringOutage} served while it was down`);
    expectAllServed(report);
    expect(servedDuringOutage).toBeGreaterThan(0);

    // Leader election recovered: a leader renews the Lease after the restart.
    await waitFor('the Lease renewed after the restart', async () => {
      const renew = (await leases.readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE })).spec?.renewTime;
      return renew !== undefined && new Date(renew).getTime() > up;
    }, { timeoutMs: 60_000 });
    // The leader could not renew during the outage and stepped down; a replica leads again after it.
    const changes = (await listPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler'))
      .flatMap((p) => leadershipChanges(c.agent.worker(SYSTEM_NAMESPACE, podName(p))!.logFiles().autoscaler));
    // (A renewal can land a moment before /readyz answers, i.e. before `up`.)
    const stepDown = changes.find((ch) => !ch.leading && ch.at > stopping && ch.at < up);
    expect(stepDown, JSON.stringify({ stopping, up, changes })).toBeDefined();
    expect(changes.some((ch) => ch.leading && ch.at > stepDown!.at), JSON.stringify({ stopping, up, changes })).toBe(true);
    expect(overlappingLeaders(leadershipIntervals(changes))).toEqual([]);
    // And the whole chain acts again: activator poke, autoscaler scale write, controllers, node
    // agent, Endpoints, the activator's informers.
    await expectScaleFromZero(c, WAKE_AFTER_RESTART);
    await expectNoActivatorSlots(c, STEADY);
  });
});
