/**
 * Request statistics as Knative's queue-proxy reports them to the autoscaler (knative/networking pkg/http/stats/request.go, knative/serving pkg/queue/protobuf_stats_reporter.go):
 * per reporting period (1 s), the time-weighted average number of requests in flight and the
 * number of requests that arrived — all requests, and separately those the activator proxied.
 */
import { TimeWeightedAverage } from '../shared/time-weighted';

export interface StatsReport {
  /** Length of the period the averages cover, in seconds. */
  readonly periodSeconds: number;
  readonly averageConcurrency: number;
  readonly averageProxiedConcurrency: number;
  readonly requestCount: number;
  readonly proxiedRequestCount: number;
}

export const EMPTY_REPORT: StatsReport = {
  periodSeconds: 0,
  averageConcurrency: 0,
  averageProxiedConcurrency: 0,
  requestCount: 0,
  proxiedRequestCount: 0,
};

/** Milliseconds from an arbitrary origin; injectable so tests control time. */
export type Clock = () => number;

const monotonic: Clock = () => performance.now();

export class RequestStats {
  private readonly all: TimeWeightedAverage;
  private readonly proxied: TimeWeightedAverage;
  private requests = 0;
  private proxiedRequests = 0;
  private periodStart: number;

  constructor(private readonly clock: Clock = monotonic) {
    const now = clock();
    this.all = new TimeWeightedAverage(now);
    this.proxied = new TimeWeightedAverage(now);
    this.periodStart = now;
  }

  /** Requests in flight right now. */
  get concurrency(): number {
    return this.all.current;
  }

  requestStarted(proxied: boolean): void {
    const now = this.clock();
    this.requests++;
    this.all.change(1, now);
    if (proxied) {
      this.proxiedRequests++;
      this.proxied.change(1, now);
    }
  }

  requestFinished(proxied: boolean): void {
    const now = this.clock();
    this.all.change(-1, now);
    if (proxied) this.proxied.change(-1, now);
  }

  /** Closes the current period and starts the next one. */
  report(): StatsReport {
    const now = this.clock();
    const report: StatsReport = {
      periodSeconds: (now - this.periodStart) / 1000,
      averageConcurrency: this.all.closePeriod(now),
      averageProxiedConcurrency: this.proxied.closePeriod(now),
      requestCount: this.requests,
      proxiedRequestCount: this.proxiedRequests,
    };
    this.periodStart = now;
    this.requests = 0;
    this.proxiedRequests = 0;
    return report;
  }
}

/** Closes a period every `periodMs` and keeps the latest report for the metrics endpoint. */
export class StatsReporter {
  private latestReport: StatsReport = EMPTY_REPORT;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stats: RequestStats,
    private readonly periodMs = 1000,
  ) {}

  get latest(): StatsReport {
    return this.latestReport;
  }

  start(): void {
    this.timer ??= setInterval(() => (this.latestReport = this.stats.report()), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
