/**
 * Issue 18: the activator's /metrics lists only revisions with requests in the activator, and a
 * revision's series leave with it. Unit tests on the real registry and prom-client registry, then
 * the bundled activator as a real process with 20,000 revisions.
 */
import * as http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { ActivatorMetrics } from '../../../lib/runtime/activator/metrics';
import { RevisionRegistry } from '../../../lib/runtime/activator/registry';
import type { RevisionInfo } from '../../../lib/runtime/activator/revision';
import { parsePromText, type Sample } from '../../../lib/runtime/shared/prom-text';
import { eventually } from '../queue-proxy/processes';
import { startActivator, stopActivators, type StaticRevision } from './processes';

afterAll(async () => {
  await stopActivators();
});

const PER_REVISION = [
  'activator_average_concurrent_requests',
  'activator_requests_per_second',
  'activator_queue_depth',
  'activator_in_flight',
  'activator_ready_pods',
];

function info(revision: string): RevisionInfo {
  return { namespace: 'ns', revision, containerConcurrency: 0, timeoutSeconds: 60, podPort: 8012 };
}

/** Test times are offsets from t0, where setup opens every revision's first period. */
const t0 = Date.now() + 60_000;
const at = (ms: number) => t0 + ms;

function setup(names: string[]): { registry: RevisionRegistry; metrics: ActivatorMetrics } {
  const registry = new RevisionRegistry({ queueDepth: 100, probeIntervalMs: 1000, probeTimeoutMs: 500 });
  for (const name of names) registry.upsert(info(name));
  const metrics = new ActivatorMetrics(registry);
  metrics.report(registry, t0, 1000);
  return { registry, metrics };
}

async function page(metrics: ActivatorMetrics): Promise<Sample[]> {
  return parsePromText(await metrics.registry.metrics());
}

/** The metric names listed for a revision, sorted. */
function seriesOf(samples: readonly Sample[], revision: string): string[] {
  return samples.filter((s) => s.labels.revision === revision).map((s) => s.name).sort();
}

describe('ActivatorMetrics: series only for revisions with requests', () => {
  it('an idle revision is absent; one with a request in the period is listed with all its series', async () => {
    const { registry, metrics } = setup(['busy', 'idle']);
    const busy = registry.get('ns', 'busy')!;
    busy.load.requestIn(at(0));
    busy.load.requestOut(at(400));
    metrics.report(registry, at(1000), 1000);
    const samples = await page(metrics);
    expect(seriesOf(samples, 'busy')).toEqual([...PER_REVISION].sort());
    expect(seriesOf(samples, 'idle')).toEqual([]);
    expect(samples.find((s) => s.name === 'activator_average_concurrent_requests' && s.labels.revision === 'busy')?.value).toBeCloseTo(0.4, 9);
    // The next period had nothing: every value would be 0, so the revision leaves the page.
    metrics.report(registry, at(2000), 1000);
    expect(seriesOf(await page(metrics), 'busy')).toEqual([]);
    registry.stop();
  });

  it('a request that arrived after the last report is listed at once (live gauges), before its period closes', async () => {
    const { registry, metrics } = setup(['late']);
    metrics.report(registry, at(1000), 1000);
    registry.get('ns', 'late')!.load.requestIn(at(1500));
    expect(seriesOf(await page(metrics), 'late')).toEqual(['activator_in_flight', 'activator_queue_depth', 'activator_ready_pods']);
    metrics.report(registry, at(2000), 1000);
    const samples = await page(metrics);
    expect(samples.find((s) => s.name === 'activator_average_concurrent_requests' && s.labels.revision === 'late')?.value).toBeCloseTo(0.5, 9);
    registry.stop();
  });

  it('a removed revision loses every series, its refusal counter included; a late refusal is not counted', async () => {
    const { registry, metrics } = setup(['gone', 'stays']);
    const gone = registry.get('ns', 'gone')!;
    gone.load.requestIn(at(0));
    metrics.countRefusal(gone);
    metrics.countRefusal(registry.get('ns', 'stays')!);
    metrics.report(registry, at(1000), 1000);
    expect(seriesOf(await page(metrics), 'gone')).toEqual([...PER_REVISION, 'activator_pod_refusals_total'].sort());

    registry.remove('ns', 'gone');
    expect(seriesOf(await page(metrics), 'gone')).toEqual([]);
    // A request of the removed revision still finishing: its refusal must not bring a series back.
    metrics.countRefusal(gone);
    expect(seriesOf(await page(metrics), 'gone')).toEqual([]);
    expect(seriesOf(await page(metrics), 'stays')).toEqual(['activator_pod_refusals_total']);
    registry.stop();
  });

  it('a revision registered again after removal starts with no series', async () => {
    const { registry, metrics } = setup(['again']);
    registry.get('ns', 'again')!.load.requestIn(at(0));
    metrics.report(registry, at(1000), 1000);
    registry.remove('ns', 'again');
    registry.upsert(info('again'));
    expect(seriesOf(await page(metrics), 'again')).toEqual([]);
    registry.stop();
  });
});

describe('the bundled activator with 20,000 revisions, 50 of them with a request held', () => {
  it('serves a page under 50 KiB listing exactly the 50', async () => {
    const total = 20_000;
    const active = 50;
    // No pods: a request is held (queued) until its revision timeout, so it stays in the activator.
    const revisions: StaticRevision[] = Array.from({ length: total }, (_, i) => ({
      namespace: 'ns',
      revision: `r${i}`,
      timeoutSeconds: 30,
      pods: [],
    }));
    const activator = await startActivator(revisions);
    const busy = Array.from({ length: active }, (_, i) => `r${i * 400}`);
    const agent = new http.Agent({ keepAlive: false });
    const held = busy.map((revision) =>
      http.get({ host: '127.0.0.1', port: activator.httpPort, path: '/', agent, headers: { 'Knative-Serving-Namespace': 'ns', 'Knative-Serving-Revision': revision } }),
    );
    for (const req of held) req.on('error', () => undefined);
    try {
      let body = '';
      await eventually(async () => {
        body = await getText(activator.metricsPort);
        const samples = parsePromText(body);
        const held = samples.filter((s) => s.name === 'activator_queue_depth' && s.value === 1).length;
        // Once a period has closed with them held, each of the 50 has all 5 of its series.
        const averaged = samples.filter((s) => s.name === 'activator_average_concurrent_requests' && s.value > 0).length;
        return held === active && averaged === active;
      }, `${active} requests held through a whole period`);
      const listed = new Set(parsePromText(body).map((s) => s.labels.revision).filter(Boolean));
      expect([...listed].sort()).toEqual([...busy].sort());
      const bytes = Buffer.byteLength(body);
      console.log(`activator page: ${total} revisions registered, ${active} active: ${bytes} bytes`);
      expect(bytes).toBeLessThan(50 * 1024);
    } finally {
      for (const req of held) req.destroy();
    }
  });
});

function getText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}
