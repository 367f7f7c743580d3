import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type CollectorProps, MetricCollector } from '../../../lib/runtime/autoscaler/collector';
import type { ClusterView } from '../../../lib/runtime/autoscaler/controller';
import type { MetricSample } from '../../../lib/runtime/autoscaler/kpa';
import { type DeciderSpec, KpaDecider } from '../../../lib/runtime/autoscaler/kpa';
import { revisionSample, sampleSize, scrapeOrder } from '../../../lib/runtime/autoscaler/scraper';
import { ScrapeLimiter } from '../../../lib/runtime/autoscaler/scrape-limiter';
import { createLogger } from '../../../lib/runtime/shared/logger';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

/** A real /metrics endpoint on 127.0.0.1 serving fixed Prometheus text. */
async function metricsServer(text: string): Promise<number> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('scrape arithmetic (knative/serving pkg/autoscaler/metrics/collector.go)', () => {
  it.each([
    [1, 1],
    [3, 3],
    [4, 4],
    [10, 7],
    [100, 14],
    [1000, 16],
  ])('sample size for %i pods is %i', (pods, n) => {
    expect(sampleSize(pods)).toBe(n);
  });

  it('subtracts proxied load, scales the sample up to all pods, adds the activator', () => {
    const pod = { concurrency: 5, proxiedConcurrency: 2, rps: 10, proxiedRps: 4 };
    expect(revisionSample([pod, pod], 4, { concurrency: 1.5, rps: 3 })).toEqual({ concurrency: 13.5, rps: 27 });
    expect(revisionSample([], 0, { concurrency: 2, rps: 1 })).toEqual({ concurrency: 2, rps: 1 });
  });
});

describe('MetricCollector against real /metrics endpoints', () => {
  it('combines a queue-proxy and an activator into one sample for the revision', async () => {
    const qpPort = await metricsServer(
      [
        '# TYPE queue_average_concurrent_requests gauge',
        'queue_average_concurrent_requests{destination_revision="r1"} 4',
        'queue_average_proxied_concurrent_requests{destination_revision="r1"} 1',
        'queue_requests_per_second{destination_revision="r1"} 20',
        'queue_proxied_operations_per_second{destination_revision="r1"} 5',
      ].join('\n'),
    );
    const activatorPort = await metricsServer(
      [
        'activator_average_concurrent_requests{namespace="ns",revision="r1"} 2.5',
        'activator_requests_per_second{namespace="ns",revision="r1"} 6',
        'activator_average_concurrent_requests{namespace="ns",revision="other"} 9',
      ].join('\n'),
    );
    // Both servers listen on 127.0.0.1; the ports tell them apart.
    const records: Array<{ rev: string; sample: MetricSample }> = [];
    const collector = new MetricCollector({
      view: {
        readyPodIps: () => ['127.0.0.1'],
        activatorIps: () => ['127.0.0.1'],
        publicSubsets: () => [],
      },
      revisions: () => [{ namespace: 'ns', revision: 'r1' }],
      record: (_ns, rev, sample) => records.push({ rev, sample }),
      queueMetricsPort: qpPort,
      activatorMetricsPort: activatorPort,
      logger: createLogger('test', { level: 'silent' }),
    });
    await collector.collectOnce(0);
    expect(records).toEqual([{ rev: 'r1', sample: { concurrency: 5.5, rps: 21 } }]);
  });

  it('records nothing for a revision whose pods cannot be scraped and that the activator does not know', async () => {
    const closed = await metricsServer('');
    await new Promise((r) => servers.pop()!.close(r));
    const records: unknown[] = [];
    const collector = new MetricCollector({
      view: { readyPodIps: () => ['127.0.0.1'], activatorIps: () => [], publicSubsets: () => [] },
      revisions: () => [{ namespace: 'ns', revision: 'r1' }],
      record: (...args) => records.push(args),
      queueMetricsPort: closed,
      activatorMetricsPort: closed,
      logger: createLogger('test', { level: 'silent' }),
      timeoutMs: 500,
    });
    await collector.collectOnce(0);
    expect(records).toEqual([]);
  });

  it('a sidecar-less revision (scrapePods false): its pods are not scraped, the activators count its whole load', async () => {
    let podScrapes = 0;
    const pod = http.createServer((_req, res) => (podScrapes++, res.end('queue_average_concurrent_requests 50\n')));
    servers.push(pod);
    await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
    const activatorPort = await metricsServer(
      ['activator_average_concurrent_requests{namespace="ns",revision="r1"} 3', 'activator_requests_per_second{namespace="ns",revision="r1"} 7'].join('\n'),
    );
    const records: Array<{ rev: string; sample: MetricSample }> = [];
    const collector = new MetricCollector({
      view: { readyPodIps: () => ['127.0.0.1'], activatorIps: () => ['127.0.0.1'], publicSubsets: () => [] },
      revisions: () => [{ namespace: 'ns', revision: 'r1', scrapePods: false }],
      record: (_ns, rev, sample) => records.push({ rev, sample }),
      queueMetricsPort: (pod.address() as AddressInfo).port,
      activatorMetricsPort: activatorPort,
      logger: createLogger('test', { level: 'silent' }),
    });
    await collector.collectOnce(0);
    expect(records).toEqual([{ rev: 'r1', sample: { concurrency: 3, rps: 7 } }]);
    expect(podScrapes).toBe(0);
  });
});

