/**
 * What one pod scrape costs the autoscaler in CPU, in isolation: the runtime's own MetricCollector
 * (lib/runtime/autoscaler/collector.ts, with the scrape cap and stagger main.ts gives it) runs in
 * this process, one round a second, against fake queue-proxies in a child process
 * (./fake-pods.ts), for a number of revisions small enough that one core keeps up. The CPU this
 * process used in the window (user + system, garbage collection included) ÷ the pod scrapes the
 * fake pods answered = CPU per scrape; 1 s ÷ that = scrapes per second one core can make.
 *
 * Two connection modes: `keep-alive` (as a queue-proxy answers: the connection stays open for
 * the next scrape) and `close` (each answer closes it, as the scale runs' fake pods must: a TCP
 * connect per scrape). No decisions, no API server: only the scraping path.
 *
 * Run alone: `npx tsx bench/scale/scrape-cost.ts [revisions] [seconds] [keep-alive|close]`.
 */
import { MetricCollector } from '../../lib/runtime/autoscaler/collector';
import { MAX_CONCURRENT_SCRAPES } from '../../lib/runtime/autoscaler/config';
import { RevisionStagger, ScrapeLimiter } from '../../lib/runtime/autoscaler/scrape-limiter';
import { sampleSize } from '../../lib/runtime/autoscaler/scraper';
import { createLogger } from '../../lib/runtime/shared/logger';
import { freePort, sleep } from '../lib/net';
import { round } from '../lib/stats';
import { FakePods } from './run';
import { PODS_PER_REVISION, podIp } from './topology';

export type ScrapeConnections = 'keep-alive' | 'close';

export interface ScrapeCostRun {
  readonly connections: ScrapeConnections;
  readonly revisions: number;
  readonly podsPerRevision: number;
  readonly windowSeconds: number;
  readonly podScrapesPerSecond: number;
  /** Pod scrapes per second needed to sample every revision each second. */
  readonly podScrapesNeededPerSecond: number;
  /** CPU cores this process used in the window. */
  readonly cpuCores: number;
  readonly cpuMicrosPerScrape: number;
  /** 1 s of one core ÷ the CPU per scrape. */
  readonly scrapesPerCoreSecond: number;
}

export const SCRAPE_COST_REVISIONS = 200;
export const SCRAPE_COST_SECONDS = 10;
const WARMUP_SECONDS = 3;

export async function measureScrapeCost(connections: ScrapeConnections, revisions = SCRAPE_COST_REVISIONS, windowSeconds = SCRAPE_COST_SECONDS): Promise<ScrapeCostRun> {
  const [podPort, activatorPort] = [await freePort(), await freePort()];
  const pods = await FakePods.start([podPort], [activatorPort], revisions * PODS_PER_REVISION, connections === 'keep-alive');
  const ips = Array.from({ length: revisions }, (_, r) => Array.from({ length: PODS_PER_REVISION }, (_, p) => podIp(r * PODS_PER_REVISION + p)));
  const list = ips.map((_, r) => ({ namespace: 'scale-0', revision: `rev-${r}`, youngPodCutoffMs: 0 }));
  const collector = new MetricCollector({
    view: {
      readyPodIps: (_ns, revision) => ips[Number(revision.slice('rev-'.length))],
      activatorIps: () => [],
      publicSubsets: () => undefined,
    },
    revisions: () => list,
    record: () => undefined,
    queueMetricsPort: podPort,
    activatorMetricsPort: activatorPort,
    logger: createLogger('scrape-cost', { level: 'silent' }),
    limiter: new ScrapeLimiter(MAX_CONCURRENT_SCRAPES),
    stagger: new RevisionStagger({ periodMs: 1000 }),
  });
  const timer = setInterval(() => void collector.collectOnce(Date.now()), 1000);
  try {
    await sleep(WARMUP_SECONDS * 1000);
    await pods.takeCounts();
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await sleep(windowSeconds * 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const seconds = (performance.now() - start) / 1000;
    const scrapes = [...(await pods.takeCounts()).pods.get(podPort)!].reduce((a, b) => a + b, 0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const micros = (cpuSeconds * 1e6) / Math.max(1, scrapes);
    return {
      connections,
      revisions,
      podsPerRevision: PODS_PER_REVISION,
      windowSeconds: round(seconds, 1),
      podScrapesPerSecond: round(scrapes / seconds, 1),
      podScrapesNeededPerSecond: revisions * sampleSize(PODS_PER_REVISION),
      cpuCores: round(cpuSeconds / seconds, 3),
      cpuMicrosPerScrape: round(micros, 1),
      scrapesPerCoreSecond: Math.round(1e6 / micros),
    };
  } finally {
    clearInterval(timer);
    await pods.stop();
  }
}

if (require.main === module) {
  const [revisions, seconds] = process.argv.slice(2, 4).map(Number);
  const modes: ScrapeConnections[] = process.argv[4] ? [process.argv[4] as ScrapeConnections] : ['keep-alive', 'close'];
  void (async () => {
    for (const mode of modes) {
      const run = await measureScrapeCost(mode, revisions || undefined, seconds || undefined);
      console.log(JSON.stringify(run));
    }
    process.exit(0);
  })();
}
