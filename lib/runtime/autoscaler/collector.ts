import { Names } from '../../contract/naming';
import type { Logger } from '../shared/logger';
import type { Sample } from '../shared/prom-text';
import type { ClusterView } from './controller';
import type { MetricSample } from './kpa';
import type { MetricsClient } from './scrape-client';
import type { RevisionStagger, ScrapeLimiter } from './scrape-limiter';
import { activatorStats, queueProxyStat, QueueProxyStat, revisionSample, sampleSize, scrapeMetrics, scrapeOrder, scrapeSample } from './scraper';

export interface ScrapedRevision {
  readonly namespace: string;
  readonly revision: string;
  /** false: the revision's pods have no queue-proxy; the activators' numbers are all of its load. */
  readonly scrapePods?: boolean;
  /** Pods ready for less than this are scraped only when the older ones do not fill the sample (Knative: the stable window). */
  readonly youngPodCutoffMs?: number;
}

export interface CollectorProps {
  readonly view: ClusterView;
  readonly revisions: () => readonly ScrapedRevision[];
  readonly record: (namespace: string, revision: string, sample: MetricSample, nowMs: number) => void;
  readonly queueMetricsPort: number;
  readonly activatorMetricsPort: number;
  readonly logger: Logger;
  readonly timeoutMs?: number;
  /** Caps this replica's scrapes in flight (pods and activators); none: no cap. */
  readonly limiter?: ScrapeLimiter;
  /** Spreads the revisions' scrapes over the period, one at a time per revision; none: all at the round's start. */
  readonly stagger?: RevisionStagger;
  /** For tests: the shuffle of the pods' scrape order. */
  readonly random?: () => number;
  /** The HTTP client of the scrapes; none: the replica's shared one (./scraper.ts). For bench/scale/scrape-cost.ts. */
  readonly client?: MetricsClient;
}

/** What every activator said this round; `complete` only if every ready activator answered. */
interface ActivatorRound {
  readonly complete: boolean;
  /** Per `namespace/revision`, summed over the activators that answered. */
  readonly byRevision: ReadonlyMap<string, MetricSample>;
}

const NOTHING: MetricSample = { concurrency: 0, rps: 0 };

/**
 * One scrape round (every second): every activator once and, at the same time, a sample of each
 * revision's ready pods; one combined sample per revision goes to its decider
 * (knative/serving pkg/autoscaler/metrics/collector.go, stats_scraper.go).
 *
 * A sample is recorded only when it can be trusted; otherwise the revision gets none this round,
 * which the decider reads as missing data, never as zero load (its windows keep their earlier
 * data, and after a whole stable window without any it makes no decision at all, as Knative's
 * `ErrNoData` → invalid ScaleResult):
 * - The pods: the full sample size must be scraped. A pod that fails is replaced by another one
 *   (scrapeSample); when too few answer, extrapolating from the rest is not done.
 * - The activators: pods report what came through an activator as "proxied", and that part is
 *   subtracted from the pods' numbers and taken from the activators' pages instead. So an
 *   activator that did not answer would turn proxied load into zero load. A revision whose
 *   traffic may pass an activator therefore gets a sample only when every ready activator
 *   answered. An activator that answered but lists no series for the revision has nothing of it
 *   (it exports every revision with requests in its last period, activator/metrics.ts), which is
 *   a real 0.
 *
 * Targets are independent: each scrape has its own deadline, pod scrapes do not wait for the
 * activators' and a target whose previous scrape is still under way is left out of the round
 * (counted as failed) instead of holding the round up.
 */
export class MetricCollector {
  /** `host:port` of the scrapes under way. */
  private readonly inFlight = new Set<string>();
  /** Per `namespace/revision`, when each ready pod IP was first seen ready (its age). */
  private readonly readySince = new Map<string, Map<string, number>>();
  /** Activators whose last scrape failed, and revisions whose last pod sample failed: logged once, not every second. */
  private readonly failingActivators = new Set<string>();
  private readonly unsampledRevisions = new Set<string>();

