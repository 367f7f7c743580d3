import type { Logger } from '../shared/logger';
import type { ClusterView } from './controller';
import type { MetricSample } from './kpa';
import { activatorStats, pickRandom, queueProxyStat, QueueProxyStat, revisionSample, sampleSize, scrapeMetrics } from './scraper';

export interface CollectorProps {
  readonly view: ClusterView;
  readonly revisions: () => Array<{ namespace: string; revision: string }>;
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
 */
export class MetricCollector {
  private running = false;

  constructor(private readonly props: CollectorProps) {}

  /** Skips a round while the previous one is still waiting on slow pods. */
  async collectOnce(nowMs: number): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.collect(nowMs);
    } finally {
      this.running = false;
    }
  }

  private async collect(nowMs: number): Promise<void> {
    const { view, timeoutMs } = this.props;
    const fromActivators = await this.scrapeActivators(view.activatorIps());
    await Promise.all(
      this.props.revisions().map(async ({ namespace, revision }) => {
        const ips = view.readyPodIps(namespace, revision);
        const chosen = pickRandom(ips, sampleSize(ips.length));
        const results = await Promise.allSettled(
          chosen.map(async (ip) => queueProxyStat(await scrapeMetrics(ip, this.props.queueMetricsPort, timeoutMs))),
        );
        const stats = results.filter((r): r is PromiseFulfilledResult<QueueProxyStat> => r.status === 'fulfilled').map((r) => r.value);
        const failed = results.length - stats.length;
        if (failed > 0) this.props.logger.debug({ namespace, revision, failed }, 'some queue-proxy scrapes failed');
        const act = fromActivators.get(`${namespace}/${revision}`);
        if (stats.length === 0 && act === undefined) return;
        this.props.record(namespace, revision, revisionSample(stats, ips.length, act), nowMs);
      }),
    );
  }

  private async scrapeActivators(ips: readonly string[]): Promise<Map<string, MetricSample>> {
    const sum = new Map<string, { concurrency: number; rps: number }>();
    const results = await Promise.allSettled(ips.map((ip) => scrapeMetrics(ip, this.props.activatorMetricsPort, this.props.timeoutMs)));
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
