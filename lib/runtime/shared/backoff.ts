import type { RandomSource } from './clock';

export interface BackoffPolicy {
  /** The delay after the first failure. */
  readonly baseMs: number;
  /** No delay is longer. */
  readonly maxMs: number;
}

/**
 * The delay before retry number `failures` (1 = after the first failure): base × 2^(failures-1),
 * capped at max, as client-go's ItemExponentialFailureRateLimiter (k8s.io/client-go
 * util/workqueue/default_rate_limiters.go), then jittered down into [½, 1] of that ("equal
 * jitter"), so objects that failed together do not all retry in the same instant, and the cap
 * still holds.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: RandomSource): number {
  if (failures < 1) return 0;
  // 2^(failures-1) overflows to Infinity long after it passed any cap; min() handles that.
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** (failures - 1));
  return Math.round(exponential * (0.5 + 0.5 * random()));
}
