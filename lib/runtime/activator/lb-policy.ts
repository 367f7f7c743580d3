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
  return (pods) => {
    const open = pods.filter((p) => p.hasCapacity());
    if (open.length <= 1) return open[0];
    const i = Math.floor(random() * open.length);
    // A second, different pod: offset by 1..n-1 so both picks are uniform and never equal.
    const j = (i + 1 + Math.floor(random() * (open.length - 1))) % open.length;
    return open[j].inFlight < open[i].inFlight ? open[j] : open[i];
  };
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
