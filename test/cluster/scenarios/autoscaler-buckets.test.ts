// The sharded autoscaler (issue 18): 2 autoscaler replicas and 4 buckets of revisions, one Lease
// each. Each bucket is held by one replica and both hold some; a revision's load is measured (its
// decider's stable value) only by the replica holding its bucket. One replica frozen and then
// killed under load: the other takes its buckets over and measures their revisions, and no request
// fails. The revisions keep the activator in the path (target-burst-capacity -1), so the owner's
// public Endpoints writes carry every request. A revision at zero in each bucket: a request to it
// is answered, scaled from zero by the replica holding its bucket (the activator pokes both).
import { readFileSync } from 'node:fs';
import { CoordinationV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { autoscalerBucketLeases, Names } from '../../../lib/contract/naming';
import { KService } from '../../../lib/constructs/kservice';
import { BucketSet, revisionKey } from '../../../lib/runtime/autoscaler/buckets';
import { waitFor } from '../harness';
import { metricValue } from './support/faults';
import { describeLoad, runLoad, type LoadReport } from './support/load';
import { PublicEndpointsRouter } from './support/router';
import { TEST_IMAGE, useServingCluster, waitForReadyPods } from './support/serving';

const NS = 'buckets';
const BUCKET_COUNT = 4;
const LEASES = autoscalerBucketLeases(BUCKET_COUNT);
const BUCKETS = new BucketSet(LEASES);
/** One service per bucket: the first names whose revision hashes into each bucket. */
const SERVICES = LEASES.map((lease) => {
  for (let i = 0; ; i++) if (BUCKETS.owner(revisionKey(NS, `svc-${i}-00001`)) === lease) return `svc-${i}`;
});
const REVISIONS = SERVICES.map((s) => `${s}-00001`);
/** One service at zero per bucket, for the pokes. */
const COLD = LEASES.map((lease) => {
  for (let i = 0; ; i++) if (BUCKETS.owner(revisionKey(NS, `cold-${i}-00001`)) === lease) return `cold-${i}`;
});
const COLD_REVISIONS = COLD.map((s) => `${s}-00001`);

const cluster = useServingCluster({
  system: { autoscalerReplicas: 2, autoscalerBuckets: BUCKET_COUNT },
  services: (chart, config) => {
    for (const name of SERVICES) {
      new KService(chart, name, {
        namespace: NS,
        config,
        containers: [{ image: TEST_IMAGE }],
        containerConcurrency: 2,
        autoscaling: { minScale: 1, maxScale: 2, targetBurstCapacity: -1 },
      });
    }
    for (const name of COLD) {
      new KService(chart, name, { namespace: NS, config, containers: [{ image: TEST_IMAGE }], autoscaling: { initialScale: 0, maxScale: 1 } });
    }
  },
});

let router: PublicEndpointsRouter;

beforeAll(async () => {
  const c = cluster();
  for (const rev of REVISIONS) await waitForReadyPods(c.core, NS, `${Labels.REVISION}=${rev}`, 1);
  router = new PublicEndpointsRouter(c.controlPlane.kubeConfig, NS);
  await router.start();
  for (const rev of REVISIONS) await waitFor(`public Endpoints of ${rev}`, () => router.addresses(rev).length > 0, { timeoutMs: 60_000 });
});

afterAll(async () => {
  await router?.stop();
});

const podName = (p: V1Pod): string => p.metadata?.name ?? '';
const podIP = (p: V1Pod): string => p.status?.podIP ?? '';

/** Holder of each bucket Lease, by Lease name (undefined: not created or released). */
async function holders(): Promise<Map<string, string | undefined>> {
  const leases = cluster().controlPlane.kubeConfig.makeApiClient(CoordinationV1Api);
  const out = new Map<string, string | undefined>();
  for (const name of LEASES) {
    const lease = await leases.readNamespacedLease({ name, namespace: SYSTEM_NAMESPACE }).catch(() => undefined);
    out.set(name, lease?.spec?.holderIdentity ?? undefined);
  }
  return out;
}

/** The revision's decider stable value on one autoscaler replica (undefined: it never measured it). */
function stableValue(autoscaler: V1Pod, revision: string): Promise<number | undefined> {
  return metricValue(podIP(autoscaler), 'kservice_autoscaler_stable_value', { namespace: NS, revision });
}

/** Load on every revision while `during` runs, then 2 s more. */
async function underLoad(during: () => Promise<void>): Promise<LoadReport> {
  let stop = false;
  let next = 0;
  const load = runLoad({
    concurrency: 2 * REVISIONS.length,
    maxRequests: 20_000,
    maxDurationMs: 180_000,
    until: () => stop,
    send: () => router.request(REVISIONS[next++ % REVISIONS.length], '/sleep?ms=100', { timeoutMs: 30_000 }),
  });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    await during();
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    stop = true;
  }
  return load;
}