/**
 * Metrics endpoints on several loopback addresses (all of 127/8 is loopback on Linux) sharing one
 * port, as pods share the queue-proxy's metrics port in a cluster; each address has its own answer.
 */
class Fleet {
  readonly hits = new Map<string, number>();
  /** Order of events across the fleet (scrapes and ends of hung scrapes), for ordering checks. */
  readonly events: string[] = [];
  private readonly answers = new Map<string, string | 'fail' | 'hang'>();
  port = 0;

  async listen(ips: readonly string[]): Promise<this> {
    for (const ip of ips) {
      const server = http.createServer((req, res) => this.answer(ip, req, res));
      servers.push(server);
      await new Promise<void>((r) => server.listen(this.port, ip, r));
      this.port = (server.address() as AddressInfo).port;
    }
    return this;
  }

  set(ip: string, answer: string | 'fail' | 'hang'): this {
    this.answers.set(ip, answer);
    return this;
  }

  private answer(ip: string, _req: http.IncomingMessage, res: http.ServerResponse): void {
    this.hits.set(ip, (this.hits.get(ip) ?? 0) + 1);
    this.events.push(`scraped ${ip}`);
    const answer = this.answers.get(ip) ?? '';
    if (answer === 'fail') return void res.writeHead(500).end('broken');
    if (answer === 'hang') return void res.once('close', () => this.events.push(`hung scrape of ${ip} ended`));
    res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
  }
}

const pod = (concurrency: number, proxied = 0, rps = concurrency * 5, proxiedRps = proxied * 5) =>
  [
    `queue_average_concurrent_requests ${concurrency}`,
    `queue_average_proxied_concurrent_requests ${proxied}`,
    `queue_requests_per_second ${rps}`,
    `queue_proxied_operations_per_second ${proxiedRps}`,
  ].join('\n');

const activatorPage = (revisions: Record<string, [number, number]>) =>
  Object.entries(revisions)
    .flatMap(([rev, [c, rps]]) => [
      `activator_average_concurrent_requests{namespace="ns",revision="${rev}"} ${c}`,
      `activator_requests_per_second{namespace="ns",revision="${rev}"} ${rps}`,
    ])
    .join('\n');

interface Recorded {
  rev: string;
  at: number;
  sample: MetricSample;
}

function collector(
  pods: Fleet,
  activators: Fleet,
  view: Partial<ClusterView> & Pick<ClusterView, 'readyPodIps'>,
  props: Partial<CollectorProps> = {},
): { collector: MetricCollector; records: Recorded[] } {
  const records: Recorded[] = [];
  const c = new MetricCollector({
    view: { activatorIps: () => [], publicSubsets: () => [], ...view },
    revisions: () => [{ namespace: 'ns', revision: 'r1' }],
    record: (_ns, rev, sample, at) => records.push({ rev, at, sample }),
    queueMetricsPort: pods.port,
    activatorMetricsPort: activators.port,
    logger: createLogger('test', { level: 'silent' }),
    timeoutMs: 300,
    ...props,
  });
  return { collector: c, records };
}

