import { Gauge, Histogram, Registry } from 'prom-client';

/**
 * The autoscaler's `/metrics`: the cold-start histogram (from the 0→N decision to the first ready
 * pod) and one gauge per decision input and output, labelled by revision.
 */
export class AutoscalerMetrics {
  readonly registry = new Registry();
  readonly coldStart: Histogram<'namespace' | 'revision'>;
  readonly desiredPods: Gauge<'namespace' | 'revision'>;
  readonly readyPods: Gauge<'namespace' | 'revision'>;
  readonly requestedReplicas: Gauge<'namespace' | 'revision'>;
  readonly panicking: Gauge<'namespace' | 'revision'>;
  readonly excessBurstCapacity: Gauge<'namespace' | 'revision'>;
  readonly stableValue: Gauge<'namespace' | 'revision'>;
  readonly panicValue: Gauge<'namespace' | 'revision'>;
  readonly targetValue: Gauge<'namespace' | 'revision'>;
  readonly proxyMode: Gauge<'namespace' | 'revision'>;
  readonly leader: Gauge;
  readonly bucketsHeld: Gauge;

  constructor() {
    const registers = [this.registry];
    const labelNames = ['namespace', 'revision'] as const;
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers });
    this.coldStart = new Histogram({
      name: 'kservice_cold_start_seconds',
      help: 'Time from the decision to scale a revision up from zero to its first ready pod',
      labelNames,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.desiredPods = gauge('kservice_autoscaler_desired_pods', 'Pods the decider wants (after bounds)');
    this.readyPods = gauge('kservice_autoscaler_ready_pods', 'Ready pods in the private Endpoints');
    this.requestedReplicas = gauge('kservice_autoscaler_requested_replicas', 'spec.replicas of the revision Deployment');
    this.panicking = gauge('kservice_autoscaler_panic_mode', '1 while the decider is in panic mode');
    this.excessBurstCapacity = gauge('kservice_autoscaler_excess_burst_capacity', 'Spare capacity beyond the target burst capacity');
    this.stableValue = gauge('kservice_autoscaler_stable_value', 'Metric average over the stable window');
    this.panicValue = gauge('kservice_autoscaler_panic_value', 'Metric average over the panic window');
    this.targetValue = gauge('kservice_autoscaler_target_value', 'Per-pod target of the metric');
    this.proxyMode = gauge('kservice_autoscaler_proxy_mode', '1 when the public Endpoints point at the activators');
    this.leader = new Gauge({ name: 'kservice_autoscaler_leader', help: '1 while this replica holds the Lease of at least one bucket of revisions', registers });
    this.bucketsHeld = new Gauge({ name: 'kservice_autoscaler_buckets_held', help: 'Buckets of revisions whose Lease this replica holds', registers });
  }

  /** Removes every series of a revision that is gone (the cold-start histogram's too). */
  forget(labels: { namespace: string; revision: string }): void {
    this.coldStart.remove(labels);
    for (const metric of [
      this.desiredPods,
      this.readyPods,
      this.requestedReplicas,
      this.panicking,
      this.excessBurstCapacity,
      this.stableValue,
      this.panicValue,
      this.targetValue,
      this.proxyMode,
    ]) {
      metric.remove(labels);
    }
  }
}
