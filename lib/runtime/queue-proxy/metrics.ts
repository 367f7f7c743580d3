/**
 * The queue-proxy's metrics for the autoscaler: Prometheus text on the metrics port (9090) with
 * Knative's stat names [docs/runtime-metrics.md]. Values are read when scraped: the averages from
 * the last closed 1 s period, the gauges live.
 */
import { type GaugeFamily, PROM_TEXT_CONTENT_TYPE, renderGauges } from '../shared/prom-text';
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

/** The metrics endpoint's answer, rendered at scrape time (nothing is kept per request). */
export interface QueueMetrics {
  readonly contentType: string;
  render(): string;
}

export function createQueueMetrics(labels: MetricLabels, sources: MetricSources): QueueMetrics {
  // Knative's label names on queue-proxy stats.
  const l = {
    destination_namespace: labels.namespace,
    destination_configuration: labels.configuration,
    destination_revision: labels.revision,
    destination_pod: labels.pod,
  };
  const perSecond = (count: number, report: StatsReport) => (report.periodSeconds > 0 ? count / report.periodSeconds : 0);
  const gauge = (name: string, help: string, value: () => number): GaugeFamily => ({ name, help, labels: l, value });
  const families = [
    gauge('queue_average_concurrent_requests', 'Average requests in flight over the last reporting period', () => sources.latestReport().averageConcurrency),
    gauge('queue_average_proxied_concurrent_requests', 'Average requests from the activator in flight over the last reporting period', () => sources.latestReport().averageProxiedConcurrency),
    gauge('queue_requests_per_second', 'Requests per second over the last reporting period', () => {
      const report = sources.latestReport();
      return perSecond(report.requestCount, report);
    }),
    gauge('queue_proxied_operations_per_second', 'Requests from the activator per second over the last reporting period', () => {
      const report = sources.latestReport();
      return perSecond(report.proxiedRequestCount, report);
    }),
    gauge('process_uptime', 'Seconds since the queue-proxy started', () => (performance.now() - sources.startedAt) / 1000),
    gauge('queue_depth', 'Requests waiting for a concurrency slot now', sources.queueDepth),
    gauge('queue_in_flight', 'Requests at the app now', sources.inFlight),
  ];
  return { contentType: PROM_TEXT_CONTENT_TYPE, render: () => renderGauges(families) };
}
