/**
 * How the activators of a revision split its pods (lib/runtime/activator/subsetting.ts): the
 * assignment for one view, property-tested over random pod and activator sets, and the guarantee
 * during churn, by simulating activators that learn each change late, in any order, and keep
 * every slot they are allowed busy with requests that outlive the change.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { activatorsWithASlot } from '../../../lib/contract/activator-subsetting';
import { ALL_PODS, PodSlicer, assignShares } from '../../../lib/runtime/activator/subsetting';

const podId = (n: number) => `10.1.${n >> 8}.${n & 255}:8012`;
const activatorIp = (n: number) => `10.2.0.${n}`;

const views = fc.record({
  cc: fc.integer({ min: 1, max: 6 }),
  pods: fc.uniqueArray(fc.integer({ min: 1, max: 600 }), { maxLength: 40 }).map((ns) => ns.map(podId)),
  activators: fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 12 }).map((ns) => ns.map(activatorIp)),
});

/** Per pod, the activators' slots on it. */
function perPod(shares: ReturnType<typeof assignShares>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const pods of shares.values()) for (const [pod, n] of pods) out.set(pod, [...(out.get(pod) ?? []), n]);
  return out;
}

describe('assignShares: one view', () => {
  test.prop([views], { numRuns: 400 })('the slots of each pod add up to at most containerConcurrency when pods × CC >= activators', ({ cc, pods, activators }) => {
    fc.pre(pods.length * cc >= activators.length);
    for (const [pod, slots] of perPod(assignShares(pods, activators, cc))) {
      expect(slots.reduce((a, b) => a + b, 0), pod).toBeLessThanOrEqual(cc);
    }
  });

  test.prop([views], { numRuns: 400 })('pods >= activators: disjoint slices, every pod at full CC with exactly one activator, sizes differ by at most one', ({ cc, pods, activators }) => {
    fc.pre(pods.length >= activators.length);
    const shares = assignShares(pods, activators, cc);
    const slots = perPod(shares);
    expect([...slots.keys()].sort()).toEqual([...pods].sort());
    for (const s of slots.values()) expect(s).toEqual([cc]);
    const sizes = [...shares.values()].map((m) => m.size);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test.prop([views], { numRuns: 400 })('with any pod: every pod has an activator and every activator a slot', ({ cc, pods, activators }) => {
    fc.pre(pods.length > 0);
    const shares = assignShares(pods, activators, cc);
    expect(perPod(shares).size).toBe(pods.length);
    for (const [ip, own] of shares) expect([...own.values()].reduce((a, b) => a + b, 0), ip).toBeGreaterThanOrEqual(1);
  });

  test.prop([views], { numRuns: 200 })('each activator computes the same assignment whatever order it reads the lists in', ({ cc, pods, activators }) => {
    const a = assignShares(pods, activators, cc);
    const b = assignShares([...pods].reverse(), [...activators].reverse(), cc);
    expect(b).toEqual(a);
  });

  it("matches knative/serving's assignSlice examples (20 pods over 3 activators; 24 over 5)", () => {
    const pods = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${String(i).padStart(2, '0')}:8012`);
    const sizes = (p: number, a: number) => [...assignShares(pods(p), Array.from({ length: a }, (_, i) => activatorIp(i + 1)), 1).values()].map((m) => m.size);
    expect(sizes(20, 3)).toEqual([7, 7, 6]);
    expect(sizes(24, 5)).toEqual([5, 5, 5, 5, 4]);
    // Activator 0 of 3 over 20 pods: pods 0-5 and the first remnant, pod 18.
    const first = assignShares(pods(20), [activatorIp(1), activatorIp(2), activatorIp(3)], 1).get(activatorIp(1))!;
    expect([...first.keys()]).toEqual([...pods(20).slice(0, 6), pods(20)[18]]);
  });

  it('fewer pods than activators: the sharers of a pod split its containerConcurrency, at least one slot each', () => {
    const shares = assignShares(['10.0.0.1:8012', '10.0.0.2:8012'], [1, 2, 3].map(activatorIp), 5);
    // Activators 0 and 2 share pod 0 (3 + 2 slots), activator 1 has pod 1 to itself.
    expect(shares.get(activatorIp(1))).toEqual(new Map([['10.0.0.1:8012', 3]]));
    expect(shares.get(activatorIp(3))).toEqual(new Map([['10.0.0.1:8012', 2]]));
    expect(shares.get(activatorIp(2))).toEqual(new Map([['10.0.0.2:8012', 5]]));
    // One slot for two activators: each keeps one (Knative's behaviour; the autoscaler avoids it for mode activator).
    expect(perPod(assignShares(['10.0.0.1:8012'], [activatorIp(1), activatorIp(2)], 1)).get('10.0.0.1:8012')).toEqual([1, 1]);
  });

  it('activatorsWithASlot: pods × CC, at least 1, unbounded for CC 0', () => {
    expect(activatorsWithASlot(0, 1)).toBe(1);
    expect(activatorsWithASlot(2, 1)).toBe(2);
    expect(activatorsWithASlot(2, 3)).toBe(6);
    expect(activatorsWithASlot(5, 0)).toBe(Infinity);
  });
});

describe('PodSlicer: one activator', () => {
  const pods = ['10.0.0.1:8012', '10.0.0.2:8012', '10.0.0.3:8012'];
  const [x, y, z] = [1, 2, 3].map(activatorIp);

  it('no list or no own IP known: every pod at full CC (Knative index -1); a list without it: nothing', () => {
    const s = new PodSlicer(2, 0);
    s.update(pods, undefined, x, 0);
    expect(s.ownShares(0)).toBe(ALL_PODS);
    s.update(pods, [y, z], undefined, 0);
    expect(s.ownShares(0)).toBe(ALL_PODS);
    s.update(pods, [y, z], x, 0);
    expect(s.ownShares(0)).toEqual(new Map());
  });

  it('listed: its slice; dropped from the list: keeps its slots of the last view that listed it, on the pods still there, for handoverMs', () => {
    const s = new PodSlicer(1, 1000);
    s.update(pods, [x, y, z], y, 0);
    expect(s.ownShares(0)).toEqual(new Map([[pods[1], 1]]));
    s.update(pods, [x, z], y, 10);
    expect(s.ownShares(10)).toEqual(new Map([[pods[1], 1]]));
    expect(s.handoverEndsAt(10)).toBe(1010);
    expect(s.ownShares(1010)).toEqual(new Map());
    // Listed again: z had pod .2 while y was out, so y waits a handover for it.
    s.update(pods, [x, y, z], y, 2000);
    expect(s.ownShares(2000)).toEqual(new Map([[pods[1], 0]]));
    expect(s.ownShares(3000)).toEqual(new Map([[pods[1], 1]]));
    // Its pod gone while dropped: nothing left.
    s.update(pods, [x, z], y, 4000);
    s.update([pods[0], pods[2]], [x, z], y, 4100);
    expect(s.ownShares(4100)).toEqual(new Map());
  });

  it('after a change, holds back for handoverMs the slots another activator had before it', () => {
    const s = new PodSlicer(1, 1000);
    s.update(pods.slice(0, 2), [x, y], y, 0);
    expect(s.ownShares(0)).toEqual(new Map([[pods[1], 1]]));
    // A pod sorted first arrives: x takes .0 and the remnant .2; y takes .1, which x had.
    s.update(['10.0.0.0:8012', ...pods.slice(0, 2)], [x, y], y, 10);
    expect(s.ownShares(10)).toEqual(new Map([[pods[0], 0]]));
    expect(s.handoverEndsAt(10)).toBe(1010);
    expect(s.ownShares(1010)).toEqual(new Map([[pods[0], 1]]));
    expect(s.handoverEndsAt(1010)).toBeUndefined();
  });

  it('without a handover (mode full, where the queue-proxy holds any excess): a moved pod is used at once, a dropped activator keeps its slots (Knative)', () => {
    const s = new PodSlicer(1, undefined);
    s.update(pods.slice(0, 2), [x, y], y, 0);
    s.update(['10.0.0.0:8012', ...pods.slice(0, 2)], [x, y], y, 10);
    expect(s.ownShares(10)).toEqual(new Map([[pods[0], 1]]));
    expect(s.handoverEndsAt(10)).toBeUndefined();
    s.update(['10.0.0.0:8012', ...pods.slice(0, 2)], [x], y, 20);
    expect(s.ownShares(1_000_000)).toEqual(new Map([[pods[0], 1]]));
  });

  it('a pod nobody had before is used at once', () => {
    const s = new PodSlicer(1, 1000);
    s.update(pods.slice(0, 2), [x, y], x, 0);
    s.update(pods, [x, y], x, 10);
    // x keeps .1 and takes the remnant .3, which is new.
    expect(s.ownShares(10)).toEqual(new Map([[pods[0], 1], [pods[2], 1]]));
  });
});

/**
 * The churn simulation. Views (pods, activators) are published one after another; each
 * activator learns each view after its own lag (≤ LAG_MS, in order); traffic reaches an activator
 * while a view published in the last LAG_MS lists it (routers learn late too); every activator
 * keeps all the slots it is allowed busy, each request lasting REQUEST_MS. With LAG_MS +
 * REQUEST_MS <= HANDOVER_MS (condition (3) and (4) of the module's guarantee), a pod never has
 * more than containerConcurrency requests in flight.
 */
const HANDOVER_MS = 1000;
const LAG_MS = 300;
const REQUEST_MS = 600;
const TICK_MS = 25;
const POD_UNIVERSE = 8;
const ACTIVATOR_UNIVERSE = 5;

interface Step {
  readonly gapMs: number;
  readonly pods: number[];
  readonly activators: number[];
  readonly lagsMs: number[];
}

const steps = fc.array(
  fc.record({
    gapMs: fc.integer({ min: 0, max: 1500 }),
    pods: fc.subarray([...Array(POD_UNIVERSE).keys()]),
    activators: fc.subarray([...Array(ACTIVATOR_UNIVERSE).keys()], { minLength: 1 }),
    lagsMs: fc.array(fc.integer({ min: 0, max: LAG_MS }), { minLength: ACTIVATOR_UNIVERSE, maxLength: ACTIVATOR_UNIVERSE }),
  }),
  { minLength: 1, maxLength: 10 },
);

interface Published {
  readonly atMs: number;
  readonly pods: string[];
  readonly activators: string[];
}

/** What the autoscaler writes: no more activators than can each own a slot (condition (1)). */
function publish(steps: readonly Step[], cc: number): Published[] {
  let atMs = 0;
  return steps.map((s, i) => {
    atMs += i === 0 ? 0 : s.gapMs;
    const pods = s.pods.map((n) => podId(n + 1));
    const activators = s.activators.slice(0, activatorsWithASlot(pods.length, cc)).map((n) => activatorIp(n + 1));
    return { atMs, pods, activators };
  });
}

function simulate(cc: number, steps: readonly Step[], handoverMs = HANDOVER_MS): string | undefined {
  const published = publish(steps, cc);
  const ips = Array.from({ length: ACTIVATOR_UNIVERSE }, (_, n) => activatorIp(n + 1));
  const slicers = new Map(ips.map((ip) => [ip, new PodSlicer(cc, handoverMs)]));
  // When each activator learns each view: its lag, never before the view before (informers deliver in order).
  const learnAt = new Map(ips.map((ip, a) => {
    let last = 0;
    return [ip, published.map((v, k) => (last = k === 0 ? 0 : Math.max(last, v.atMs + steps[k].lagsMs[a])))];
  }));
  const learned = new Map(ips.map((ip) => [ip, 0]));
  const inFlight: Array<{ ip: string; pod: string; endsMs: number }> = [];
  // Past every handover (twice as long for a dropped activator's slots) and the requests.
  const endMs = published[published.length - 1].atMs + 2 * HANDOVER_MS + REQUEST_MS + LAG_MS;
  for (let now = 0; now <= endMs; now += TICK_MS) {
    for (const ip of ips) {
      const times = learnAt.get(ip)!;
      for (let k = learned.get(ip)!; k < published.length && times[k] <= now; k++) {
        slicers.get(ip)!.update(published[k].pods, published[k].activators, ip, now);
        learned.set(ip, k + 1);
      }
    }
    for (let i = inFlight.length - 1; i >= 0; i--) if (inFlight[i].endsMs <= now) inFlight.splice(i, 1);
    for (const ip of ips) {
      const reachable = published.some((v, k) => v.activators.includes(ip) && v.atMs <= now && (published[k + 1]?.atMs ?? Infinity) > now - LAG_MS);
      if (!reachable) continue;
      const shares = slicers.get(ip)!.ownShares(now);
      if (shares === ALL_PODS) return `${ip} unsliced at ${now} ms`;
      for (const [pod, allowed] of shares) {
        const mine = inFlight.filter((r) => r.ip === ip && r.pod === pod).length;
        for (let n = mine; n < allowed; n++) inFlight.push({ ip, pod, endsMs: now + REQUEST_MS });
      }
    }
    const perPodNow = new Map<string, number>();
    for (const r of inFlight) perPodNow.set(r.pod, (perPodNow.get(r.pod) ?? 0) + 1);
    for (const [pod, n] of perPodNow) {
      if (n > cc) return `${pod} had ${n} > ${cc} in flight at ${now} ms: ${JSON.stringify(inFlight.filter((r) => r.pod === pod))}`;
    }
  }
  return settled(published[published.length - 1], slicers, endMs, cc);
}

/** Once the last view has settled: every listed activator has a slot, and every pod is used at full containerConcurrency. */
function settled(last: Published, slicers: ReadonlyMap<string, PodSlicer>, nowMs: number, cc: number): string | undefined {
  if (last.pods.length === 0) return undefined;
  const used = new Map<string, number>();
  for (const ip of last.activators) {
    const shares = slicers.get(ip)!.ownShares(nowMs);
    if (shares === ALL_PODS || [...shares.values()].every((n) => n === 0)) return `${ip} has no slot once settled`;
    for (const [pod, n] of shares) used.set(pod, (used.get(pod) ?? 0) + n);
  }
  for (const pod of last.pods) if ((used.get(pod) ?? 0) !== cc) return `${pod} has ${used.get(pod) ?? 0} slots once settled, not ${cc}`;
  return undefined;
}

describe('PodSlicer under churn', () => {
  test.prop([fc.integer({ min: 1, max: 3 }), steps], { numRuns: 150 })(
    'pods and activators added and removed in any sequence, learned late and in any order: no pod ever has more than containerConcurrency in flight, and once settled every pod is used in full',
    (cc, s) => {
      expect(simulate(cc, s)).toBeUndefined();
    },
  );

  it('the same churn without the handover does overrun a pod (the simulation can fail)', () => {
    const moved: Step[] = [
      { gapMs: 0, pods: [1, 2], activators: [0, 1], lagsMs: [0, 0, 0, 0, 0] },
      // Pod 0 sorts first: pod 1 moves from activator 0 to activator 1; activator 0 learns late.
      { gapMs: 100, pods: [0, 1, 2], activators: [0, 1], lagsMs: [LAG_MS, 0, 0, 0, 0] },
    ];
    expect(simulate(1, moved)).toBeUndefined();
    expect(simulate(1, moved, 0)).toMatch(/had 2 > 1 in flight/);
  });
});