/** The public Endpoints of a revision in Proxy mode: the activators' addresses. */
const proxyMode = (activatorIps: readonly string[]) => () => [{ addresses: activatorIps.map((ip) => ({ ip })) }];

describe('missing data is not zero load (issue 18)', () => {
  const PODS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  const ACTIVATORS = ['127.0.0.11', '127.0.0.12'];

  it('Proxy mode: an activator that does not answer means no sample, and the decider does not scale down', async () => {
    // Every request to the pods came through the activators: the pods' own share is 0 and the
    // load, {30, 150}, is on the activators' pages (Knative subtracts proxied load at the pods).
    const pods = await new Fleet().listen(PODS);
    for (const ip of PODS) pods.set(ip, pod(10, 10, 50, 50));
    const activators = await new Fleet().listen(ACTIVATORS);
    activators.set(ACTIVATORS[0], activatorPage({ r1: [20, 100] })).set(ACTIVATORS[1], activatorPage({ r1: [10, 50] }));
    const spec: DeciderSpec = {
      metric: 'concurrency', targetValue: 10, totalValue: 10, targetBurstCapacity: -1, panicThreshold: 2, maxScaleUpRate: 1000,
      maxScaleDownRate: 2, stableWindowMs: 6000, panicWindowMs: 1000, activationScale: 1, scaleDownDelayMs: 0, reachable: true, activatorCapacity: 100,
    };
    const decider = new KpaDecider(spec, 0, 3);
    const { collector: c, records } = collector(pods, activators, {
      readyPodIps: () => PODS,
      activatorIps: () => ACTIVATORS,
      publicSubsets: proxyMode(ACTIVATORS),
    }, { record: (_ns, rev, sample, at) => (records.push({ rev, at, sample }), decider.record(at, sample)) });

    for (let t = 0; t < 6; t++) await c.collectOnce(t * 1000);
    expect(records.map((r) => r.sample)).toEqual(Array(6).fill({ concurrency: 30, rps: 150 }));
    expect(decider.decide(5000, 3).desiredPods).toBe(3);

    // One activator stops answering (hangs until the scrape deadline), for 10 rounds.
    activators.set(ACTIVATORS[1], 'hang');
    const decisions: number[] = [];
    for (let t = 6; t < 16; t++) {
      await c.collectOnce(t * 1000);
      const d = decider.decide(t * 1000, 3);
      if (d.valid) decisions.push(d.desiredPods);
    }
    expect(records).toHaveLength(6); // no sample for any of the 10 rounds, never {20, 100} nor {0, 0}
    expect(decisions.every((n) => n === 3), `decisions during the outage: ${decisions}`).toBe(true);
    // A whole stable window without data: no decision at all (Knative's invalid ScaleResult).
    expect(decider.decide(15_000, 3).valid).toBe(false);

    activators.set(ACTIVATORS[1], activatorPage({ r1: [10, 50] }));
    await c.collectOnce(16_000);
    expect(records.at(-1)).toEqual({ rev: 'r1', at: 16_000, sample: { concurrency: 30, rps: 150 } });
    expect(decider.decide(16_000, 3)).toMatchObject({ valid: true, desiredPods: 3 });
  });

  it('activator scrapes do not wait behind pod scrapes for a slot of the scrape limiter', async () => {
    const pods = await new Fleet().listen(PODS);
    for (const ip of PODS) pods.set(ip, pod(2, 2));
    const activators = await new Fleet().listen(ACTIVATORS);
    activators.set(ACTIVATORS[0], activatorPage({ r1: [4, 20] })).set(ACTIVATORS[1], activatorPage({ r1: [2, 10] }));
    const limiter = new ScrapeLimiter(1);
    let unblock = () => {};
    // A backlog: the only slot is taken by a scrape still under way.
    const blocker = limiter.run(() => new Promise<void>((r) => (unblock = r)));
    const { collector: c, records } = collector(pods, activators, {
      readyPodIps: () => PODS,
      activatorIps: () => ACTIVATORS,
      publicSubsets: proxyMode(ACTIVATORS),
    }, { limiter });
    const round = c.collectOnce(0);
    for (let i = 0; i < 100 && ACTIVATORS.some((ip) => !activators.hits.get(ip)); i++) await new Promise((r) => setTimeout(r, 10));
    expect(ACTIVATORS.map((ip) => activators.hits.get(ip) ?? 0)).toEqual([1, 1]);
    expect(PODS.map((ip) => pods.hits.get(ip) ?? 0)).toEqual([0, 0, 0]);
    unblock();
    await blocker;
    await round;
    expect(records).toEqual([{ rev: 'r1', at: 0, sample: { concurrency: 6, rps: 30 } }]);
  });

  it('an activator that answered without the revision\'s series has nothing of it: 0 from that one', async () => {
    const pods = await new Fleet().listen(PODS);
    for (const ip of PODS) pods.set(ip, pod(2, 2));
    const activators = await new Fleet().listen(ACTIVATORS);
    // The second activator is idle for r1: its page lists another revision only.
    activators.set(ACTIVATORS[0], activatorPage({ r1: [6, 30] })).set(ACTIVATORS[1], activatorPage({ other: [9, 9] }));
    const { collector: c, records } = collector(pods, activators, {
      readyPodIps: () => PODS,
      activatorIps: () => ACTIVATORS,
      publicSubsets: proxyMode(ACTIVATORS),
    });
    await c.collectOnce(0);
    expect(records).toEqual([{ rev: 'r1', at: 0, sample: { concurrency: 6, rps: 30 } }]);
  });

  it('a revision served by its pods alone (Serve mode, nothing proxied) keeps its samples while an activator fails', async () => {
    const pods = await new Fleet().listen(PODS);
    for (const ip of PODS) pods.set(ip, pod(4));
    const activators = await new Fleet().listen(ACTIVATORS);
    activators.set(ACTIVATORS[0], 'fail').set(ACTIVATORS[1], activatorPage({}));
    const { collector: c, records } = collector(pods, activators, {
      readyPodIps: () => PODS,
      activatorIps: () => ACTIVATORS,
      publicSubsets: () => [{ addresses: PODS.map((ip) => ({ ip })) }],
    }, {
      revisions: () => [
        { namespace: 'ns', revision: 'r1' },
        // Sidecar-less: all of its load is on the activators, so it gets no sample.
        { namespace: 'ns', revision: 'activator-only', scrapePods: false },
      ],
    });
    await c.collectOnce(0);
    expect(records).toEqual([{ rev: 'r1', at: 0, sample: { concurrency: 12, rps: 60 } }]);
  });

  it('pods that report proxied requests need every activator, even when the Endpoints list only pods', async () => {
    const pods = await new Fleet().listen(PODS);
    for (const ip of PODS) pods.set(ip, pod(4, 1));
    const activators = await new Fleet().listen(ACTIVATORS);
    activators.set(ACTIVATORS[0], 'fail').set(ACTIVATORS[1], activatorPage({}));
    const { collector: c, records } = collector(pods, activators, {
      readyPodIps: () => PODS,
      activatorIps: () => ACTIVATORS,
      publicSubsets: () => [{ addresses: PODS.map((ip) => ({ ip })) }],
    });
    await c.collectOnce(0);
    expect(records).toEqual([]);
  });

  it('pod scrapes do not wait for the activator scrapes', async () => {
    const pods = await new Fleet().listen(['127.0.0.1']);
    pods.set('127.0.0.1', pod(3));
    const activators = await new Fleet().listen(['127.0.0.11']);
    activators.set('127.0.0.11', 'hang');
    const events: string[] = [];
    // One event log for both fleets: the pod's scrape must come before the hung activator scrape ends.
    pods.events.push = (...e: string[]) => events.push(...e);
    activators.events.push = (...e: string[]) => events.push(...e);
    const { collector: c } = collector(pods, activators, { readyPodIps: () => ['127.0.0.1'], activatorIps: () => ['127.0.0.11'] }, { timeoutMs: 1000 });
    await c.collectOnce(0);
    // The server sees the hung exchange close a moment after the client gave up.
    while (!events.includes('hung scrape of 127.0.0.11 ended')) await new Promise((r) => setTimeout(r, 10));
    expect(events.indexOf('scraped 127.0.0.1'), events.join(', ')).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('scraped 127.0.0.1'), events.join(', ')).toBeLessThan(events.indexOf('hung scrape of 127.0.0.11 ended'));
  });
});

