import { parsePromText, Sample } from '../shared/prom-text';
import type { MetricSample } from './kpa';
import { MetricsClient, ScrapeClient, ScrapeResponse } from './scrape-client';

/**
 * Scrapes the queue-proxies and the activators (Prometheus text on :9090, docs/runtime-metrics.md)
 * and turns them into one sample per revision per second (knative/serving pkg/autoscaler/metrics/collector.go, stats_scraper.go):
 * queue-proxy concurrency minus what came through the activator, plus the activator's own count.
 * Knative's autoscaler reads the same numbers from a protobuf endpoint and the activator's
 * websocket; this runtime speaks Prometheus text for both, so one parser serves.
 */

export const SCRAPE_TIMEOUT_MS = 3000;

/** Knative's sample size for N pods: all up to 3, then ceil(N·X / (N+X−1)) with X ≈ 15.37. */
export function sampleSize(pods: number): number {
  if (pods <= 3) return pods;
  const x = (1.96 * 1.96 * 100) / (5 * 5);
  return Math.min(pods, Math.ceil((pods * x) / (pods + x - 1)));
}

export interface QueueProxyStat {
  readonly concurrency: number;
  readonly proxiedConcurrency: number;
  readonly rps: number;
  readonly proxiedRps: number;
}

export function queueProxyStat(samples: readonly Sample[]): QueueProxyStat {
  const value = (name: string) => samples.find((s) => s.name === name)?.value ?? 0;
  return {
    concurrency: value('queue_average_concurrent_requests'),
    proxiedConcurrency: value('queue_average_proxied_concurrent_requests'),
    rps: value('queue_requests_per_second'),
    proxiedRps: value('queue_proxied_operations_per_second'),
  };
}

/** Per `namespace/revision`, the activator's concurrency and request rate. */
export function activatorStats(samples: readonly Sample[]): Map<string, MetricSample> {
  const out = new Map<string, { concurrency: number; rps: number }>();
  for (const s of samples) {
    const field =
      s.name === 'activator_average_concurrent_requests' ? 'concurrency' : s.name === 'activator_requests_per_second' ? 'rps' : undefined;
    if (!field || !s.labels.namespace || !s.labels.revision) continue;
    const key = `${s.labels.namespace}/${s.labels.revision}`;
    const entry = out.get(key) ?? { concurrency: 0, rps: 0 };
    entry[field] += s.value;
    out.set(key, entry);
  }
  return out;
}

/**
 * A revision's sample from the pods scraped (a full sample of `totalPods` ready pods, scaled up by
 * total/scraped, as Knative's computeAverages does) plus what the activators hold for it.
 */
export function revisionSample(podStats: readonly QueueProxyStat[], totalPods: number, fromActivators: MetricSample | undefined): MetricSample {
  let concurrency = 0;
  let rps = 0;
  for (const s of podStats) {
    concurrency += s.concurrency - s.proxiedConcurrency;
    rps += s.rps - s.proxiedRps;
  }
  const scale = podStats.length > 0 ? totalPods / podStats.length : 0;
  return {
    concurrency: Math.max(0, concurrency * scale) + (fromActivators?.concurrency ?? 0),
    rps: Math.max(0, rps * scale) + (fromActivators?.rps ?? 0),
  };
}

/** Shuffles a copy of the items (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/**
 * The order in which a revision's pods are tried (knative/serving pkg/autoscaler/metrics/
 * stats_scraper.go, scrapePods): pods older than the cut-off first, since a young pod's averages
 * still cover time before it served and skew low. With enough old pods for the sample, the old
 * ones are shuffled and the young ones follow as spares; otherwise every old pod is used and the
 * young ones, shuffled, make up the rest.
 */
export function scrapeOrder(old: readonly string[], young: readonly string[], size: number, random: () => number = Math.random): string[] {
  return old.length >= size ? [...shuffled(old, random), ...young] : [...old, ...shuffled(young, random)];
}

