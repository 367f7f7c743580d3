import { TimeWeightedAverage } from '../shared/time-weighted';

/**
 * One revision's load at this activator, as reported to the autoscaler (Knative's activator
 * concurrency reporter, knative/serving pkg/activator/handler/concurrency_reporter.go): the
 * time-weighted average number of requests in the activator (held or proxied) over each
 * reporting period, and the requests that arrived in it. Held requests count: at zero pods they
 * are the only signal that the revision needs pods. Time is injected (epoch ms) for tests.
 * (The queue-proxy's per-pod counterpart is queue-proxy/stats.ts `RequestStats`.)
 */
export interface PeriodStats {
  readonly averageConcurrency: number;
  readonly requestCount: number;
}

/** Nothing was in the activator at any moment of the period: every number of it is 0. */
export function isIdlePeriod(stats: PeriodStats): boolean {
  return stats.averageConcurrency === 0 && stats.requestCount === 0;
}

export class RevisionLoad {
  private readonly inActivator: TimeWeightedAverage;
  private arrivals = 0;

  constructor(nowMs: number) {
    this.inActivator = new TimeWeightedAverage(nowMs);
  }

  get concurrency(): number {
    return this.inActivator.current;
  }

  requestIn(nowMs: number): void {
    this.inActivator.change(1, nowMs);
    this.arrivals++;
  }

  requestOut(nowMs: number): void {
    this.inActivator.change(-1, nowMs);
  }

  /** Closes the period that ends now and starts the next one. */
  report(nowMs: number): PeriodStats {
    const stats = { averageConcurrency: this.inActivator.closePeriod(nowMs), requestCount: this.arrivals };
    this.arrivals = 0;
    return stats;
  }
}