describe('a failed pod scrape is replaced by another pod (knative/serving stats_scraper.go)', () => {
  const FIVE = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  /** Shuffles to [.2, .3, .4, .5, .1]: .1 is the spare, .2 the first tried. */
  const fixedShuffle = () => 0;

  it('5 pods, sample of 4: the failing one is replaced by the fifth; the sample is scaled to 5 pods', async () => {
    expect(sampleSize(5)).toBe(4);
    const pods = await new Fleet().listen(FIVE);
    pods.set('127.0.0.1', pod(1)).set('127.0.0.2', 'fail').set('127.0.0.3', pod(3)).set('127.0.0.4', pod(4)).set('127.0.0.5', pod(5));
    const { collector: c, records } = collector(pods, await new Fleet().listen([]), { readyPodIps: () => FIVE }, { random: fixedShuffle });
    await c.collectOnce(0);
    expect(Object.fromEntries(pods.hits)).toEqual(Object.fromEntries(FIVE.map((ip) => [ip, 1])));
    // (1 + 3 + 4 + 5) × 5/4: the four that answered stand for all five.
    expect(records).toEqual([{ rev: 'r1', at: 0, sample: { concurrency: 16.25, rps: 81.25 } }]);
  });

  it('too few answers for the sample size: no sample (not an extrapolation from fewer pods)', async () => {
    const pods = await new Fleet().listen(FIVE);
    for (const ip of FIVE) pods.set(ip, pod(4));
    pods.set('127.0.0.2', 'fail').set('127.0.0.4', 'hang');
    const { collector: c, records } = collector(pods, await new Fleet().listen([]), { readyPodIps: () => FIVE }, { random: fixedShuffle });
    await c.collectOnce(0);
    expect(records).toEqual([]);
    expect([...pods.hits.values()].reduce((a, b) => a + b)).toBe(5); // every pod was tried once
  });

  it('all pods fail: no sample', async () => {
    const three = FIVE.slice(0, 3);
    const pods = await new Fleet().listen(three);
    for (const ip of three) pods.set(ip, 'fail');
    const { collector: c, records } = collector(pods, await new Fleet().listen([]), { readyPodIps: () => three });
    await c.collectOnce(0);
    expect(records).toEqual([]);
  });

  it('pods ready for less than the cut-off are spares: scraped only when an older pod fails', async () => {
    const pods = await new Fleet().listen(FIVE);
    for (const ip of FIVE) pods.set(ip, pod(2));
    let ready = FIVE.slice(0, 4);
    const { collector: c, records } = collector(pods, await new Fleet().listen([]), { readyPodIps: () => ready }, {
      revisions: () => [{ namespace: 'ns', revision: 'r1', youngPodCutoffMs: 60_000 }],
    });
    await c.collectOnce(0);
    ready = FIVE; // .5 becomes ready; the other four have been ready for a whole cut-off at 60 s
    await c.collectOnce(60_000);
    expect(pods.hits.get('127.0.0.5')).toBeUndefined();
    pods.set('127.0.0.3', 'fail');
    await c.collectOnce(61_000);
    expect(pods.hits.get('127.0.0.5')).toBe(1);
    expect(records.map((r) => r.sample.concurrency)).toEqual([8, 10, 10]);
  });

  it('scrape order: old pods first (shuffled when enough), young ones as spares', () => {
    const reverse = () => 0.999; // leaves the order as it is
    expect(scrapeOrder(['a', 'b', 'c'], ['y'], 2, reverse)).toEqual(['a', 'b', 'c', 'y']);
    expect(scrapeOrder(['a'], ['x', 'y', 'z'], 3, () => 0)).toEqual(['a', 'y', 'z', 'x']);
    // Every old pod is tried before any young one, whatever the shuffle.
    for (let i = 0; i < 20; i++) expect(scrapeOrder(['a', 'b'], ['x', 'y'], 2).slice(0, 2).sort()).toEqual(['a', 'b']);
  });
});
