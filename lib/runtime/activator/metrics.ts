import { Counter, Gauge, Registry } from 'prom-client';
import type { RevisionRegistry } from './registry';
import type { RevisionBackend } from './revision-backend';

/**
 * The activator's `/metrics` (Prometheus text, docs/runtime-metrics.md): per revision, the
 * average concurrency and request rate of the last reporting period (what the autoscaler adds to
 * the queue-proxies' numbers), and the live queue depth and in-flight count.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  private readonly averageConcurrency: Gauge;
  private readonly requestsPerSecond: Gauge;
  readonly podRefusals: Counter;

  constructor(revisions: RevisionRegistry) {
    const labelNames = ['namespace', 'revision'] as const;
    const registers = [this.registry];
    this.averageConcurrency = new Gauge({
      name: 'activator_average_concurrent_requests',
      help: 'Requests in the activator (held or proxied), time-averaged over the last period',
      labelNames,
      registers,
    });
    this.requestsPerSecond = new Gauge({
      name: 'activator_requests_per_second',
      help: 'Requests that arrived in the last period, per second',
      labelNames,
      registers,
    });
    const live = (name: string, help: string, read: (b: RevisionBackend) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const b of revisions.all()) this.set({ namespace: b.info.namespace, revision: b.info.revision }, read(b));
        },
      });
    live('activator_queue_depth', 'Requests held, waiting for capacity', (b) => b.throttler.waiting);
    live('activator_in_flight', 'Requests admitted and being proxied to a pod', (b) => b.throttler.inFlight);
    live('activator_ready_pods', 'Pods the activator currently sends requests to', (b) => b.readyPods);
    this.podRefusals = new Counter({
      name: 'activator_pod_refusals_total',
      help: 'Connections a pod refused (the request was retried on another pod)',
      labelNames,
      registers,
    });
  }

  /** Closes the reporting period of every revision. */
  report(revisions: RevisionRegistry, nowMs: number, periodMs: number): void {
    this.averageConcurrency.reset();
    this.requestsPerSecond.reset();
    for (const b of revisions.all()) {
      const labels = { namespace: b.info.namespace, revision: b.info.revision };
      const stats = b.stats.report(nowMs);
      this.averageConcurrency.set(labels, stats.averageConcurrency);
      this.requestsPerSecond.set(labels, (stats.requestCount * 1000) / periodMs);
    }
  }
}
