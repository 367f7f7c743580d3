import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1EndpointSubset } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServingConfig } from '../../../lib/contract/config';
import { bucketNames } from '../../../lib/contract/naming';
import { BucketSet, revisionKey } from '../../../lib/runtime/autoscaler/buckets';
import { MetricCollector } from '../../../lib/runtime/autoscaler/collector';
import { AutoscalerController, ClusterView, ClusterWriter } from '../../../lib/runtime/autoscaler/controller';
import { AutoscalerMetrics } from '../../../lib/runtime/autoscaler/metrics';
import { RevisionStagger, ScrapeLimiter } from '../../../lib/runtime/autoscaler/scrape-limiter';
import type { RevisionDeployment } from '../../../lib/runtime/kube/revision-deployment';
import { WorkQueue } from '../../../lib/runtime/kube/work-queue';
import { createLogger } from '../../../lib/runtime/shared/logger';
import { ManualClock, settle } from '../../support/manual-clock';

/**
 * The autoscaler's sharding as main.ts wires it: each replica's controller writes only for the
 * revisions of the buckets it holds, a poke sent to every replica (as the activator's poker does)
 * is acted on by the owner only, a lost bucket's queued writes are dropped, and the collector's
 * scrapes stay under the cap and start at each revision's offset.
 */
const logger = createLogger('test', { level: 'silent' });
const BUCKETS = new BucketSet(bucketNames('kservice-autoscaler-bucket', 10));
const REVISIONS = Array.from({ length: 30 }, (_, i) => `svc-${i}-00001`);

class SharedCluster implements ClusterView {
  ready = new Map<string, string[]>();
  publics = new Map<string, V1EndpointSubset[]>();
  log: string[] = [];
  held = false;
  private waiting: Array<() => void> = [];

  readyPodIps(ns: string, rev: string): readonly string[] {
    return this.ready.get(`${ns}/${rev}`) ?? [];
  }
  activatorIps(): readonly string[] {
    return ['10.1.0.1', '10.1.0.2'];
  }
  publicSubsets(ns: string, name: string): readonly V1EndpointSubset[] | undefined {
    return this.publics.get(`${ns}/${name}`) ?? [];
  }
  /** The writes of one replica, logged with its name. */
  writer(replica: string): ClusterWriter {
    return {
      setReplicas: async (ns, deployment, replicas) => {
        await this.gate();
        this.log.push(`${replica} scale ${ns}/${deployment} ${replicas}`);
      },
      writePublicSubsets: async (ns, name, subsets) => {
        await this.gate();
        this.publics.set(`${ns}/${name}`, subsets);
        this.log.push(`${replica} endpoints ${ns}/${name}`);
      },
    };
  }
  release(): void {
    this.held = false;
    this.waiting.splice(0).forEach((r) => r());
  }
  private gate(): Promise<void> {
    return this.held ? new Promise((resolve) => this.waiting.push(resolve)) : Promise.resolve();
  }
}

function revision(name: string): RevisionDeployment {
  return {
    namespace: 'ns',
    revision: name,
    deploymentName: `${name}-deployment`,
    annotations: {},
    containerConcurrency: 0,
    timeoutSeconds: 300,
    queuePort: 8012,
    podPort: 8012,
    replicas: 0,
    progressDeadlineSeconds: 600,
    dataPlane: 'full',
    generation: 2,
  };
}

/** A replica's controller holding `held` buckets (mutable, as BucketLeases would change it). */
function replica(name: string, cluster: SharedCluster, held: Set<string>, writes?: WorkQueue) {
  const controller = new AutoscalerController({
    view: cluster,
    writer: cluster.writer(name),
    metrics: new AutoscalerMetrics(),
    logger,
    isLeader: (ns, rev) => held.has(BUCKETS.owner(revisionKey(ns, rev))),
    config: resolveServingConfig(),
    writes,
  });
  for (const r of REVISIONS) controller.upsertRevision(revision(r), 0);
  return controller;
}

describe('controllers of two replicas splitting the buckets', () => {
  it('a poke sent to both replicas scales each revision from zero once, by the owner of its bucket', async () => {
    const cluster = new SharedCluster();
    const aHeld = new Set(BUCKETS.names.slice(0, 5));
    const bHeld = new Set(BUCKETS.names.slice(5));
    const a = replica('a', cluster, aHeld);
    const b = replica('b', cluster, bHeld);
    for (const r of REVISIONS) {
      // The activator's poker posts to every autoscaler pod; both know the revision.
      expect(await a.poke('ns', r, 1000)).toBe(true);
      expect(await b.poke('ns', r, 1000)).toBe(true);
    }
    const scales = cluster.log.filter((l) => l.includes(' scale '));
    expect(scales).toHaveLength(REVISIONS.length);
    for (const r of REVISIONS) {
      const owner = aHeld.has(BUCKETS.owner(`ns/${r}`)) ? 'a' : 'b';
      expect(scales).toContain(`${owner} scale ns/${r}-deployment 1`);
    }
    // Both replicas had work: the 30 revisions fall in both halves of the buckets.
    expect(scales.some((l) => l.startsWith('a '))).toBe(true);
    expect(scales.some((l) => l.startsWith('b '))).toBe(true);
  });

  it("a bucket lost while its writes wait in the queue: the waiting ones are dropped, other buckets' still run", async () => {
    const clock = new ManualClock();
    const cluster = new SharedCluster();
    const writes = new WorkQueue({ workers: 1, qps: 100, burst: 100, backoff: { baseMs: 5, maxMs: 1000 }, clock, random: () => 0.5 });
    const held = new Set(BUCKETS.names);
    const a = replica('a', cluster, held, writes);
    const [first, ...rest] = REVISIONS;
    const lost = BUCKETS.owner(`ns/${rest[0]}`);
    const inLost = rest.filter((r) => BUCKETS.owner(`ns/${r}`) === lost);
    const elsewhere = rest.filter((r) => BUCKETS.owner(`ns/${r}`) !== lost);
    cluster.held = true;
    await a.poke('ns', first, 0);
    for (const r of rest) await a.poke('ns', r, 0);
    await settle();
    held.delete(lost);
    cluster.release();
    await clock.advance(5000);
    await settle();
    const scaled = cluster.log.filter((l) => l.includes(' scale ')).map((l) => l.split(' ')[2]);
    for (const r of inLost) expect(scaled).not.toContain(`ns/${r}-deployment`);
    for (const r of elsewhere) expect(scaled).toContain(`ns/${r}-deployment`);
    expect(inLost.length).toBeGreaterThan(0);
  });
});

