/**
 * How the activator picks a pod among those with spare capacity (knative/serving pkg/activator/net/lb_policy.go):
 * CC = 0 → the less busy of two random pods; CC 1-3 → the first pod with a free slot (keeps the
 * few slots of each pod packed); CC > 3 → round robin over pods with a free slot.
 */
export interface PodSlot {
  readonly inFlight: number;
  hasCapacity(): boolean;
}

export type LbPolicy = <T extends PodSlot>(pods: readonly T[]) => T | undefined;

export function policyFor(containerConcurrency: number, random: () => number = Math.random): LbPolicy {
  if (containerConcurrency === 0) return randomChoiceOfTwo(random);
  if (containerConcurrency <= 3) return firstAvailable;
  return roundRobin();
}

export const firstAvailable: LbPolicy = (pods) => pods.find((p) => p.hasCapacity());

export function randomChoiceOfTwo(random: () => number): LbPolicy {
  // Counts and indexes the open pods in place instead of filtering them: no array per request.
  return (pods) => {
    let open = 0;
    for (const p of pods) if (p.hasCapacity()) open++;
    if (open <= 1) return open === 0 ? undefined : nthOpen(pods, 0);
    const i = Math.floor(random() * open);
    // A second, different pod: offset by 1..n-1 so both picks are uniform and never equal.
    const j = (i + 1 + Math.floor(random() * (open - 1))) % open;
    const first = nthOpen(pods, i);
    const second = nthOpen(pods, j);
    return second.inFlight < first.inFlight ? second : first;
  };
}

/** The n-th pod (from 0) with a free slot; the caller knows there are more than n. */
function nthOpen<T extends PodSlot>(pods: readonly T[], n: number): T {
  let seen = 0;
  for (const p of pods) {
    if (p.hasCapacity() && seen++ === n) return p;
  }
  throw new Error(`fewer than ${n + 1} open pods`);
}

/** Each call starts after the pod picked last time, skipping full pods. */
export function roundRobin(): LbPolicy {
  let next = 0;
  return (pods) => {
    for (let k = 0; k < pods.length; k++) {
      const i = (next + k) % pods.length;
      if (pods[i].hasCapacity()) {
        next = i + 1;
        return pods[i];
      }
    }
    return undefined;
  };
}
