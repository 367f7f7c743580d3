import type { Logger } from '../shared/logger';
import type { Sample } from '../shared/prom-text';
import type { ClusterView } from './controller';
import type { MetricSample } from './kpa';
import { activatorStats, pickRandom, queueProxyStat, QueueProxyStat, revisionSample, sampleSize, scrapeMetrics } from './scraper';

export interface CollectorProps {
  readonly view: ClusterView;
  /** `scrapePods` false: the revision's pods have no queue-proxy; the activators' numbers are all of its load. */
  readonly revisions: () => Array<{ namespace: string; revision: string; scrapePods?: boolean }>;
  readonly record: (namespace: string, revision: string, sample: MetricSample, nowMs: number) => void;
  readonly queueMetricsPort: number;
  readonly activatorMetricsPort: number;
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

/**
 * One scrape round (every second): every activator once, then a sample of each revision's ready
 * pods; one combined sample per revision goes to its decider. A revision with neither a scraped
 * pod nor activator data gets no sample this round (missing data, not zero).
 *
 * Targets are independent: each scrape has its own deadline, and a target whose previous scrape
 * is still under way is left out of the round (counted as failed) instead of holding the round
 * up, so one slow endpoint never stops the others from being scraped every second.
 */
export class MetricCollector {
  /** `host:port` of the scrapes under way. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly props: CollectorProps) {}

  /** One round; rounds may overlap while a slow target's scrape runs out its deadline. */
  async collectOnce(nowMs: number): Promise<void> {
    const { view } = this.props;
    const fromActivators = await this.scrapeActivators(view.activatorIps());
    await Promise.all(
      this.props.revisions().map(async ({ namespace, revision, scrapePods = true }) => {
        const ips = view.readyPodIps(namespace, revision);
        const chosen = scrapePods ? pickRandom(ips, sampleSize(ips.length)) : [];
        const results = await Promise.allSettled(
          chosen.map(async (ip) => queueProxyStat(await this.scrape(ip, this.props.queueMetricsPort))),
        );
        const stats = results.filter((r): r is PromiseFulfilledResult<QueueProxyStat> => r.status === 'fulfilled').map((r) => r.value);
        const failed = results.length - stats.length;
        if (failed > 0) {
          const why = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error;
          this.props.logger.debug({ namespace, revision, failed, why: why.message }, 'some queue-proxy scrapes failed');
        }
        const act = fromActivators.get(`${namespace}/${revision}`);
        if (stats.length === 0 && act === undefined) return;
        this.props.record(namespace, revision, revisionSample(stats, ips.length, act), nowMs);
      }),
    );
  }

  /** Scrapes one target, unless its previous scrape is still under way (then rejects at once). */
  private async scrape(host: string, port: number): Promise<Sample[]> {
    const target = `${host}:${port}`;
    if (this.inFlight.has(target)) throw new Error(`${target}: previous scrape still under way`);
    this.inFlight.add(target);
    try {
      return await scrapeMetrics(host, port, this.props.timeoutMs);
    } finally {
      this.inFlight.delete(target);
    }
  }

  private async scrapeActivators(ips: readonly string[]): Promise<Map<string, MetricSample>> {
    const sum = new Map<string, { concurrency: number; rps: number }>();
    const results = await Promise.allSettled(ips.map((ip) => this.scrape(ip, this.props.activatorMetricsPort)));
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      for (const [k, v] of activatorStats(r.value)) {
        const e = sum.get(k) ?? { concurrency: 0, rps: 0 };
        e.concurrency += v.concurrency;
        e.rps += v.rps;
        sum.set(k, e);
      }
    }
    return sum;
  }
}
