/**
 * Per-revision request statistics the activator reports to the autoscaler: the time-weighted
 * average number of requests in the activator (held or proxied) over each reporting period, and
 * the requests that arrived in it. Held requests count: at zero pods they are the only signal
 * that the revision needs pods. Time is injected (epoch ms) for tests.
 */
export interface PeriodStats {
  readonly averageConcurrency: number;
  readonly requestCount: number;
}

/** Nothing was in the activator at any moment of the period: every number of it is 0. */
export function isIdlePeriod(stats: PeriodStats): boolean {
  return stats.averageConcurrency === 0 && stats.requestCount === 0;
}

export class RequestStats {
  private current = 0;
  private weightedSum = 0;
  private arrivals = 0;
  private lastChangeMs: number;
  private periodStartMs: number;

  constructor(nowMs: number) {
    this.lastChangeMs = nowMs;
    this.periodStartMs = nowMs;
  }

  get concurrency(): number {
    return this.current;
  }

  requestIn(nowMs: number): void {
    this.advance(nowMs);
    this.current++;
    this.arrivals++;
  }

  requestOut(nowMs: number): void {
    this.advance(nowMs);
    this.current--;
  }

  /** Closes the period that ends now and starts the next one. */
  report(nowMs: number): PeriodStats {
    this.advance(nowMs);
    const length = nowMs - this.periodStartMs;
    const stats = {
      averageConcurrency: length > 0 ? this.weightedSum / length : this.current,
      requestCount: this.arrivals,
    };
    this.weightedSum = 0;
    this.arrivals = 0;
    this.periodStartMs = nowMs;
    return stats;
  }

  private advance(nowMs: number): void {
    this.weightedSum += this.current * Math.max(0, nowMs - this.lastChangeMs);
    this.lastChangeMs = nowMs;
  }
}
