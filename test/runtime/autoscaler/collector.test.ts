import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricCollector } from '../../../lib/runtime/autoscaler/collector';
import type { MetricSample } from '../../../lib/runtime/autoscaler/kpa';
import { revisionSample, sampleSize } from '../../../lib/runtime/autoscaler/scraper';
import { createLogger } from '../../../lib/runtime/shared/logger';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
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
