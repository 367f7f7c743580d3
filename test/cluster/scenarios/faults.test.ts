// Faults under load: a revision pod deleted, the autoscaler leader frozen and then killed, an
// activator pod replaced. The revision keeps the activator in the path (target-burst-capacity -1),
// so every request crosses activator -> queue-proxy -> app. The load (4 concurrent clients of a
// 100 ms request, containerConcurrency 2 on 2-3 pods) stays far below every queue limit, so the
// design refuses nothing here: every single request must succeed.
import { CoordinationV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOSCALER_LEASE } from '../../../lib/builders/rbac';
import { Labels, Ports, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { waitFor } from '../harness';
import { httpTry } from './support/http';
import { describeLoad, runLoad, type LoadReport } from './support/load';
import { PublicEndpointsRouter, revisionHeaders } from './support/router';
import { isReady, listPods, TEST_IMAGE, useServingCluster, waitForReadyPods, type ServingCluster } from './support/serving';

const NS = 'faults';
const REV = 'steady-00001';

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'steady', {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE }],
      containerConcurrency: 2,
      autoscaling: { minScale: 2, maxScale: 3, targetBurstCapacity: -1 },
    });
  },
});

let router: PublicEndpointsRouter;

beforeAll(async () => {
  const c = cluster();
  await waitForReadyPods(c.core, NS, `${Labels.REVISION}=${REV}`, 2);
  router = new PublicEndpointsRouter(c.controlPlane.kubeConfig, NS);
  await router.start();
  await waitFor('public Endpoints of the revision', () => router.addresses(REV).length > 0, { timeoutMs: 60_000 });
});

afterAll(async () => {
  await router?.stop();
});

/** Runs load in the background while `during` runs, then a little longer; returns the tally. */
async function underLoad(during: () => Promise<void>): Promise<LoadReport> {
  let stop = false;
  const load = runLoad({
    concurrency: 4,
    maxRequests: 5000,
    maxDurationMs: 120_000,
    until: () => stop,
    send: () => router.request(REV, '/sleep?ms=100', { timeoutMs: 30_000 }),
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

function podIP(p: V1Pod): string {
  return p.status?.podIP ?? '';
}

async function readyIn(c: ServingCluster, namespace: string, selector: string): Promise<V1Pod[]> {
  return (await listPods(c.core, namespace, selector)).filter(isReady);
}

describe('faults under load', () => {
  it('a revision pod deleted during load: no request fails, a replacement takes over', async () => {
    const c = cluster();
    const [victim] = await readyIn(c, NS, `${Labels.REVISION}=${REV}`);
    const report = await underLoad(async () => {
      await c.core.deleteNamespacedPod({ name: victim.metadata?.name ?? '', namespace: NS });
      await waitFor('replacement pod ready', async () => {
        const ready = await readyIn(c, NS, `${Labels.REVISION}=${REV}`);
        return ready.length >= 2 && !ready.some((p) => p.metadata?.name === victim.metadata?.name);
      }, { timeoutMs: 60_000 });
    });
    console.log(`pod deleted under load: ${describeLoad(report)}`);
    expect(report.total).toBeGreaterThan(0);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
  });

  it('the autoscaler leader frozen, then killed: the other replica takes the Lease, nothing fails', async () => {
    const c = cluster();
    const leases = c.controlPlane.kubeConfig.makeApiClient(CoordinationV1Api);
    const holder = async (): Promise<string | undefined> =>
      (await leases.readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE })).spec?.holderIdentity;
    const autoscalers = await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    const leader = await waitFor('an autoscaler leader', async () => {
      const h = await holder();
      return autoscalers.find((p) => p.metadata?.name === h);
    });
    const other = autoscalers.find((p) => p !== leader);
    const worker = c.agent.worker(SYSTEM_NAMESPACE, leader.metadata?.name ?? '');
    expect(worker).toBeDefined();

    const report = await underLoad(async () => {
      // Frozen (SIGSTOP): it can neither renew nor step down, like a hung process or a partition.
      expect(worker?.signal('autoscaler', 'SIGSTOP')).toBe(true);
      await waitFor('the other replica holds the Lease', async () => (await holder()) === other?.metadata?.name, { timeoutMs: 60_000 });
      // Killed: the agent restarts the container; the restarted process must not take the Lease back.
      expect(worker?.signal('autoscaler', 'SIGKILL')).toBe(true);
      await waitForReadyPods(c.core, SYSTEM_NAMESPACE, 'app=autoscaler', 2);
    });
    console.log(`autoscaler leader failover under load: ${describeLoad(report)}`);
    expect(await holder()).toBe(other?.metadata?.name);
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
  });

  it('an activator pod replaced during load: nothing fails, and the new leader puts the new activator in the public Endpoints', async () => {
    const c = cluster();
    const before = await readyIn(c, SYSTEM_NAMESPACE, 'app=activator');
    const victim = before[0];
    let replacement: V1Pod | undefined;
    const report = await underLoad(async () => {
      await c.core.deleteNamespacedPod({ name: victim.metadata?.name ?? '', namespace: SYSTEM_NAMESPACE });
      replacement = await waitFor('replacement activator ready', async () => {
        const ready = await readyIn(c, SYSTEM_NAMESPACE, 'app=activator');
        return ready.length === before.length && ready.find((p) => !before.some((b) => b.metadata?.name === p.metadata?.name));
      }, { timeoutMs: 60_000 });
      await waitFor('the new activator in the revision\'s public Endpoints', () => router.addresses(REV).includes(podIP(replacement!)), { timeoutMs: 30_000 });
    });
    console.log(`activator replaced under load: ${describeLoad(report)}`);
    expect(router.addresses(REV)).not.toContain(podIP(victim));
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
  });
});

describe('refusals', () => {
  it('a pod refuses requests beyond containerConcurrency + its queue (10 x CC) with 503, and serves the rest', async () => {
    // Straight at one pod's queue-proxy, as Serve mode routes: 2 in flight + 20 queued fit, 8 do not.
    const [pod] = await readyIn(cluster(), NS, `${Labels.REVISION}=${REV}`);
    const url = `http://${podIP(pod)}:${Ports.QUEUE_HTTP}/sleep?ms=800`;
    const results = await Promise.all(Array.from({ length: 30 }, () => httpTry(url, { headers: revisionHeaders(NS, REV), timeoutMs: 30_000 })));
    const byStatus: Record<number, number> = {};
    for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(byStatus).toEqual({ 200: 22, 503: 8 });
    expect(results.filter((r) => r.status === 503).every((r) => /queue full/i.test(r.body)), JSON.stringify(results.find((r) => r.status === 503)?.body)).toBe(true);
  });
});