  constructor(private readonly props: CollectorProps) {}

  /**
   * One round; rounds may overlap while a slow target's scrape runs out its deadline. With a
   * stagger each revision starts at its own offset in the period and sits out a round while its
   * previous one runs, so its own scrapes never overlap.
   */
  async collectOnce(nowMs: number): Promise<void> {
    const revisions = this.props.revisions();
    this.forgetGoneRevisions(revisions);
    // Nothing to measure here (a replica holding no bucket of revisions): the activators' pages,
    // which hold every revision, are not fetched either.
    if (revisions.length === 0) return;
    const activators = this.scrapeActivators(this.props.view.activatorIps());
    const { stagger } = this.props;
    await Promise.all(
      revisions.map((r) =>
        stagger ? stagger.schedule(`${r.namespace}/${r.revision}`, nowMs, (atMs) => this.collectRevision(r, activators, atMs)) : this.collectRevision(r, activators, nowMs),
      ),
    );
  }

  private async collectRevision(r: ScrapedRevision, activators: Promise<ActivatorRound>, nowMs: number): Promise<void> {
    const { namespace, revision, scrapePods = true } = r;
    const ips = this.props.view.readyPodIps(namespace, revision);
    const pods = scrapePods ? await this.scrapePods(r, ips, nowMs) : [];
    if (pods === undefined) return;
    const round = await activators;
    const fromActivators = round.byRevision.get(`${namespace}/${revision}`);
    if (!round.complete && this.mayPassActivators(r, ips, pods, fromActivators)) return;
    // No ready pod and no activator with requests for it: nothing to measure (Knative's scraper
    // returns an empty stat at zero pods, which is not recorded).
    if (ips.length === 0 && fromActivators === undefined) return;
    this.props.record(namespace, revision, revisionSample(pods, ips.length, fromActivators ?? NOTHING), nowMs);
  }

  /** A full sample of the ready pods, or undefined when too few answered. */
  private async scrapePods(r: ScrapedRevision, ips: readonly string[], nowMs: number): Promise<QueueProxyStat[] | undefined> {
    if (ips.length === 0) return [];
    const { old, young } = this.splitByAge(r, ips, nowMs);
    const size = sampleSize(ips.length);
    const order = scrapeOrder(old, young, size, this.props.random);
    const failures: string[] = [];
    const stats = await scrapeSample(
      order,
      size,
      async (ip) => queueProxyStat(await this.scrape(ip, this.props.queueMetricsPort)),
      (ip, err) => failures.push(`${ip}: ${err.message}`),
    );
    this.noteSample(r, { sampleSize: size, pods: ips.length, failures }, stats !== undefined);
    return stats;
  }

  /**
   * Whether some of the revision's load may be in or through an activator: it has no pods of its
   * own to scrape, no ready pod, an activator in its public Endpoints (Proxy mode), or its pods
   * report proxied requests (e.g. just after leaving Proxy mode).
   */
  private mayPassActivators(r: ScrapedRevision, ips: readonly string[], pods: readonly QueueProxyStat[], fromActivators: MetricSample | undefined): boolean {
    if (r.scrapePods === false || ips.length === 0 || fromActivators !== undefined) return true;
    if (pods.some((p) => p.proxiedConcurrency > 0 || p.proxiedRps > 0)) return true;
    const activatorIps = new Set(this.props.view.activatorIps());
    const subsets = this.props.view.publicSubsets(r.namespace, Names.publicService(r.revision)) ?? [];
    return subsets.some((s) => (s.addresses ?? []).some((a) => activatorIps.has(a.ip)));
  }