describe('a bucket lost and taken back later', () => {
  it('applies no decision made before it was lost: the scale is held until fresh samples decide', async () => {
    const cluster = new SharedCluster();
    const held = new Set(BUCKETS.names);
    const a = replica('a', cluster, held);
    const rev = REVISIONS[0];
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `10.2.0.${i + 1}`);
    cluster.ready.set(`ns/${rev}`, pods(3));
    a.upsertRevision({ ...revision(rev), replicas: 3 }, 0);
    // Heavy load for 10 s: the decision is to scale up.
    for (let t = 0; t <= 10; t++) {
      a.record('ns', rev, { concurrency: 350, rps: 350 }, t * 1000);
      if (t % 2 === 0) await a.tick(t * 1000);
    }
    const scaledUp = cluster.log.filter((l) => l.startsWith(`a scale ns/${rev}-deployment`));
    expect(scaledUp.length).toBeGreaterThan(0);
    const upTo = scaledUp.at(-1)!.split(' ').at(-1);
    expect(Number(upTo)).toBeGreaterThan(3);

    // The bucket moves to another replica, which scales the revision down to 2 meanwhile.
    held.clear();
    for (let t = 12; t <= 120; t += 2) await a.tick(t * 1000);
    cluster.ready.set(`ns/${rev}`, pods(2));
    a.upsertRevision({ ...revision(rev), replicas: 2 }, 120_000);
    const before = cluster.log.length;

    // Taken back, with no sample since: the old scale-up is not applied.
    for (const b of BUCKETS.names) held.add(b);
    for (let t = 122; t <= 130; t += 2) await a.tick(t * 1000);
    expect(cluster.log.slice(before).filter((l) => l.includes(' scale '))).toEqual([]);
  });
});

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** Queue-proxy /metrics on every loopback address (127.0.0.0/8), answering after `delayMs`; counts scrapes in flight. */
async function slowPods(delayMs: number) {
  const stats = { inFlight: 0, peak: 0, served: 0 };
  const server = http.createServer((_req, res) => {
    stats.inFlight++;
    stats.peak = Math.max(stats.peak, stats.inFlight);
    setTimeout(() => {
      stats.inFlight--;
      stats.served++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('queue_average_concurrent_requests 1\nqueue_requests_per_second 2\n');
    }, delayMs);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  return { port: (server.address() as AddressInfo).port, stats };
}

describe('MetricCollector with the scrape cap and the stagger', () => {
  it('never has more scrapes in flight than the cap, starts each revision at its offset, and samples every revision', async () => {
    const { port, stats } = await slowPods(20);
    // 30 revisions of 3 pods each, every pod at its own loopback address.
    const pods = new Map(REVISIONS.map((r, i) => [r, [1, 2, 3].map((p) => `127.0.${i + 1}.${p}`)]));
    const records = new Map<string, number>();
    const stagger = new RevisionStagger({ periodMs: 300 });
    const collector = new MetricCollector({
      view: { readyPodIps: (_ns, rev) => pods.get(rev) ?? [], activatorIps: () => [], publicSubsets: () => [] },
      revisions: () => REVISIONS.map((revision) => ({ namespace: 'ns', revision })),
      record: (_ns, rev, _sample, nowMs) => records.set(rev, nowMs),
      queueMetricsPort: port,
      activatorMetricsPort: port,
      logger,
      limiter: new ScrapeLimiter(4),
      stagger,
    });
    const roundStart = Date.now();
    await collector.collectOnce(roundStart);
    expect(stats.served).toBe(90);
    expect(stats.peak).toBeLessThanOrEqual(4);
    expect([...records.keys()].sort()).toEqual([...REVISIONS].sort());
    for (const [rev, at] of records) expect(at - roundStart).toBeGreaterThanOrEqual(stagger.offsetMs(`ns/${rev}`));
    expect(new Set(REVISIONS.map((r) => Math.floor(stagger.offsetMs(`ns/${r}`) / 100))).size).toBe(3);
  });
});

describe('a replica holding no bucket', () => {
  it('fetches no activator page: only a replica with revisions to measure does', async () => {
    const { port, stats } = await slowPods(1);
    let revisions: { namespace: string; revision: string; scrapePods: boolean }[] = [];
    const collector = new MetricCollector({
      view: { readyPodIps: () => [], activatorIps: () => ['127.0.0.1'], publicSubsets: () => [] },
      revisions: () => revisions,
      record: () => undefined,
      queueMetricsPort: port,
      activatorMetricsPort: port,
      logger,
    });
    await collector.collectOnce(Date.now());
    expect(stats.served).toBe(0);
    revisions = [{ namespace: 'ns', revision: REVISIONS[0], scrapePods: false }];
    await collector.collectOnce(Date.now());
    expect(stats.served).toBe(1);
  });
});