describe('2 autoscaler replicas, 4 buckets', () => {
  it('each bucket is held by one replica, both hold some, and each revision is measured only by its bucket\'s holder', async () => {
    const c = cluster();
    const autoscalers = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    const names = autoscalers.map(podName);
    const held = await waitFor('every bucket held, by both replicas between them', async () => {
      const h = await holders();
      const all = [...h.values()];
      return all.every((x) => x !== undefined && names.includes(x)) && names.every((n) => all.includes(n)) && h;
    }, { timeoutMs: 90_000 });
    console.log(`bucket holders: ${JSON.stringify(Object.fromEntries(held))}`);

    const report = await underLoad(async () => {
      for (const [i, rev] of REVISIONS.entries()) {
        const owner = autoscalers.find((p) => podName(p) === held.get(LEASES[i]))!;
        await waitFor(`${rev} measured by ${podName(owner)}`, async () => ((await stableValue(owner, rev)) ?? 0) > 0, { timeoutMs: 60_000 });
      }
      for (const [i, rev] of REVISIONS.entries()) {
        const other = autoscalers.find((p) => podName(p) !== held.get(LEASES[i]))!;
        expect(await stableValue(other, rev), `${rev} on ${podName(other)}, which does not hold ${LEASES[i]}`).toBeUndefined();
      }
    });
    expect(await holders()).toEqual(held);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
  });

  it("a request to a revision at zero is answered: the activator pokes both replicas and the one holding the revision's bucket scales it", async () => {
    const c = cluster();
    const autoscalers = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    const held = await holders();
    const scaledBy = (rev: string): string[] =>
      autoscalers
        .filter((p) =>
          readFileSync(c.agent.worker(SYSTEM_NAMESPACE, podName(p))!.logFiles().autoscaler, 'utf8')
            .split('\n')
            .some((line) => line.includes('"msg":"scaled"') && line.includes(`"revision":"${rev}"`) && line.includes('"to":1')),
        )
        .map(podName);
    for (const [i, rev] of COLD_REVISIONS.entries()) {
      const deployment = Names.deployment(rev);
      await waitFor(`${rev} at zero`, async () => (await c.apps.readNamespacedDeployment({ name: deployment, namespace: NS })).spec?.replicas === 0, { timeoutMs: 60_000 });
      await waitFor(`${rev}'s public Endpoints on the activators`, () => router.addresses(rev).length > 0, { timeoutMs: 60_000 });
      const res = await router.request(rev, '/', { timeoutMs: 60_000 });
      expect(res.status, `${rev}: ${res.body}`).toBe(200);
      expect(scaledBy(rev), `${rev} (bucket ${LEASES[i]} held by ${held.get(LEASES[i])})`).toEqual([held.get(LEASES[i])]);
    }
  });

  it('a replica frozen, then killed, under load: the other takes its buckets over and measures their revisions, nothing fails', async () => {
    const c = cluster();
    const autoscalers = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    const before = await holders();
    const victim = autoscalers.find((p) => [...before.values()].includes(podName(p)))!;
    const survivor = autoscalers.find((p) => p !== victim)!;
    const moved = LEASES.filter((l) => before.get(l) === podName(victim));
    expect(moved.length).toBeGreaterThan(0);
    const worker = c.agent.worker(SYSTEM_NAMESPACE, podName(victim));
    expect(worker).toBeDefined();
    let movedInMs = 0;

    const report = await underLoad(async () => {
      expect(worker?.signal('autoscaler', 'SIGSTOP')).toBe(true);
      const frozenAt = Date.now();
      await waitFor('the survivor holds every bucket', async () => [...(await holders()).values()].every((h) => h === podName(survivor)), { timeoutMs: 90_000 });
      movedInMs = Date.now() - frozenAt;
      for (const lease of moved) {
        const rev = REVISIONS[LEASES.indexOf(lease)];
        await waitFor(`${rev} measured by the survivor`, async () => ((await stableValue(survivor, rev)) ?? 0) > 0, { timeoutMs: 60_000 });
      }
      expect(worker?.signal('autoscaler', 'SIGKILL')).toBe(true);
      await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    });
    console.log(`buckets ${moved.join(', ')} moved from the frozen replica in ${movedInMs} ms (lease duration 15 s); holders after its restart: ${JSON.stringify(Object.fromEntries(await holders()))}; ${describeLoad(report)}`);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
  });
});