/**
 * Scrapes `size` of the candidates, in order, `size` at a time; a failed scrape is replaced by
 * the next candidate not tried yet (stats_scraper.go: each of the sampleSize workers moves down
 * the list until one of its scrapes succeeds). Undefined when the candidates run out first: a
 * smaller sample would be extrapolated to all pods from too few, so the round has no data.
 */
export async function scrapeSample<T>(
  candidates: readonly string[],
  size: number,
  scrape: (ip: string) => Promise<T>,
  onFailure: (ip: string, err: Error) => void = () => undefined,
): Promise<T[] | undefined> {
  let next = 0;
  const scraped: T[] = [];
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const ip = candidates[next++];
      try {
        scraped.push(await scrape(ip));
        return;
      } catch (err) {
        onFailure(ip, err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, candidates.length) }, worker));
  return scraped.length === size ? scraped : undefined;
}

/**
 * The largest /metrics body read. A queue-proxy's is under 2 KiB; an activator's grows by about
 * 340 bytes per revision with requests in it (idle ones are not listed), so 8 MiB is over 20,000
 * busy revisions on one activator. Beyond, the scrape fails instead of holding whatever an
 * endpoint sends.
 */
export const MAX_SCRAPE_BYTES = 8 * 1024 * 1024;

/**
 * The largest value believed of one sample the autoscaler reads (concurrency or requests per
 * second of one queue-proxy or one activator). Node serves far fewer; a larger value, NaN or an
 * infinity is a broken or lying endpoint, and one such sample would scale to the maximum in a tick.
 */
export const MAX_PLAUSIBLE_VALUE = 100_000;

/** The samples the autoscaler reads: only these are parsed, and checked for plausible values. */
const READ_METRICS = new Set([
  'queue_average_concurrent_requests',
  'queue_average_proxied_concurrent_requests',
  'queue_requests_per_second',
  'queue_proxied_operations_per_second',
  'activator_average_concurrent_requests',
  'activator_requests_per_second',
]);

/** Throws when a sample the autoscaler reads is not a finite number in [0, MAX_PLAUSIBLE_VALUE]. */
export function checkPlausible(samples: readonly Sample[], where: string): Sample[] {
  for (const s of samples) {
    if (!READ_METRICS.has(s.name)) continue;
    if (!(Number.isFinite(s.value) && s.value >= 0 && s.value <= MAX_PLAUSIBLE_VALUE)) {
      throw new Error(`${where}: ${s.name} = ${s.value} is not a plausible value (0 to ${MAX_PLAUSIBLE_VALUE})`);
    }
  }
  return samples as Sample[];
}

/**
 * Connections kept open between scrapes by one replica (./scrape-client.ts), the least recently
 * used closed beyond. Each kept connection saves the next scrape of its pod a TCP handshake
 * (about a quarter of a scrape's CPU, bench/scale/scrape-cost.ts); 8,192 covers the pods one
 * replica scrapes at about 1,000 revisions of 10 pods, and costs some 8,192 file descriptors and
 * a few tens of MiB of socket buffers at most. Beyond, scrapes still work, with a connect each.
 */
export const MAX_IDLE_SCRAPE_CONNECTIONS = 8192;

const defaultClient = new ScrapeClient({ maxIdleSockets: MAX_IDLE_SCRAPE_CONNECTIONS, maxBodyBytes: MAX_SCRAPE_BYTES });

/**
 * GET http://address/metrics and parse; rejects on a non-200 answer, bad text, an implausible
 * value, a body over MAX_SCRAPE_BYTES, or when the whole exchange takes longer than `timeoutMs`
 * (a deadline, not an idle timeout: an endpoint trickling a byte a second is cut off too).
 */
export async function scrapeMetrics(host: string, port: number, timeoutMs = SCRAPE_TIMEOUT_MS, client: MetricsClient = defaultClient): Promise<Sample[]> {
  const where = `GET ${host}:${port}/metrics`;
  let res: ScrapeResponse;
  try {
    res = await client.get(host, port, '/metrics', timeoutMs);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  if (res.status !== 200) throw new Error(`${where}: HTTP ${res.status}`);
  return checkPlausible(parsePromText(res.body, READ_METRICS), where);
}
