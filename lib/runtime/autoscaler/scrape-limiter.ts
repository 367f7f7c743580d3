import { fnv1a64 } from './buckets';

/**
 * Bounds on the autoscaler's scraping, so its cost is flat over the second instead of a burst at
 * each round's start, and never grows without bound when targets are slow:
 * - ScrapeLimiter: at most `maxConcurrent` scrapes in flight in this replica; the rest wait in
 *   order (knative/serving pkg/autoscaler/metrics/stats_scraper.go bounds its scrapes the same
 *   way with a fixed worker pool).
 * - RevisionStagger: each revision is scraped at its own offset within the period, taken from a
 *   hash of its key (stable across rounds and replicas), and a revision whose previous scrape is
 *   still under way skips the round: its scrapes never overlap.
 */
export class ScrapeLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly maxConcurrent: number) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new Error(`maxConcurrent must be a whole number ≥ 1, got ${maxConcurrent}`);
  }

  /** Scrapes in flight now. */
  get inFlight(): number {
    return this.active;
  }

  /** Scrapes waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `scrape` once a slot is free; the slot is given back however it ends. */
  async run<T>(scrape: () => Promise<T>): Promise<T> {
    if (this.active >= this.maxConcurrent) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await scrape();
    } finally {
      // The slot passes straight to the next waiter (active stays), so no newcomer can jump it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export interface RevisionStaggerProps {
  /** The scrape period: offsets spread over [0, periodMs). */
  readonly periodMs: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Offsets remembered at most (a revision's is hashed once, not every round); a churning set starts over. */
const OFFSET_CACHE_SIZE = 65_536;

export class RevisionStagger {
  private readonly running = new Set<string>();
  private readonly offsets = new Map<string, number>();

  constructor(private readonly props: RevisionStaggerProps) {}

  /** Where in each period the revision `key` is scraped: the same every round, on every replica. */
  offsetMs(key: string): number {
    let offset = this.offsets.get(key);
    if (offset === undefined) {
      if (this.offsets.size >= OFFSET_CACHE_SIZE) this.offsets.clear();
      offset = Number(fnv1a64(key) % BigInt(Math.max(1, Math.floor(this.props.periodMs))));
      this.offsets.set(key, offset);
    }
    return offset;
  }

  /** Whether the revision's scrape of an earlier round is still under way. */
  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  /**
   * Runs `work` (passed the time it starts) at the revision's offset after `roundStartMs`; does
   * nothing when the revision's previous work has not finished. Resolves when the work is done
   * or skipped.
   */
  async schedule(key: string, roundStartMs: number, work: (startMs: number) => Promise<void>): Promise<void> {
    if (this.running.has(key)) return;
    this.running.add(key);
    try {
      const startAt = roundStartMs + this.offsetMs(key);
      // Node may fire a timer a millisecond before Date.now() reaches its end: wait out the rest.
      for (let wait = startAt - this.now(); wait > 0; wait = startAt - this.now()) await this.sleep(wait);
      await work(this.now());
    } finally {
      this.running.delete(key);
    }
  }

  private now(): number {
    return (this.props.now ?? Date.now)();
  }

  private sleep(ms: number): Promise<void> {
    if (this.props.sleep) return this.props.sleep(ms);
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }
}
