import type { ResolvedAutoscaling } from '../../contract/autoscaling';
import type { DeciderSpec } from './kpa';
import type { ScalerSpec } from './scaler';

/** Knative gives up on an activation this long after the progress deadline (knative/serving pkg/reconciler/autoscaling/kpa/scaler.go). */
const ACTIVATION_TIMEOUT_BUFFER_SECONDS = 30;

/** The decider's inputs from a revision's resolved annotations. */
export function deciderSpecOf(a: ResolvedAutoscaling, reachable = true): DeciderSpec {
  return {
    metric: a.metric === 'rps' ? 'rps' : 'concurrency',
    targetValue: a.targetPerPod,
    totalValue: a.totalValue,
    targetBurstCapacity: a.targetBurstCapacity,
    panicThreshold: a.panicThreshold,
    maxScaleUpRate: a.maxScaleUpRate,
    maxScaleDownRate: a.maxScaleDownRate,
    stableWindowMs: a.stableWindowSeconds * 1000,
    panicWindowMs: a.panicWindowSeconds * 1000,
    activationScale: a.activationScale,
    scaleDownDelayMs: a.scaleDownDelaySeconds * 1000,
    reachable,
    activatorCapacity: a.activatorCapacity,
  };
}

/** The scaler's inputs: bounds and the scale-to-zero timings. */
export function scalerSpecOf(a: ResolvedAutoscaling, progressDeadlineSeconds: number, reachable = true): ScalerSpec {
  return {
    minScale: a.minScale,
    maxScale: a.maxScale,
    initialScale: a.initialScale,
    enableScaleToZero: a.enableScaleToZero,
    stableWindowMs: a.stableWindowSeconds * 1000,
    scaleToZeroGracePeriodMs: a.scaleToZeroGracePeriodSeconds * 1000,
    scaleToZeroPodRetentionMs: a.scaleToZeroPodRetentionPeriodSeconds * 1000,
    activationTimeoutMs: (progressDeadlineSeconds + ACTIVATION_TIMEOUT_BUFFER_SECONDS) * 1000,
    reachable,
  };
}
