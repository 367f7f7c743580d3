import { Counter, Gauge, Registry } from 'prom-client';
import type { RevisionRegistry } from './registry';
import { isIdlePeriod } from './revision-load';
import type { RevisionBackend } from './revision-backend';

type Labels = { namespace: string; revision: string };

/**
 * The activator's `/metrics` (Prometheus text, docs/runtime-metrics.md): per revision, the
 * average concurrency and request rate of the last reporting period (what the autoscaler adds to
 * the queue-proxies' numbers), and the live queue depth, in-flight count and usable pods.
 *
 * Only revisions with requests in the activator are on the page: those with any request in it
 * during the last closed period, or held or proxied right now. An idle revision's series are left
 * out, so the page grows with the revisions in use, not with every revision the activator knows
 * (5 series of ~150 bytes each per revision: 20,000 registered revisions were MiB per scrape).
 *
 * Why one period is enough: the autoscaler reads a page that was served completely as the whole
 * truth of this activator, so a revision absent from it counts as 0 through this activator, while
 * a page that was not served is missing data and no sample is recorded (autoscaler/collector.ts).
 * A series is left out only when every value it would carry is 0 (nothing in the activator for
 * the whole period, nothing now), so absence reads exactly what presence would have said, however
 * long the autoscaler's windows are; keeping idle revisions for longer would cost page size and
 * tell the autoscaler nothing more.
 *
 * `activator_pod_refusals_total` is a counter: it stays (without being reset) while its revision
 * exists, and like every other series of a revision it goes when the revision leaves the registry.
 */
export class ActivatorMetrics {
  readonly registry = new Registry();
  private readonly averageConcurrency: Gauge;
  private readonly requestsPerSecond: Gauge;
  private readonly podRefusals: Counter;
  /** Revisions with activity in the last closed period, by `namespace/revision`. */
  private activeLastPeriod = new Map<string, Labels>();

  constructor(private readonly revisions: RevisionRegistry) {
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
    const active = () => this.activeNow(revisions);
    const live = (name: string, help: string, read: (b: RevisionBackend) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const b of active()) this.set(labelsOf(b), read(b));
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
    revisions.onRemoved((namespace, revision) => this.forget({ namespace, revision }));
  }

  /** Closes the reporting period of every revision; only the active ones get series. */
  report(revisions: RevisionRegistry, nowMs: number, periodMs: number): void {
    this.averageConcurrency.reset();
    this.requestsPerSecond.reset();
    const active = new Map<string, Labels>();
    for (const b of revisions.all()) {
      const stats = b.load.report(nowMs);
      if (isIdlePeriod(stats)) continue;
      const labels = labelsOf(b);
      active.set(keyOf(labels), labels);
      this.averageConcurrency.set(labels, stats.averageConcurrency);
      this.requestsPerSecond.set(labels, (stats.requestCount * 1000) / periodMs);
    }
    this.activeLastPeriod = active;
  }

  /**
   * A pod refused a connection of the revision's. Not counted once the revision has left the
   * registry (a request still finishing then): the series would outlive its revision.
   */
  countRefusal(b: RevisionBackend): void {
    const labels = labelsOf(b);
    if (this.revisions.get(labels.namespace, labels.revision) === b) this.podRefusals.inc(labels);
  }

  /** Removes every series of a revision that left the registry. */
  private forget(labels: Labels): void {
    this.activeLastPeriod.delete(keyOf(labels));
    this.averageConcurrency.remove(labels);
    this.requestsPerSecond.remove(labels);
    this.podRefusals.remove(labels);
  }

  /** Revisions active in the last closed period, or with requests held or proxied now. */
  private *activeNow(revisions: RevisionRegistry): Iterable<RevisionBackend> {
    for (const { namespace, revision } of this.activeLastPeriod.values()) {
      const b = revisions.get(namespace, revision);
      if (b) yield b;
    }
    for (const b of revisions.all()) {
      if (b.load.concurrency > 0 && !this.activeLastPeriod.has(keyOf(labelsOf(b)))) yield b;
    }
  }
}

function labelsOf(b: RevisionBackend): Labels {
  return { namespace: b.info.namespace, revision: b.info.revision };
}

function keyOf(l: Labels): string {
  return `${l.namespace}/${l.revision}`;
}
