/**
 * Issue 12: the autoscaler does not trust its scrapes. Real /metrics endpoints on 127.0.0.1 that
 * trickle, lie (NaN, infinities, absurd numbers) or send without end.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricCollector } from '../../../lib/runtime/autoscaler/collector';
import { type DeciderSpec, KpaDecider } from '../../../lib/runtime/autoscaler/kpa';
import { MAX_PLAUSIBLE_VALUE, MAX_SCRAPE_BYTES, scrapeMetrics } from '../../../lib/runtime/autoscaler/scraper';
import { createLogger } from '../../../lib/runtime/shared/logger';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
});

async function serve(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const queueText = (concurrency: string) =>
  [
    `queue_average_concurrent_requests{destination_revision="r"} ${concurrency}`,
    'queue_average_proxied_concurrent_requests{destination_revision="r"} 0',
    'queue_requests_per_second{destination_revision="r"} 1',
    'queue_proxied_operations_per_second{destination_revision="r"} 0',
  ].join('\n');

const fixed = (text: string) => serve((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(text));

/** Starts a 200 answer, then sends one byte every 100 ms for ever (until the client leaves). */
const trickling = () =>
  serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const timer = setInterval(() => res.write('#'), 100);
    res.once('close', () => clearInterval(timer));
  });

describe('scrapeMetrics', () => {
  it('cuts off an endpoint trickling a byte at a time: the limit is a deadline, not an idle timeout', async () => {
    const port = await trickling();
    await expect(scrapeMetrics('127.0.0.1', port, 500)).rejects.toThrow(/no complete answer within 500ms/);
  });

  it('stops reading a body beyond MAX_SCRAPE_BYTES (an endpoint sending 64 MiB of comments)', async () => {
    const bodyBytes = 64 * 1024 * 1024;
    expect(MAX_SCRAPE_BYTES).toBeLessThan(bodyBytes);
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const line = Buffer.from(`# ${'x'.repeat(1022)}\n`);
      let sent = 0;
      const pump = () => {
        while (sent < bodyBytes && !res.destroyed) {
          sent += line.length;
          if (!res.write(line)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await expect(scrapeMetrics('127.0.0.1', port, 20_000)).rejects.toThrow(/body over/);
  });

  it.each(['NaN', '+Inf', '-Inf', '1e308', '-3', String(MAX_PLAUSIBLE_VALUE * 10)])('rejects a scrape reading %s', async (value) => {
    const port = await fixed(queueText(value));
    await expect(scrapeMetrics('127.0.0.1', port)).rejects.toThrow(/not a plausible value/);
  });

  it('accepts ordinary values, and does not judge metrics it does not read', async () => {
    const port = await fixed(`${queueText('12.5')}\nprocess_weird NaN\n`);
    const samples = await scrapeMetrics('127.0.0.1', port);
    expect(samples.find((s) => s.name === 'queue_average_concurrent_requests')?.value).toBe(12.5);
  });
});

describe('MetricCollector with a slow and a healthy revision', () => {
  it('a pod trickling its metrics stops neither the other revisions nor the next rounds', async () => {
    // Both pods on one metrics port, told apart by address (all of 127/8 is loopback on Linux).
    const okPort = await fixed(queueText('2'));
    const slowServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('#'), 100);
      res.once('close', () => clearInterval(timer));
    });
    servers.push(slowServer);
    await new Promise<void>((r) => slowServer.listen(okPort, '127.0.0.2', r));
    const records: string[] = [];
    const collector = new MetricCollector({
      view: { readyPodIps: (_ns, revision) => [revision === 'slow' ? '127.0.0.2' : '127.0.0.1'], activatorIps: () => [], publicSubsets: () => [] },
      revisions: () => [
        { namespace: 'ns', revision: 'slow' },
        { namespace: 'ns', revision: 'ok' },
      ],
      record: (_ns, revision, _sample, atMs) => records.push(`${revision}@${atMs}`),
      queueMetricsPort: okPort,
      activatorMetricsPort: okPort,
      logger: createLogger('test', { level: 'silent' }),
      timeoutMs: 3000,
    });
    const first = collector.collectOnce(0);
    while (records.length === 0) await new Promise((r) => setTimeout(r, 10)); // ok@0, the slow pod still scraping
    await collector.collectOnce(1000);
    await collector.collectOnce(2000);
    expect(records).toEqual(['ok@0', 'ok@1000', 'ok@2000']);
    await first; // the slow scrape runs out its deadline: no sample, rather than a late one
    expect(records).toEqual(['ok@0', 'ok@1000', 'ok@2000']);
  });
});

describe('KpaDecider inputs', () => {
  const spec: DeciderSpec = {
    metric: 'concurrency',
    targetValue: 10,
    totalValue: 100,
    targetBurstCapacity: 200,
    panicThreshold: 2,
    maxScaleUpRate: 1000,
    maxScaleDownRate: 2,
    stableWindowMs: 60_000,
    panicWindowMs: 6_000,
    activationScale: 1,
    scaleDownDelayMs: 0,
    reachable: true,
    activatorCapacity: 100,
  };

  // (Finite but absurd values, such as 1e308, are the scraper's to reject: MAX_PLAUSIBLE_VALUE.)
  it('a NaN, an infinity or a negative value among the samples is dropped: the decision stays finite', () => {
    const decider = new KpaDecider(spec, 0, 1);
    decider.record(0, { concurrency: 10, rps: 1 });
    decider.record(1000, { concurrency: NaN, rps: 1 });
    decider.record(2000, { concurrency: Infinity, rps: 1 });
    decider.record(4000, { concurrency: -5, rps: 1 });
    const decision = decider.decide(4000, 1);
    expect(decision.valid).toBe(true);
    expect(Number.isFinite(decision.desiredPods)).toBe(true);
    expect(decision.desiredPods).toBeLessThanOrEqual(2);
  });

  it('a ready-pod count that is not a number counts as none ready', () => {
    const decider = new KpaDecider(spec, 0, 1);
    decider.record(0, { concurrency: 10, rps: 1 });
    expect(decider.decide(1000, NaN).desiredPods).toBe(1);
  });
});
