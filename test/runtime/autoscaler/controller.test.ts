import type { V1EndpointSubset } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveServingConfig } from '../../../lib/contract/config';
import type { RevisionDeployment } from '../../../lib/runtime/kube/revision-deployment';
import { AutoscalerController, ClusterView, ClusterWriter } from '../../../lib/runtime/autoscaler/controller';
import { AutoscalerMetrics } from '../../../lib/runtime/autoscaler/metrics';
import { createLogger } from '../../../lib/runtime/shared/logger';

/**
 * The controller against an in-memory cluster. The API server itself is exercised by the
 * control-plane suite (test/cluster/autoscaler-api.test.ts); this covers the decisions and their
 * order: what is written, when, and never a scale to zero before the activators are in the path.
 */
class FakeCluster implements ClusterView, ClusterWriter {
  ready = new Map<string, string[]>();
  activators: string[] = ['10.1.0.1', '10.1.0.2'];
  publics = new Map<string, V1EndpointSubset[]>();
  /** Every write, in order. */
  log: string[] = [];
  failEndpointWrites = false;

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
    this.log.push(`scale ${ns}/${deployment} ${replicas}`);
  }
  async writePublicSubsets(ns: string, name: string, subsets: V1EndpointSubset[]): Promise<void> {
    if (this.failEndpointWrites) throw new Error('HTTP 500: etcd unavailable');
    this.publics.set(`${ns}/${name}`, subsets);
    const ips = subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
    this.log.push(`endpoints ${ns}/${name} [${ips.join(',')}]`);
  }
}

function revision(over: Partial<RevisionDeployment> = {}): RevisionDeployment {
  return {
    namespace: 'ns',
    revision: 'hello-00001',
    deploymentName: 'hello-00001-deployment',
    annotations: {},
    containerConcurrency: 0,
    timeoutSeconds: 300,
    queuePort: 8012,
    podPort: 8012,
    replicas: 1,
    progressDeadlineSeconds: 600,
    dataPlane: 'full',
    // Already scaled once (not a brand-new Deployment), unless a test says otherwise.
    generation: 2,
    ...over,
  };
}

function setup(opts: { leader?: boolean } = {}) {
  const cluster = new FakeCluster();
  cluster.publics.set('ns/hello-00001', []);
  const metrics = new AutoscalerMetrics();
  let leader = opts.leader ?? true;
  const controller = new AutoscalerController({
    view: cluster,
    writer: cluster,
    metrics,
    logger: createLogger('test', { level: 'silent' }),
    isLeader: () => leader,
    config: resolveServingConfig(),
  });
  return { cluster, controller, metrics, setLeader: (v: boolean) => (leader = v) };
}

const S = 1000;

/** Runs the 1 s scrape / 2 s tick loop with zero load from `from` to `to` seconds. */
async function idle(controller: AutoscalerController, from: number, to: number): Promise<void> {
  for (let t = from; t <= to; t++) {
    controller.record('ns', 'hello-00001', { concurrency: 0, rps: 0 }, t * S);
    if (t % 2 === 0) await controller.tick(t * S);
  }
}

