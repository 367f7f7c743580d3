/**
 * The one rule the autoscaler and the activators share about splitting a revision between
 * activators (lib/runtime/activator/subsetting.ts has the split itself): how many activators can
 * each be given a slot. The autoscaler lists no more than that in the public Endpoints of a
 * revision without a queue-proxy (nothing there would hold the excess of an activator left
 * without a slot), and the activators' slicing keeps every listed one at least one slot only
 * under that bound. Knative has no such bound: its queue-proxy holds the excess
 * (knative/serving pkg/activator/net/throttler.go `assignSlice`).
 */

/**
 * How many activators can each own a slot of a revision with `readyPods` pods (at least one):
 * pods × containerConcurrency, unbounded when containerConcurrency is 0 (unlimited).
 */
export function activatorsWithASlot(readyPods: number, containerConcurrency: number): number {
  return containerConcurrency > 0 ? Math.max(1, readyPods * containerConcurrency) : Infinity;
}
