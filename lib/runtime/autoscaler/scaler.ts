/**
 * What Knative's KPA reconciler does with the decider's answer (knative/serving
 * pkg/reconciler/autoscaling/kpa/scaler.go; kpa.go for the mode): clamps it to [min, max] (min raised to initial-scale until the
 * revision first reached it), gates scale-to-zero (enable-scale-to-zero, a whole stable window of
 * activity, the grace period behind the activator and the last-pod retention), tracks the
 * PodAutoscaler's Active / Activating / Inactive condition, and picks Serve or Proxy.
 *
 * Knative keeps that state in the PodAutoscaler's status; a compiled graph has no PodAutoscaler
 * object, so the state lives here, in memory, and is rebuilt from the Deployment after a restart
 * (see `RevisionScaler` constructor). Pure: time is injected in epoch milliseconds.
 */

export type Activity = 'activating' | 'active' | 'inactive';
export type EndpointsMode = 'Serve' | 'Proxy';

/** The decider has not produced a decision yet. */
export const SCALE_UNKNOWN = -1;

export interface ScalerSpec {
  readonly minScale: number;
  /** 0 = unlimited. */
  readonly maxScale: number;
  readonly initialScale: number;
  readonly enableScaleToZero: boolean;
  readonly stableWindowMs: number;
  readonly scaleToZeroGracePeriodMs: number;
  readonly scaleToZeroPodRetentionMs: number;
  /** progressDeadline + 30 s: how long activation may take before giving up and going to 0. */
  readonly activationTimeoutMs: number;
  readonly reachable: boolean;
}

export interface ScalerInput {
  readonly nowMs: number;
  /** The decider's desired pods, or SCALE_UNKNOWN. */
  readonly desiredPods: number;
  readonly excessBurstCapacity: number;
  readonly readyPods: number;
  /** The Deployment's spec.replicas right now. */
  readonly currentReplicas: number;
  /** Since when the public Endpoints are (acknowledged) on the activators; undefined in Serve. */
  readonly proxySinceMs: number | undefined;
}

export interface ScalerOutput {
  /** What the revision should have (SCALE_UNKNOWN when nothing is known). */
  readonly want: number;
  /** Replicas to write now, or undefined to leave the Deployment as it is. */
  readonly applyReplicas: number | undefined;
  readonly mode: EndpointsMode;
  readonly activity: Activity;
}

export class RevisionScaler {
  private activity: Activity;
  private activitySinceMs: number;
  private initialized: boolean;
  /**
   * initial-scale 0 on a Deployment that came up with Kubernetes' default replica: go to zero
   * (behind the activator) at once, without the grace period, since no pod of it ever served.
   * Knative creates such a Deployment at 0; a manifest without replicas cannot.
   */
  private zeroInitialScalePending: boolean;

  /**
   * Rebuilds the condition from what the cluster shows: no replicas → Inactive; enough ready
   * pods → Active; otherwise Activating (a fresh Deployment, or pods still starting).
   */
  constructor(
    private spec: ScalerSpec,
    nowMs: number,
    currentReplicas: number,
    readyPods: number,
    /** The Deployment was never scaled (see controller.ts): it is at Kubernetes' default of 1. */
    fresh = false,
  ) {
    this.activitySinceMs = nowMs;
    this.initialized = readyPods >= this.minReady(false);
    this.zeroInitialScalePending = fresh && spec.initialScale === 0 && currentReplicas > 0;
    if (currentReplicas === 0 || this.zeroInitialScalePending) this.activity = 'inactive';
    else this.activity = readyPods >= Math.max(1, this.minReady(this.initialized)) ? 'active' : 'activating';
  }

  get state(): { activity: Activity; sinceMs: number; initialized: boolean } {
    return { activity: this.activity, sinceMs: this.activitySinceMs, initialized: this.initialized };
  }

  updateSpec(spec: ScalerSpec): void {
    this.spec = spec;
  }