describe('AutoscalerController', () => {
  it('scales from zero on a poke: replicas to 1 at once (no tick), then activators into the Endpoints, cold start observed', async () => {
    const { cluster, controller, metrics } = setup();
    controller.upsertRevision(revision({ replicas: 0 }), 0);
    expect(await controller.poke('ns', 'hello-00001', 100)).toBe(true);
    // The scale write first: the pod's start is the long pole, the Endpoints write need not delay it.
    expect(cluster.log).toEqual(['scale ns/hello-00001-deployment 1', 'endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]']);

    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    await controller.onPodsChanged('ns', 'hello-00001', 1600);
    const text = await metrics.registry.getSingleMetricAsString('kservice_cold_start_seconds');
    expect(text).toContain('kservice_cold_start_seconds_count{namespace="ns",revision="hello-00001"} 1');
    expect(text).toContain('kservice_cold_start_seconds_sum{namespace="ns",revision="hello-00001"} 1.5');
  });

  it('a poke for an unknown revision is refused', async () => {
    const { controller } = setup();
    expect(await controller.poke('ns', 'nope', 0)).toBe(false);
  });

  it('with TBC 0 serves from the pods and, once idle, switches to Proxy before scaling to zero', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' } }), 0);
    await idle(controller, 0, 200);
    const proxyAt = cluster.log.indexOf('endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]');
    const zeroAt = cluster.log.indexOf('scale ns/hello-00001-deployment 0');
    expect(cluster.log[0]).toBe('endpoints ns/hello-00001 [10.2.0.7]');
    expect(proxyAt).toBeGreaterThan(0);
    expect(zeroAt).toBeGreaterThan(proxyAt);
  });

  it('scales to zero only after the stable window of activity and the grace period in Proxy', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' } }), 0);
    await idle(controller, 0, 88);
    expect(cluster.log).not.toContain('scale ns/hello-00001-deployment 0');
    await idle(controller, 89, 100);
    expect(cluster.log).toContain('scale ns/hello-00001-deployment 0');
  });

  it('never scales to zero while the Endpoints write to Proxy fails', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    cluster.publics.set('ns/hello-00001', [{ addresses: [{ ip: '10.2.0.7' }], ports: [{ name: 'http', port: 8012 }, { name: 'https', port: 8112 }] }]);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' } }), 0);
    cluster.failEndpointWrites = true;
    await idle(controller, 0, 300);
    expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual([]);
  });

  it('writes (so creates) a missing public Endpoints object, activators first, before scaling to zero', async () => {
    const { cluster, controller } = setup();
    // A GitOps engine left the object out (Argo CD 3.x excludes Endpoints by default).
    cluster.publics.clear();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' } }), 0);
    await controller.tick(0);
    expect(cluster.log).toEqual(['endpoints ns/hello-00001 [10.2.0.7]']);
    await idle(controller, 1, 200);
    const toZero = cluster.log.indexOf('scale ns/hello-00001-deployment 0');
    expect(toZero, cluster.log.join('\n')).toBeGreaterThan(0);
    expect(cluster.log.slice(0, toZero).at(-1)).toBe('endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]');
  });

  it('with default TBC 211 keeps one pod behind the activators (Proxy)', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/min-scale': '1' } }), 0);
    await idle(controller, 0, 120);
    expect(cluster.publics.get('ns/hello-00001')?.[0].addresses?.map((a) => a.ip)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual([]);
  });

  it('scales up under load (70 per pod at CC 0) and serves from the pods when EBC allows', async () => {
    const { cluster, controller } = setup();
    const pods = ['10.2.0.1', '10.2.0.2', '10.2.0.3', '10.2.0.4'];
    cluster.ready.set('ns/hello-00001', pods);
    controller.upsertRevision(revision({ replicas: 4, annotations: { 'autoscaling.knative.dev/target-burst-capacity': '50' } }), 0);
    for (let t = 0; t <= 10; t++) controller.record('ns', 'hello-00001', { concurrency: 280, rps: 0 }, t * S);
    await controller.tick(10 * S);
    // 280 / 70 = 4 pods: already there, no scale; EBC = 4×100 − 50 − 280 = 70 ≥ 0 → Serve.
    expect(cluster.log).toEqual([`endpoints ns/hello-00001 [${pods.join(',')}]`]);
    for (let t = 11; t <= 12; t++) controller.record('ns', 'hello-00001', { concurrency: 700, rps: 0 }, t * S);
    await controller.tick(12 * S);
    expect(cluster.log.at(-1)).toMatch(/^scale ns\/hello-00001-deployment (\d+)$/);
    expect(Number(cluster.log.at(-1)!.split(' ').at(-1))).toBeGreaterThan(4);
  });

  it('spreads Proxy mode over numActivators (2 with TBC 0) of many activators', async () => {
    const { cluster, controller } = setup();
    cluster.activators = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5'];
    controller.upsertRevision(revision({ replicas: 0, annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' } }), 0);
    await controller.tick(0);
    expect(cluster.publics.get('ns/hello-00001')?.[0].addresses).toHaveLength(2);
  });

  it('a replica not holding the revision\'s bucket decides and writes nothing; it writes after takeover', async () => {
    const { cluster, controller, setLeader } = setup({ leader: false });
    controller.upsertRevision(revision({ replicas: 0 }), 0);
    await controller.poke('ns', 'hello-00001', 0);
    await controller.tick(2 * S);
    expect(cluster.log).toEqual([]);
    setLeader(true);
    await controller.poke('ns', 'hello-00001', 3 * S);
    expect(cluster.log).toContain('scale ns/hello-00001-deployment 1');
  });

  it('HPA-class revisions: never scaled here, Endpoints always on the ready pods', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.9']);
    controller.upsertRevision(revision({ annotations: { 'autoscaling.knative.dev/class': 'hpa.autoscaling.knative.dev' } }), 0);
    await idle(controller, 0, 200);
    expect(cluster.log).toEqual(['endpoints ns/hello-00001 [10.2.0.9]']);
    expect(controller.kpaRevisions()).toEqual([]);
  });

  it('third-party-class revisions: never scaled or scraped here (their autoscaler owns the scale), Endpoints on the ready pods', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.9']);
    controller.upsertRevision(revision({ replicas: 3, annotations: { 'autoscaling.knative.dev/class': 'keda.example.com' } }), 0);
    await idle(controller, 0, 200);
    await controller.poke('ns', 'hello-00001', 201 * S);
    expect(cluster.log).toEqual(['endpoints ns/hello-00001 [10.2.0.9]']);
    expect(controller.kpaRevisions()).toEqual([]);
  });

  it('DataPlane.STATIC revisions are left alone: no scale, no Endpoints, not tracked', async () => {
    const { cluster, controller } = setup();
    cluster.ready.set('ns/hello-00001', ['10.2.0.9']);
    controller.upsertRevision(revision({ dataPlane: 'static', generation: 1 }), 0);
    await idle(controller, 0, 100);
    expect(cluster.log).toEqual([]);
    expect(controller.has('ns', 'hello-00001')).toBe(false);
  });

  it('initial-scale 3 on a new Deployment (Kubernetes made it 1): scaled to 3 at the first reconcile', async () => {
    const { cluster, controller } = setup();
    controller.upsertRevision(revision({ generation: 1, annotations: { 'autoscaling.knative.dev/initial-scale': '3' } }), 0);
    await controller.tick(0);
    expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual(['scale ns/hello-00001-deployment 3']);
  });

  it('initial-scale 0 on a new Deployment: activators into the Endpoints, then 0 at once (no grace period)', async () => {
    const { cluster, controller } = setup();
    controller.upsertRevision(revision({ generation: 1, annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }), 0);
    await controller.tick(0);
    expect(cluster.log).toEqual(['endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]', 'scale ns/hello-00001-deployment 0']);
    // Once at zero it stays there with no traffic, and a request brings it up as usual.
    await idle(controller, 1, 60);
    expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual(['scale ns/hello-00001-deployment 0']);
    await controller.poke('ns', 'hello-00001', 61 * S);
    expect(cluster.log.at(-1)).toBe('scale ns/hello-00001-deployment 1');
  });

  it('a Deployment scaled before (generation > 1) is never reset to initial-scale: 0 stays 0, 5 stays 5', async () => {
    const { cluster, controller } = setup();
    controller.upsertRevision(revision({ replicas: 0, generation: 4, annotations: { 'autoscaling.knative.dev/initial-scale': '3' } }), 0);
    await controller.tick(0);
    expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual([]);

    const other = setup();
    other.cluster.ready.set('ns/hello-00001', ['10.2.0.1', '10.2.0.2', '10.2.0.3', '10.2.0.4', '10.2.0.5']);
    other.controller.upsertRevision(revision({ replicas: 5, generation: 7 }), 0);
    await other.controller.tick(0);
    expect(other.cluster.log.filter((l) => l.startsWith('scale'))).toEqual([]);
  });

  describe('data-plane modes (issue 13)', () => {
    const sidecarless = (over: Partial<RevisionDeployment> = {}) =>
      revision({ dataPlane: 'activator', podPort: 8080, annotations: { 'autoscaling.knative.dev/target-burst-capacity': '0' }, ...over });
    const endpointWrites = (log: string[]) => log.filter((l) => l.startsWith('endpoints'));

    it('activator: the public Endpoints hold the activators at every scale, never a pod, and it still scales to zero', async () => {
      const { cluster, controller } = setup();
      // TBC 0 would flip a `full` revision to its pods (see above); a sidecar-less one stays on the activators.
      cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
      controller.upsertRevision(sidecarless(), 0);
      await idle(controller, 0, 200);
      expect(endpointWrites(cluster.log)).toEqual(['endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]']);
      expect(cluster.log).toContain('scale ns/hello-00001-deployment 0');
      await controller.poke('ns', 'hello-00001', 201 * S);
      expect(cluster.log.at(-1)).toBe('scale ns/hello-00001-deployment 1');
      expect(endpointWrites(cluster.log)).toHaveLength(1);
    });

    it('activator with containerConcurrency > 0: the usual activators, but no more than can each own a pod slot (pods × CC)', async () => {
      const one = setup();
      one.cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
      one.controller.upsertRevision(sidecarless({ containerConcurrency: 1 }), 0);
      await one.controller.tick(0);
      expect(endpointWrites(one.cluster.log)).toHaveLength(1);
      expect(endpointWrites(one.cluster.log)[0]).toMatch(/^endpoints ns\/hello-00001 \[10\.1\.0\.[12]\]$/);
      // Two pods of one slot each: both activators (the activators split the pods, ../activator/subsetting.ts).
      const two = setup();
      two.cluster.ready.set('ns/hello-00001', ['10.2.0.7', '10.2.0.8']);
      two.controller.upsertRevision(sidecarless({ containerConcurrency: 1 }), 0);
      await two.controller.tick(0);
      expect(endpointWrites(two.cluster.log)).toEqual(['endpoints ns/hello-00001 [10.1.0.1,10.1.0.2]']);
    });

    it('activator with no activator running: Endpoints left as they are, no scale to zero', async () => {
      const { cluster, controller } = setup();
      cluster.activators = [];
      cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
      controller.upsertRevision(sidecarless(), 0);
      await idle(controller, 0, 200);
      expect(endpointWrites(cluster.log)).toEqual([]);
      expect(cluster.log.filter((l) => l.startsWith('scale'))).toEqual([]);
    });

    it('activator revisions are scraped from the activators only', () => {
      const { controller } = setup();
      controller.upsertRevision(sidecarless(), 0);
      controller.upsertRevision(revision({ revision: 'full-00001', deploymentName: 'full-00001-deployment' }), 0);
      expect(controller.kpaRevisions()).toEqual([
        // Pods younger than the stable window (60 s by default) are scraped last.
        { namespace: 'ns', revision: 'hello-00001', scrapePods: false, youngPodCutoffMs: 60_000 },
        { namespace: 'ns', revision: 'full-00001', scrapePods: true, youngPodCutoffMs: 60_000 },
      ]);
    });

    it.each(['direct', 'static'] as const)('%s: left alone (no Endpoints write, no scaling, not scraped)', async (dataPlane) => {
      const { cluster, controller } = setup();
      cluster.ready.set('ns/hello-00001', ['10.2.0.7']);
      controller.upsertRevision(revision({ dataPlane, replicas: 2 }), 0);
      await idle(controller, 0, 200);
      expect(await controller.poke('ns', 'hello-00001', 201 * S)).toBe(false);
      expect(cluster.log).toEqual([]);
      expect(controller.kpaRevisions()).toEqual([]);
    });
  });
});
