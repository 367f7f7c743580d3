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
 * Two clients, back to back on the same run: the runtime's own (`hand-written`,
 * lib/runtime/autoscaler/scrape-client.ts) and `undici` (the Node.js project's HTTP/1.1 client:
 * one Agent, one connection per origin, `request()` and the body read as text), the measurement
 * that decides whether the runtime keeps its own client (see that file's header).
 *
 * Run alone: `npx tsx bench/scale/scrape-cost.ts [revisions] [seconds] [keep-alive|close] [hand-written|undici]`.
 */
import { Agent, Client, type Dispatcher } from 'undici';
import { MetricCollector } from '../../lib/runtime/autoscaler/collector';
import { MAX_CONCURRENT_SCRAPES } from '../../lib/runtime/autoscaler/config';
import { MetricsClient, ScrapeClient, ScrapeResponse } from '../../lib/runtime/autoscaler/scrape-client';
import { RevisionStagger, ScrapeLimiter } from '../../lib/runtime/autoscaler/scrape-limiter';
import { MAX_IDLE_SCRAPE_CONNECTIONS, MAX_SCRAPE_BYTES, sampleSize } from '../../lib/runtime/autoscaler/scraper';
import { createLogger } from '../../lib/runtime/shared/logger';
import { freePort, sleep } from '../lib/net';
import { round } from '../lib/stats';
import { FakePods } from './run';
import { PODS_PER_REVISION, podIp } from './topology';

export type ScrapeConnections = 'keep-alive' | 'close';
export type ScrapeClientKind = 'hand-written' | 'undici-agent' | 'undici-client';
export const SCRAPE_CLIENTS: readonly ScrapeClientKind[] = ['hand-written', 'undici-agent', 'undici-client'];

/**
 * undici as the scrapes' client, `request()` and the body read as text, either through one Agent
 * (a Pool per origin, capped at one connection, as the hand-written client keeps one per pod) or
 * one undici Client per origin (no Agent and Pool layers). The deadline is undici's own headers
 * and body timeouts (its coarse timer wheel, cheaper than an AbortSignal per request); the body
 * cap its `maxResponseSize`.
 */
class UndiciMetricsClient implements MetricsClient {
  private readonly agent = new Agent({ connections: 1, pipelining: 1, maxResponseSize: MAX_SCRAPE_BYTES });
  private readonly clients = new Map<string, Client>();

  constructor(private readonly perOrigin: boolean) {}

  async get(host: string, port: number, path: string, timeoutMs: number): Promise<ScrapeResponse> {
    const origin = `http://${host}:${port}`;
    const res = await this.dispatcher(origin).request({
      origin,
      path,
      method: 'GET',
      headers: { accept: 'text/plain', 'user-agent': 'kservice-autoscaler' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), ...[...this.clients.values()].map((c) => c.close())]);
  }

  private dispatcher(origin: string): Dispatcher {
    if (!this.perOrigin) return this.agent;
    let c = this.clients.get(origin);
    if (!c) this.clients.set(origin, (c = new Client(origin, { pipelining: 1, maxResponseSize: MAX_SCRAPE_BYTES })));
    return c;
  }
}

function scrapeClient(kind: ScrapeClientKind): MetricsClient & { close(): unknown } {
  return kind !== 'hand-written' ? new UndiciMetricsClient(kind === 'undici-client') : new ScrapeClient({ maxIdleSockets: MAX_IDLE_SCRAPE_CONNECTIONS, maxBodyBytes: MAX_SCRAPE_BYTES });
}

export interface ScrapeCostRun {
  /** The HTTP client (absent in older results: the hand-written one). */
  readonly client?: ScrapeClientKind;
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
  /** This process's resident set and V8 heap in use at the window's end, MiB (absent in older results). */
  readonly rssMiB?: number;
  readonly heapUsedMiB?: number;
}

export const SCRAPE_COST_REVISIONS = 200;
export const SCRAPE_COST_SECONDS = 10;
const WARMUP_SECONDS = 3;

export async function measureScrapeCost(
  connections: ScrapeConnections,
  revisions = SCRAPE_COST_REVISIONS,
  windowSeconds = SCRAPE_COST_SECONDS,
  clientKind: ScrapeClientKind = 'hand-written',
): Promise<ScrapeCostRun> {
  const client = scrapeClient(clientKind);
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
    client,
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
    const memory = process.memoryUsage();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const micros = (cpuSeconds * 1e6) / Math.max(1, scrapes);
    return {
      client: clientKind,
      connections,
      revisions,
      podsPerRevision: PODS_PER_REVISION,
      windowSeconds: round(seconds, 1),
      podScrapesPerSecond: round(scrapes / seconds, 1),
      podScrapesNeededPerSecond: revisions * sampleSize(PODS_PER_REVISION),
      cpuCores: round(cpuSeconds / seconds, 3),
      cpuMicrosPerScrape: round(micros, 1),
      scrapesPerCoreSecond: Math.round(1e6 / micros),
      rssMiB: round(memory.rss / 2 ** 20, 1),
      heapUsedMiB: round(memory.heapUsed / 2 ** 20, 1),
    };
  } finally {
    clearInterval(timer);
    await client.close();
    await pods.stop();
  }
}

if (require.main === module) {
  const [revisions, seconds] = process.argv.slice(2, 4).map(Number);
  const modes: ScrapeConnections[] = process.argv[4] ? [process.argv[4] as ScrapeConnections] : ['keep-alive', 'close'];
  const clients: readonly ScrapeClientKind[] = process.argv[5] ? [process.argv[5] as ScrapeClientKind] : SCRAPE_CLIENTS;
  void (async () => {
    for (const mode of modes) {
      for (const kind of clients) {
        const run = await measureScrapeCost(mode, revisions || undefined, seconds || undefined, kind);
        console.log(JSON.stringify(run));
      }
    }
    process.exit(0);
  })();
}
