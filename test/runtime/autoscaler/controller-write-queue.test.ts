import type { V1EndpointSubset } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveServingConfig } from '../../../lib/contract/config';
import { AutoscalerController, ClusterView, ClusterWriter } from '../../../lib/runtime/autoscaler/controller';
import { AutoscalerMetrics } from '../../../lib/runtime/autoscaler/metrics';
import type { RevisionDeployment } from '../../../lib/runtime/kube/revision-deployment';
import { WorkQueue } from '../../../lib/runtime/kube/work-queue';
import { createLogger } from '../../../lib/runtime/shared/logger';
import { ManualClock, settle } from '../../support/manual-clock';

/**
 * The controller handing its writes to the write queue (as main.ts wires it), on a manual clock:
 * reconciles do not wait for the API server, repeats merge, and a write's effects are dated when
 * it ran. (controller.test.ts covers the decisions themselves, with writes run at once.)
 */
class SlowCluster implements ClusterView, ClusterWriter {
  ready = new Map<string, string[]>();
  activators = ['10.1.0.1', '10.1.0.2'];
  publics = new Map<string, V1EndpointSubset[]>([['ns/hello-00001', []]]);
  /** Every write as `<ms> <what>`, when the API server got it. */
  log: string[] = [];
  /** Writes wait for `release` while held. */
  held = false;
  private waiting: Array<() => void> = [];

  constructor(private readonly clock: ManualClock) {}

  readyPodIps(ns: string, rev: string): readonly string[] {
    return this.ready.get(`${ns}/${rev}`) ?? [];
  }
  activatorIps(): readonly string[] {
    return this.activators;
  }
  publicSubsets(ns: string, name: string): readonly V1EndpointSubset[] | undefined {
    return this.publics.get(`${ns}/${name}`);
  }
  async setReplicas(ns: string, deployment: string, replicas: number): Promise<void> {
    await this.gate();
    this.log.push(`${this.clock.now()} scale ${ns}/${deployment} ${replicas}`);
  }
  async writePublicSubsets(ns: string, name: string, subsets: V1EndpointSubset[]): Promise<void> {
    await this.gate();
    this.publics.set(`${ns}/${name}`, subsets);
    const ips = subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
    this.log.push(`${this.clock.now()} endpoints ${ns}/${name} [${ips.join(',')}]`);
  }
  release(): void {
    this.held = false;
    this.waiting.splice(0).forEach((r) => r());
  }
  private gate(): Promise<void> {
    return this.held ? new Promise((resolve) => this.waiting.push(resolve)) : Promise.resolve();
  }
}

function revision(over: Partial<RevisionDeployment> = {}): RevisionDeployment {
  return {
    namespace: 'ns',
    revision: 'hello-00001',
    deploymentName: 'hello-00001-deployment',
    annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' },
    containerConcurrency: 0,
    timeoutSeconds: 300,
    queuePort: 8012,
    podPort: 8012,
    replicas: 1,
    progressDeadlineSeconds: 600,
    dataPlane: 'full',
    generation: 2,
    ...over,
  };
}

function setup(workers = 1) {
  const clock = new ManualClock();
  const cluster = new SlowCluster(clock);
  const metrics = new AutoscalerMetrics();
  const writes = new WorkQueue({ workers, qps: 10, burst: 20, backoff: { baseMs: 5, maxMs: 1000 }, clock, random: () => 0.5 });
  const controller = new AutoscalerController({
    view: cluster,
    writer: cluster,
    metrics,
    logger: createLogger('test', { level: 'silent' }),
    isLeader: () => true,
    config: resolveServingConfig(),
    writes,
  });
  return { clock, cluster, controller, writes, metrics };
}

const S = 1000;