  /** Pods by how long this autoscaler has seen them ready, against the revision's cut-off. */
  private splitByAge(r: ScrapedRevision, ips: readonly string[], nowMs: number): { old: string[]; young: string[] } {
    const key = `${r.namespace}/${r.revision}`;
    const before = this.readySince.get(key) ?? new Map<string, number>();
    const since = new Map(ips.map((ip) => [ip, before.get(ip) ?? nowMs]));
    this.readySince.set(key, since);
    const cutoff = r.youngPodCutoffMs ?? 0;
    const old: string[] = [];
    const young: string[] = [];
    for (const [ip, at] of since) (nowMs - at >= cutoff ? old : young).push(ip);
    return { old, young };
  }

  private forgetGoneRevisions(revisions: readonly ScrapedRevision[]): void {
    const live = new Set(revisions.map((r) => `${r.namespace}/${r.revision}`));
    for (const key of this.readySince.keys()) if (!live.has(key)) this.readySince.delete(key);
    for (const key of this.unsampledRevisions) if (!live.has(key)) this.unsampledRevisions.delete(key);
  }

  /**
   * Scrapes one target, unless its previous scrape is still under way (then rejects at once).
   * Pod scrapes take a slot of the limiter; activator scrapes do not: they are a handful per round
   * (one per activator), and one waiting behind a backlog of pod scrapes would leave every
   * revision whose load may pass an activator without a sample.
   */
  private async scrape(host: string, port: number, limited = true): Promise<Sample[]> {
    const target = `${host}:${port}`;
    if (this.inFlight.has(target)) throw new Error(`${target}: previous scrape still under way`);
    this.inFlight.add(target);
    try {
      const { limiter, timeoutMs, client } = this.props;
      const run = () => scrapeMetrics(host, port, timeoutMs, client);
      return await (limiter && limited ? limiter.run(run) : run());
    } finally {
      this.inFlight.delete(target);
    }
  }

  private async scrapeActivators(ips: readonly string[]): Promise<ActivatorRound> {
    const byRevision = new Map<string, { concurrency: number; rps: number }>();
    const results = await Promise.allSettled(ips.map((ip) => this.scrape(ip, this.props.activatorMetricsPort, false)));
    let complete = true;
    for (const ip of this.failingActivators) if (!ips.includes(ip)) this.failingActivators.delete(ip);
    results.forEach((r, i) => {
      this.noteActivator(ips[i], r);
      if (r.status !== 'fulfilled') return void (complete = false);
      for (const [k, v] of activatorStats(r.value)) {
        const e = byRevision.get(k) ?? { concurrency: 0, rps: 0 };
        e.concurrency += v.concurrency;
        e.rps += v.rps;
        byRevision.set(k, e);
      }
    });
    return { complete, byRevision };
  }

  /** Logs when an activator starts and stops failing (not once a second while it fails). */
  private noteActivator(ip: string, result: PromiseSettledResult<unknown>): void {
    const { logger } = this.props;
    if (result.status === 'rejected' && !this.failingActivators.has(ip)) {
      this.failingActivators.add(ip);
      logger.warn({ activator: ip, err: (result.reason as Error).message }, 'activator scrape failed: revisions it may carry get no sample until it answers');
    } else if (result.status === 'fulfilled' && this.failingActivators.delete(ip)) {
      logger.info({ activator: ip }, 'activator scrape answers again');
    }
  }

  private noteSample(r: ScrapedRevision, details: { sampleSize: number; pods: number; failures: string[] }, sampled: boolean): void {
    const { logger } = this.props;
    const key = `${r.namespace}/${r.revision}`;
    const where = { namespace: r.namespace, revision: r.revision, ...details };
    if (!sampled && !this.unsampledRevisions.has(key)) {
      this.unsampledRevisions.add(key);
      logger.warn(where, 'too few pods answered for a full sample: no sample until they do');
    } else if (sampled && this.unsampledRevisions.delete(key)) {
      logger.info(where, 'pod sample complete again');
    } else if (details.failures.length > 0) {
      logger.debug(where, sampled ? 'failed pod scrapes replaced by other pods' : 'too few pods answered');
    }
  }
}
