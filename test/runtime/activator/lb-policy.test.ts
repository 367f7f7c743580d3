import { describe, expect, it } from 'vitest';
import { firstAvailable, policyFor, randomChoiceOfTwo, roundRobin } from '../../../lib/runtime/activator/lb-policy';

const pod = (name: string, inFlight: number, capacity: number) => ({ name, inFlight, hasCapacity: () => inFlight < capacity });

describe('LB policies (knative/serving pkg/activator/net/lb_policy.go)', () => {
  it('picks the policy by containerConcurrency', () => {
    const pods = [pod('a', 0, 1), pod('b', 0, 1)];
    expect(policyFor(2)(pods)?.name).toBe('a'); // first available
    expect(policyFor(3)(pods)?.name).toBe('a');
  });

  it('first available skips full pods, in order', () => {
    expect(firstAvailable([pod('a', 1, 1), pod('b', 0, 1), pod('c', 0, 1)])?.name).toBe('b');
    expect(firstAvailable([pod('a', 1, 1)])).toBeUndefined();
  });

  it('round robin moves on after each pick and skips full pods', () => {
    const rr = roundRobin();
    const pods = [pod('a', 0, 5), pod('b', 5, 5), pod('c', 0, 5)];
    expect([rr(pods), rr(pods), rr(pods)].map((p) => p?.name)).toEqual(['a', 'c', 'a']);
  });

  it('random choice of two takes the less busy of the two sampled pods', () => {
    const pods = [pod('a', 7, Infinity), pod('b', 2, Infinity), pod('c', 9, Infinity)];
    // random() = 0 → first pick index 0 (a); second offset 1 + floor(0 × 2) → index 1 (b).
    expect(randomChoiceOfTwo(() => 0)(pods)?.name).toBe('b');
    // random() = 0.99 → first index 2 (c); second (2 + 1 + 1) % 3 = 1 (b).
    expect(randomChoiceOfTwo(() => 0.99)(pods)?.name).toBe('b');
  });

  it('random choice of two never picks a full pod and handles one open pod', () => {
    const pods = [pod('a', 1, 1), pod('b', 3, Infinity)];
    expect(randomChoiceOfTwo(Math.random)(pods)?.name).toBe('b');
    expect(randomChoiceOfTwo(Math.random)([pod('a', 1, 1)])).toBeUndefined();
  });
});