describe('AutoscalerController with the write queue', () => {
  it('reconciles do not wait for a slow API server; the Endpoints written last hold the latest pods, with one write per change seen', async () => {
    const { clock, cluster, controller, writes } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.1']);
    controller.upsertRevision(revision(), 0);
    cluster.held = true;
    for (let t = 0; t <= 20; t += 2) {
      await clock.advance(t * S - clock.now());
      cluster.ready.set('ns/hello-00001', [`10.2.0.${t + 1}`]);
      controller.record('ns', 'hello-00001', { concurrency: 1, rps: 1 }, t * S);
      // Each tick settles without the held write finishing.
      await controller.tick(t * S);
      expect(writes.inFlight).toBe(1);
      expect(writes.length).toBeLessThanOrEqual(1);
    }
    expect(cluster.log).toEqual([]);
    cluster.release();
    await writes.whenIdle();
    expect(cluster.log).toEqual(['20000 endpoints ns/hello-00001 [10.2.0.1]', '20000 endpoints ns/hello-00001 [10.2.0.21]']);
  });

  it('one write per changed object: a reconcile during the write, queued far behind it, writes nothing again', async () => {
    // As in the bench's activator replacement: every revision in Proxy mode is rewritten through
    // the slow lane; a tick reconciles a revision while its write is at the API server (the cache
    // does not show it yet), which queued a second write of the same subsets at the end of the
    // lane. It ran after CACHE_LAG_MS and wrote the object again (10,024 writes for 10,000).
    const { clock, cluster, controller, writes } = setup();
    const revisions = ['hello-00001', 'hello-00002', 'hello-00003'];
    for (const name of revisions) {
      cluster.publics.set(`ns/${name}`, []);
      controller.upsertRevision(revision({ revision: name, deploymentName: `${name}-deployment`, replicas: 0, annotations: {} }), 0);
    }
    await controller.tick(0);
    await writes.whenIdle();
    cluster.log = [];
    cluster.activators = ['10.1.0.1', '10.1.0.3'];
    cluster.held = true;
    await controller.onActivatorsChanged(2 * S);
    expect(writes.inFlight).toBe(1); // hello-00001's write, held at the API server
    await clock.advance(2 * S);
    await controller.tick(4 * S); // hello-00001 queued again, behind the other two
    await clock.advance(16 * S);
    cluster.held = false;
    cluster.release();
    await writes.whenIdle();
    const endpointWrites = cluster.log.filter((l) => l.includes(' endpoints '));
    expect(endpointWrites.map((l) => l.split(' ').slice(2).join(' ')).sort()).toEqual(
      revisions.map((name) => `ns/${name} [10.1.0.1,10.1.0.3]`),
    );
  });

  it('no scale to zero before the queued Proxy write ran, however long it waited', async () => {
    const { clock, cluster, controller, writes } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    controller.upsertRevision(revision(), 0);
    let releaseOther: () => void = () => undefined;
    for (let t = 0; t <= 200; t++) {
      await clock.advance(t * S - clock.now());
      // From 50 s to 120 s the only worker is busy with another object's slow write.
      if (t === 50) void writes.add('other', () => new Promise<void>((resolve) => (releaseOther = resolve)));
      if (t === 120) releaseOther();
      await settle();
      controller.record('ns', 'hello-00001', { concurrency: 0, rps: 0 }, t * S);
      if (t % 2 === 0) await controller.tick(t * S);
    }
    // Wanted at the end of the 60 s stable window, written when the worker was free at 120 s; the
    // scale to zero (due at 90 s by the grace period) waited for it.
    expect(cluster.log).toEqual([
      '0 endpoints ns/hello-00001 [10.2.0.7]',
      '120000 endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]',
      '120000 scale ns/hello-00001-deployment 0',
    ]);
  });

  it('dates the cold start from when the scale write ran, not from when it was queued', async () => {
    const { clock, cluster, controller, writes, metrics } = setup();
    controller.upsertRevision(revision({ replicas: 0 }), 0);
    let releaseOther: () => void = () => undefined;
    void writes.add('other', () => new Promise<void>((resolve) => (releaseOther = resolve)));
    await clock.advance(2 * S);
    await controller.poke('ns', 'hello-00001', 2 * S);
    await clock.advance(5 * S);
    releaseOther();
    await settle();
    await clock.advance(1 * S);
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    await controller.onPodsChanged('ns', 'hello-00001', 8 * S);
    expect(cluster.log[0]).toBe('7000 scale ns/hello-00001-deployment 1');
    const text = await metrics.registry.getSingleMetricAsString('kservice_cold_start_seconds');
    expect(text).toContain('kservice_cold_start_seconds_sum{namespace="ns",revision="hello-00001"} 1');
  });

  it('from zero, a poke writes the scale before the Endpoints, and a revision whose Endpoints wait in the slow lane still scales', async () => {
    const { clock, cluster, controller, writes } = setup();
    controller.upsertRevision(revision({ replicas: 0, annotations: {} }), 0);
    await controller.tick(0);
    await writes.whenIdle();
    // Another activator set: the Proxy-mode Endpoints go to the slow lane behind the poke's scale.
    let releaseBlocker: () => void = () => undefined;
    void writes.add('blocker', () => new Promise<void>((resolve) => (releaseBlocker = resolve)));
    cluster.activators = ['10.1.0.3', '10.1.0.4'];
    await controller.onActivatorsChanged(2 * S);
    await controller.poke('ns', 'hello-00001', 2 * S);
    releaseBlocker();
    await writes.whenIdle();
    await clock.advance(0);
    expect(cluster.log.map((l) => l.split(' ').slice(1).join(' '))).toEqual([
      'endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]',
      'scale ns/hello-00001-deployment 1',
      'endpoints ns/hello-00001 [10.1.0.3,10.1.0.4]',
    ]);
  });
});
