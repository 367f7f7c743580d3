/**
 * The queue-proxy's metrics for the autoscaler: Prometheus text on the metrics port (9090) with
 * Knative's stat names [docs/runtime-metrics.md]. Values are read when scraped: the averages from
 * the last closed 1 s period, the gauges live.
 */
import { Gauge, Registry } from 'prom-client';
import type { StatsReport } from './stats';

export interface MetricLabels {
  readonly namespace: string;
  readonly configuration: string;
  readonly revision: string;
  readonly pod: string;
}

export interface MetricSources {
  readonly latestReport: () => StatsReport;
  /** Requests waiting for a breaker slot now. */
  readonly queueDepth: () => number;
  /** Requests at the app now. */
  readonly inFlight: () => number;
  /** performance.now() at start-up. */
  readonly startedAt: number;
}

/** One gauge whose value is computed at scrape time. */
function liveGauge(registry: Registry, name: string, help: string, labels: Record<string, string>, read: () => number): void {
  new Gauge({
    name,
    help,
    labelNames: Object.keys(labels),
    registers: [registry],
    collect() {
      this.set(labels, read());
    },
  });
}

export function createQueueMetrics(labels: MetricLabels, sources: MetricSources): Registry {
  const registry = new Registry();
  // Knative's label names on queue-proxy stats.
  const l = {
    destination_namespace: labels.namespace,
    destination_configuration: labels.configuration,
    destination_revision: labels.revision,
    destination_pod: labels.pod,
  };
  const perSecond = (count: number, report: StatsReport) => (report.periodSeconds > 0 ? count / report.periodSeconds : 0);
  liveGauge(registry, 'queue_average_concurrent_requests', 'Average requests in flight over the last reporting period', l, () => sources.latestReport().averageConcurrency);
  liveGauge(registry, 'queue_average_proxied_concurrent_requests', 'Average requests from the activator in flight over the last reporting period', l, () => sources.latestReport().averageProxiedConcurrency);
  liveGauge(registry, 'queue_requests_per_second', 'Requests per second over the last reporting period', l, () => {
    const report = sources.latestReport();
    return perSecond(report.requestCount, report);
  });
  liveGauge(registry, 'queue_proxied_operations_per_second', 'Requests from the activator per second over the last reporting period', l, () => {
    const report = sources.latestReport();
    return perSecond(report.proxiedRequestCount, report);
  });
  liveGauge(registry, 'process_uptime', 'Seconds since the queue-proxy started', l, () => (performance.now() - sources.startedAt) / 1000);
  liveGauge(registry, 'queue_depth', 'Requests waiting for a concurrency slot now', l, sources.queueDepth);
  liveGauge(registry, 'queue_in_flight', 'Requests at the app now', l, sources.inFlight);
  return registry;
}
