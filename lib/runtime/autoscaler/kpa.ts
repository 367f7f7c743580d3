import { WindowedAverage, WindowedMax } from './metric-window';

/**
 * The KPA decider (knative/serving pkg/autoscaler/scaling/autoscaler.go, its 2 s decision and the
 * excess burst capacity). Pure and deterministic: time comes in as epoch milliseconds, ready pods as a number,
 * metric samples through `record`. The scaler (scaler.ts) applies bounds and scale-to-zero on top.
 */
export interface DeciderSpec {
  /** `concurrency` (in-flight requests) or `rps` (requests per second). */
  readonly metric: 'concurrency' | 'rps';
  /** Effective per-pod target: total × utilization, at least 0.01. */
  readonly targetValue: number;
  /** Per-pod capacity used for the EBC: containerConcurrency, or the target default when CC = 0. */
  readonly totalValue: number;
  /** 0 = activator only at zero; -1 = activator always in the path; > 0 = spare capacity wanted. */
  readonly targetBurstCapacity: number;
  /** Ratio, e.g. 2.0 for 200%. */
  readonly panicThreshold: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
  readonly stableWindowMs: number;
  readonly panicWindowMs: number;
  /** Minimum non-zero scale when scaling up from nothing; 1 = off. */
  readonly activationScale: number;
  readonly scaleDownDelayMs: number;
  /** false when no route points at the revision: then it may scale down without limit. */
  readonly reachable: boolean;
  readonly activatorCapacity: number;
}

/** One combined sample: the revision's concurrency and request rate at one scrape. */
export interface MetricSample {
  readonly concurrency: number;
  readonly rps: number;
}

export interface Decision {
  /** false while there is no data for a whole stable window: keep the last decision. */
  readonly valid: boolean;
  readonly desiredPods: number;
  readonly excessBurstCapacity: number;
  readonly numActivators: number;
  readonly panicking: boolean;
  readonly stableAverage: number;
  readonly panicAverage: number;
}

export class KpaDecider {
  private stable!: WindowedAverage;
  private panic!: WindowedAverage;
  private delay: WindowedMax | undefined;
  /** Epoch ms of the last over-threshold tick while panicking; undefined when calm. */
  private panicSince: number | undefined;
  /** High-water mark of desired pods during a panic: panics never scale down. */
  private maxPanicPods: number;

  /**
   * A new decider starts in panic when more than one pod is ready: it has no history yet, and
   * scaling down on an empty window right after a restart would be wrong.
   */
  constructor(private spec: DeciderSpec, nowMs: number, readyPods: number) {
    this.buildWindows(spec);
    this.maxPanicPods = readyPods;
    if (readyPods > 1) this.panicSince = nowMs;
  }

  get currentSpec(): DeciderSpec {
    return this.spec;
  }

  /** Takes new annotations; keeps the recorded history unless a window length changed. */
  updateSpec(spec: DeciderSpec): void {
    const windowsChanged =
      spec.stableWindowMs !== this.spec.stableWindowMs ||
      spec.panicWindowMs !== this.spec.panicWindowMs ||
      spec.scaleDownDelayMs !== this.spec.scaleDownDelayMs;
    this.spec = spec;
    if (windowsChanged) this.buildWindows(spec);
  }

  /**
   * A value that is not a finite number ≥ 0 is dropped (missing data): one NaN would make every
   * average NaN for a whole window, and an infinity would scale to the maximum. The scraper
   * rejects such samples already; this guards every other caller.
   */
  record(nowMs: number, sample: MetricSample): void {
    const value = this.spec.metric === 'rps' ? sample.rps : sample.concurrency;
    if (!(Number.isFinite(value) && value >= 0) || !Number.isFinite(nowMs)) return;
    this.stable.record(nowMs, value);
    this.panic.record(nowMs, value);
  }

  /** True once any sample arrived within the last stable window. */
  hasData(nowMs: number): boolean {
    return !this.stable.isEmpty(nowMs);
  }