  step(input: ScalerInput): ScalerOutput {
    if (this.zeroInitialScalePending) {
      if (input.currentReplicas !== 0 && input.desiredPods <= 0) {
        return { want: 0, applyReplicas: 0, mode: 'Proxy', activity: this.activity };
      }
      this.zeroInitialScalePending = false; // at zero now, or traffic came first
    }
    const { want, apply } = this.scale(input);
    const proxy =
      want === 0 || input.excessBurstCapacity < 0 || (want === SCALE_UNKNOWN && this.activity === 'inactive');
    this.updateActivity(input.nowMs, want, input.readyPods);
    const applyReplicas = apply && want >= 0 && want !== input.currentReplicas ? want : undefined;
    return { want, applyReplicas, mode: proxy ? 'Proxy' : 'Serve', activity: this.activity };
  }

  private scale(input: ScalerInput): { want: number; apply: boolean } {
    if (input.desiredPods < 0 && this.activity !== 'activating') return { want: input.desiredPods, apply: false };
    const bounded = applyBounds(this.lowerBound(), this.spec.maxScale, input.desiredPods);
    return this.gateScaleToZero(input, bounded);
  }

  /** min-scale (ignored when unreachable), raised to initial-scale until first reached. */
  private lowerBound(): number {
    const min = this.spec.reachable ? this.spec.minScale : 0;
    if (this.spec.initialScale > 1 && !this.initialized) return Math.max(min, this.spec.initialScale);
    return min;
  }

  private gateScaleToZero(input: ScalerInput, desired: number): { want: number; apply: boolean } {
    if (desired !== 0) return { want: desired, apply: true };
    if (!this.spec.enableScaleToZero) return { want: 1, apply: true };
    const elapsed = input.nowMs - this.activitySinceMs;
    switch (this.activity) {
      case 'activating':
        // Pods never became ready within the progress deadline: give up and go back to zero.
        if (elapsed >= this.spec.activationTimeoutMs) return { want: 0, apply: true };
        return { want: SCALE_UNKNOWN, apply: false };
      case 'active':
        // Report 0 (the condition turns Inactive, Endpoints go to Proxy) but keep the pods for
        // now; before a whole stable window of activity, keep one pod.
        if (elapsed >= this.spec.stableWindowMs) return { want: 0, apply: false };
        return { want: 1, apply: true };
      case 'inactive':
        return { want: 0, apply: this.mayRemoveLastPod(input, elapsed) };
    }
  }

  /**
   * Only with the activator in the path (acknowledged Proxy), and only after the grace period in
   * Proxy mode and the pod retention period since turning Inactive, or after the longer of both.
   */
  private mayRemoveLastPod(input: ScalerInput, inactiveForMs: number): boolean {
    if (input.proxySinceMs === undefined) return false;
    const { scaleToZeroGracePeriodMs: grace, scaleToZeroPodRetentionMs: retention } = this.spec;
    if (inactiveForMs >= Math.max(grace, retention)) return true;
    return input.nowMs - input.proxySinceMs >= grace && inactiveForMs >= retention;
  }

  private updateActivity(nowMs: number, want: number, readyPods: number): void {
    const minReady = this.minReady(this.initialized);
    if (readyPods >= minReady) this.initialized = true;
    if (want === 0 || minReady === 0) this.become('inactive', nowMs);
    else if (want > 0 || this.activity !== 'inactive') {
      this.become(readyPods < minReady ? 'activating' : 'active', nowMs);
    }
  }

  /** Ready pods needed to count as Active: max(min, initial) before first reached, else max(min, 1). */
  private minReady(initialized: boolean): number {
    const min = this.spec.reachable ? this.spec.minScale : 0;
    return initialized ? Math.max(min, 1) : Math.max(min, this.spec.initialScale);
  }

  private become(activity: Activity, nowMs: number): void {
    if (activity === this.activity) return;
    this.activity = activity;
    this.activitySinceMs = nowMs;
  }
}

/** Below min → min; above a non-zero max → max. */
export function applyBounds(min: number, max: number, value: number): number {
  if (value < min) return min;
  if (max !== 0 && value > max) return max;
  return value;
}