  decide(nowMs: number, readyPods: number): Decision {
    const spec = this.spec;
    if (!this.hasData(nowMs)) return this.invalid();
    const stableAverage = this.stable.average(nowMs);
    // No sample in the panic window is missing data, not zero load: the stable window's average
    // is then the best estimate of the recent load (Knative reads 0 here, which overstates the
    // spare burst capacity after a scrape outage, the moment traffic may leave the activators).
    const panicAverage = this.panic.isEmpty(nowMs) ? stableAverage : this.panic.average(nowMs);

    // A count that is not a finite number (a bug upstream) counts as none ready, not as NaN pods.
    if (!(Number.isFinite(readyPods) && readyPods >= 0)) readyPods = 0;
    const ready = Math.max(1, readyPods);
    const maxUp = Math.ceil(spec.maxScaleUpRate * ready);
    const maxDown = spec.reachable ? Math.floor(ready / spec.maxScaleDownRate) : 0;

    const stablePods = Math.ceil(stableAverage / spec.targetValue);
    const panicPods = Math.ceil(panicAverage / spec.targetValue);
    const desiredStable = this.withActivationScale(stablePods, clamp(stablePods, maxDown, maxUp));
    const desiredPanic = this.withActivationScale(panicPods, clamp(panicPods, maxDown, maxUp));

    this.updatePanicState(nowMs, panicPods / ready >= spec.panicThreshold);
    let desired = desiredStable;
    if (this.panicking) {
      // Provision for whichever window sees more load, and never scale down while panicking.
      this.maxPanicPods = Math.max(this.maxPanicPods, desiredStable, desiredPanic);
      desired = this.maxPanicPods;
    }
    if (this.delay) {
      this.delay.record(nowMs, desired);
      desired = this.delay.current();
    }
    return {
      valid: true,
      desiredPods: desired,
      excessBurstCapacity: excessBurstCapacity(spec, readyPods, panicAverage),
      numActivators: numActivators(spec, readyPods),
      panicking: this.panicking,
      stableAverage,
      panicAverage,
    };
  }

  get panicking(): boolean {
    return this.panicSince !== undefined;
  }

  private updatePanicState(nowMs: number, overThreshold: boolean): void {
    if (overThreshold) {
      // Entering, or still over the threshold: (re)start the panic timer.
      this.panicSince = nowMs;
    } else if (this.panicSince !== undefined && this.panicSince + this.spec.stableWindowMs < nowMs) {
      // The surge has had a whole stable window to show up in the stable average.
      this.panicSince = undefined;
      this.maxPanicPods = 0;
    }
  }

  /** activation-scale raises any non-zero want (before clamping) to at least itself. */
  private withActivationScale(raw: number, clamped: number): number {
    const activation = this.spec.activationScale;
    return activation > 1 && raw > 0 ? Math.max(clamped, activation) : clamped;
  }

  private invalid(): Decision {
    return {
      valid: false,
      desiredPods: -1,
      excessBurstCapacity: 0,
      numActivators: 0,
      panicking: this.panicking,
      stableAverage: 0,
      panicAverage: 0,
    };
  }

  private buildWindows(spec: DeciderSpec): void {
    this.stable = new WindowedAverage(spec.stableWindowMs);
    this.panic = new WindowedAverage(Math.max(1000, spec.panicWindowMs));
    this.delay = spec.scaleDownDelayMs > 0 ? new WindowedMax(spec.scaleDownDelayMs) : undefined;
  }
}

/**
 * knative/serving pkg/autoscaler/scaling/autoscaler.go: how much spare capacity the ready pods have beyond the wanted burst. Negative
 * means the activator must stay in the path to buffer a burst.
 */
export function excessBurstCapacity(spec: DeciderSpec, readyPods: number, panicAverage: number): number {
  if (spec.targetBurstCapacity === 0) return 0;
  if (spec.targetBurstCapacity < 0) return -1;
  return Math.floor(readyPods * spec.totalValue - spec.targetBurstCapacity - panicAverage);
}

/** knative/serving pkg/reconciler/autoscaling/kpa/kpa.go: how many activators a revision in Proxy mode is spread over (at least 2). */
export function numActivators(spec: DeciderSpec, readyPods: number): number {
  if (spec.targetBurstCapacity === 0) return 2;
  const capacity = readyPods * spec.totalValue + Math.max(spec.targetBurstCapacity, 0);
  return Math.max(2, Math.ceil(capacity / spec.activatorCapacity));
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}
