import { fc, test } from '@fast-check/vitest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QueueFullError } from '../../../lib/runtime/shared/breaker';
import { PodAddress } from '../../../lib/runtime/activator/revision';
import { NoPodAcceptedError, type Reservation, RevisionThrottler } from '../../../lib/runtime/activator/throttler';

const pod = (port: number): PodAddress => ({ host: '127.0.0.1', port });

/** reserve() as a promise, for tests that wait: the reservation, or the failure. */
function reservation(t: RevisionThrottler, tried: ReadonlySet<string> = new Set()): { result: Promise<Reservation>; cancel: () => void } {
  let cancel!: () => void;
  const result = new Promise<Reservation>((resolve, reject) => (cancel = t.reserve(tried, { reserved: resolve, failed: reject })));
  return { result, cancel };
}

describe('RevisionThrottler', () => {
  it.each([
    { cc: 0, pods: 0, capacity: 0 },
    { cc: 0, pods: 2, capacity: Infinity },
    { cc: 1, pods: 3, capacity: 3 },
    { cc: 10, pods: 2, capacity: 20 },
    { cc: 10, pods: 0, capacity: 0 },
  ])('capacity for CC $cc with $pods pods is $capacity', ({ cc, pods, capacity }) => {
    const t = new RevisionThrottler({ containerConcurrency: cc, queueDepth: 10 });
    t.updatePods(Array.from({ length: pods }, (_, i) => pod(1000 + i)));
    expect(t.capacity).toBe(capacity);
  });

  it('holds requests while there is no pod and releases them when one appears', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 0, queueDepth: 10 });
    const held = [1, 2, 3].map(() => reservation(t).result);
    expect(t.waiting).toBe(3);
    t.updatePods([pod(5000)]);
    const got = await Promise.all(held);
    expect(got.map((r) => r.pod.port)).toEqual([5000, 5000, 5000]);
  });

  it('fails beyond the queue depth with QueueFullError', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 2 });
    const held = [reservation(t).result, reservation(t).result];
    await expect(reservation(t).result).rejects.toBeInstanceOf(QueueFullError);
    t.updatePods([pod(5000), pod(5001)]);
    expect((await Promise.all(held)).map((r) => r.pod.port).sort()).toEqual([5000, 5001]);
  });

  it('a held request that gives up leaves the queue and is never told', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5 });
    const held = reservation(t);
    let told = false;
    held.result.then(() => (told = true), () => (told = true));
    held.cancel();
    expect(t.waiting).toBe(0);
    t.updatePods([pod(5000)]);
    await new Promise((r) => setImmediate(r));
    expect(told).toBe(false);
    expect(t.inFlight).toBe(0);
  });

  it('never puts more than CC requests on a pod at once', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 2, queueDepth: 100 });
    t.updatePods([pod(1), pod(2)]);
    const perPod = new Map<number, number>();
    let max = 0;
    const count = (r: Reservation) => {
      const n = (perPod.get(r.pod.port) ?? 0) + 1;
      perPod.set(r.pod.port, n);
      max = Math.max(max, n);
      return r;
    };
    const all = Array.from({ length: 10 }, () => reservation(t).result.then(count));
    await new Promise((r) => setImmediate(r));
    expect(t.inFlight).toBe(4);
    expect(t.waiting).toBe(6);
    let served = 0;
    const serve = async (r: Reservation): Promise<void> => {
      perPod.set(r.pod.port, perPod.get(r.pod.port)! - 1);
      served++;
      r.release();
    };
    // Each admitted request finishes in turn; the freed slot goes to the next one.
    for (const next of all) await serve(await next);
    expect(served).toBe(10);
    expect(max).toBe(2);
    expect(t.inFlight).toBe(0);
  });

  it('a refused pod is reported, and the retry (the pod in `tried`) goes to the next one', async () => {
    const refused: number[] = [];
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5, onRefused: (p) => refused.push(p.port) });
    t.updatePods([pod(1), pod(2)]);
    const first = await reservation(t).result;
    first.refused();
    const second = await reservation(t, new Set([first.podId])).result;
    expect([first.pod.port, second.pod.port].sort()).toEqual([1, 2]);
    expect(refused).toEqual([first.pod.port]);
    expect(t.inFlight).toBe(1);
  });

  it('fails with NoPodAcceptedError when every pod refused', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 0, queueDepth: 5 });
    t.updatePods([pod(1), pod(2)]);
    const tried = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const r = await reservation(t, tried).result;
      r.refused();
      tried.add(r.podId);
    }
    await expect(reservation(t, tried).result).rejects.toBeInstanceOf(NoPodAcceptedError);
    expect(t.inFlight).toBe(0);
  });
});

// reserve() is the throttler's one way in: requests, retries after a refused connection, upgrades.
describe('RevisionThrottler.reserve', () => {
  it('reserves at once when there is room, and holds a slot until released', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 1 });
    t.updatePods([pod(5000)]);
    const got: string[] = [];
    t.reserve(new Set(), { reserved: (r) => got.push(r.podId), failed: (e) => got.push(e.message) });
    expect(got).toEqual(['127.0.0.1:5000']);
    expect(t.inFlight).toBe(1);
  });

  it('queues while full, refuses beyond the queue depth, and hands the slot over on release', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 1 });
    t.updatePods([pod(5000)]);
    const releases: Array<() => void> = [];
    const failures: Error[] = [];
    for (let i = 0; i < 3; i++) t.reserve(new Set(), { reserved: (r) => releases.push(() => r.release()), failed: (e) => failures.push(e) });
    expect(releases).toHaveLength(1);
    expect(t.waiting).toBe(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(QueueFullError);
    releases[0]();
    expect(releases).toHaveLength(2);
    expect(t.inFlight).toBe(1);
  });

  it('gives up waiting when cancelled: no callback, no slot kept', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5 });
    const calls: string[] = [];
    const cancel = t.reserve(new Set(), { reserved: () => calls.push('reserved'), failed: () => calls.push('failed') });
    expect(t.waiting).toBe(1);
    cancel();
    t.updatePods([pod(5000)]);
    expect(calls).toEqual([]);
    expect(t.inFlight).toBe(0);
    expect(t.waiting).toBe(0);
  });

  it('a second release of one reservation frees nothing more', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 0 });
    t.updatePods([pod(5000)]);
    const held: Reservation[] = [];
    const failures: Error[] = [];
    const client = { reserved: (r: Reservation) => held.push(r), failed: (e: Error) => failures.push(e) };
    t.reserve(new Set(), client);
    t.reserve(new Set(), client);
    held[0].release();
    held[0].release();
    t.reserve(new Set(), client);
    t.reserve(new Set(), client);
    expect(held).toHaveLength(2);
    expect(failures.map((e) => e.name)).toEqual(['QueueFullError', 'QueueFullError']);
    expect(t.inFlight).toBe(1);
  });

  it('an admitted request waits for a pod slot, takes the freed one, and gives its revision slot back when cancelled', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5 });
    t.updatePods([pod(5000), pod(5001)]);
    const held: Reservation[] = [];
    const client = { reserved: (r: Reservation) => held.push(r), failed: (e: Error) => expect.fail(e.message) };
    const not5001 = new Set(['127.0.0.1:5001']);
    t.reserve(new Set(), client); // 5000
    t.reserve(not5001, client); // admitted (2 revision slots), but 5000 is full: waits for it
    expect(held.map((r) => r.podId)).toEqual(['127.0.0.1:5000']);
    expect(t.inFlight).toBe(2);
    held[0].release();
    expect(held.map((r) => r.podId)).toEqual(['127.0.0.1:5000', '127.0.0.1:5000']);
    expect(t.inFlight).toBe(1);
    const cancel = t.reserve(not5001, client); // waits for 5000 again
    expect(t.inFlight).toBe(2);
    cancel();
    expect(t.inFlight).toBe(1);
    held[1].release();
    expect(held).toHaveLength(2);
    expect(t.inFlight).toBe(0);
  });

  it('fails with NoPodAcceptedError when every pod was tried', () => {
    const t = new RevisionThrottler({ containerConcurrency: 0, queueDepth: 5 });
    t.updatePods([pod(5000)]);
    const failures: Error[] = [];
    t.reserve(new Set(['127.0.0.1:5000']), { reserved: () => undefined, failed: (e) => failures.push(e) });
    expect(failures[0]).toBeInstanceOf(NoPodAcceptedError);
    expect(t.inFlight).toBe(0);
  });
});

// Issue 18: each activator takes its slice of the pods by its index in the revision's public
// Endpoints (lib/runtime/activator/subsetting.ts, knative/serving pkg/activator/net/throttler.go).
describe('RevisionThrottler across several activators', () => {
  const ACTIVATORS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const pods = (n: number) => Array.from({ length: n }, (_, i) => pod(5000 + i));
  const throttlers = (cc: number, n: number, handoverMs = 0) =>
    ACTIVATORS.map((self) => {
      const t = new RevisionThrottler({ containerConcurrency: cc, queueDepth: 100, handoverMs });
      t.updateActivators(ACTIVATORS, self);
      t.updatePods(pods(n));
      return t;
    });
  const sumPerPod = (ts: RevisionThrottler[]) => {
    const sum = new Map<string, number>();
    for (const t of ts) for (const [id, n] of t.podCapacities) sum.set(id, (sum.get(id) ?? 0) + n);
    return sum;
  };

  afterEach(() => {
    vi.useRealTimers();
  });

  it('3 activators, CC 1, 2 pods: the pods are split, no pod gets more than 1 from all of them together', () => {
    const ts = throttlers(1, 2);
    expect(ts.map((t) => t.capacity)).toEqual([1, 1, 1]);
    for (const [id, n] of sumPerPod(throttlers(1, 3))) expect(n, id).toBe(1);
    // Two pods, three activators: activator 2 shares pod 0 with activator 0 (one slot each: pods × CC < activators).
    expect([...sumPerPod(ts).values()]).toEqual([2, 1]);
  });

  it('6 pods at CC 2: each activator takes 2 pods (capacity 4), every pod exactly once', () => {
    const ts = throttlers(2, 6);
    expect(ts.map((t) => t.capacity)).toEqual([4, 4, 4]);
    expect([...sumPerPod(ts).values()]).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('1 pod at CC 3: each activator one slot of it', () => {
    const ts = throttlers(3, 1);
    expect(ts.map((t) => t.capacity)).toEqual([1, 1, 1]);
  });

  it('requests go only to this activator\'s pods, and never above its share of them', () => {
    const [t] = throttlers(1, 3);
    const held: Reservation[] = [];
    const failures: Error[] = [];
    for (let i = 0; i < 3; i++) t.reserve(new Set(), { reserved: (r) => held.push(r), failed: (e) => failures.push(e) });
    expect(held.map((r) => r.podId)).toEqual(['127.0.0.1:5000']);
    expect(t.waiting).toBe(2);
    expect(failures).toEqual([]);
  });

  it('CC 0 keeps every pod, unbounded, whatever the activators', () => {
    const ts = throttlers(0, 2);
    expect(ts.map((t) => t.capacity)).toEqual([Infinity, Infinity, Infinity]);
  });

  it('no activator list or own IP: every pod at full CC (Knative index -1); a list without this activator: nothing yet', () => {
    const alone = new RevisionThrottler({ containerConcurrency: 2, queueDepth: 1 });
    alone.updatePods(pods(3));
    expect(alone.capacity).toBe(6);
    alone.updateActivators(ACTIVATORS, undefined);
    expect(alone.capacity).toBe(6);
    alone.updateActivators(ACTIVATORS, '10.0.0.9');
    expect(alone.capacity).toBe(0);
  });

  it('after a pod moves to it, an activator waits handoverMs before using it, then serves the waiting request', () => {
    vi.useFakeTimers();
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5, handoverMs: 2000 });
    t.updateActivators(ACTIVATORS.slice(0, 2), ACTIVATORS[1]);
    t.updatePods([pod(5001), pod(5002)]);
    expect([...t.podCapacities]).toEqual([['127.0.0.1:5001', 0], ['127.0.0.1:5002', 1]]);
    vi.advanceTimersByTime(2000);
    // A pod sorted first arrives: activator 0 takes it and the remnant 5002; this one takes 5001, which activator 0 had.
    t.updatePods([pod(5000), pod(5001), pod(5002)]);
    expect(t.capacity).toBe(0);
    const held: Reservation[] = [];
    t.reserve(new Set(), { reserved: (r) => held.push(r), failed: (e) => expect.fail(e.message) });
    expect(held).toEqual([]);
    vi.advanceTimersByTime(1999);
    expect(held).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(held.map((r) => r.podId)).toEqual(['127.0.0.1:5001']);
  });
  // Requests waiting in this activator's queue when its slice shrinks stay queued and are granted
  // from the new slice as soon as it has room, while those in flight on the pods it lost finish
  // (the old breaker counted them against the new slice: waiters stalled behind them, past the
  // handover, until they ended or the revision's timeout failed the waiters).
  it('slice shrinks while requests wait: none fails, each is served once its new slice has room, none above a pod\'s share', () => {
    vi.useFakeTimers();
    const cc = 2;
    const four = pods(4);
    const view = (activators: string[]) =>
      activators.map((self) => {
        const t = new RevisionThrottler({ containerConcurrency: cc, queueDepth: 100, handoverMs: 2000 });
        t.updateActivators(activators, self);
        t.updatePods(four);
        return t;
      });
    const [, t] = view(ACTIVATORS.slice(0, 2));
    vi.advanceTimersByTime(2000);
    expect(t.capacity).toBe(4); // 5002 and 5003
    const held: Reservation[] = [];
    const failures: Error[] = [];
    const inFlight = new Map<string, number>();
    const client = {
      reserved: (r: Reservation) => {
        const n = (inFlight.get(r.podId) ?? 0) + 1;
        expect(n, r.podId).toBeLessThanOrEqual(t.podCapacities.get(r.podId) ?? 0); // granted only within its share
        inFlight.set(r.podId, n);
        held.push(r);
      },
      failed: (e: Error) => failures.push(e),
    };
    const release = (r: Reservation) => {
      inFlight.set(r.podId, inFlight.get(r.podId)! - 1);
      r.release();
    };
    for (let i = 0; i < 8; i++) t.reserve(new Set(), client);
    expect(held.map((r) => r.podId).sort()).toEqual(['127.0.0.1:5002', '127.0.0.1:5002', '127.0.0.1:5003', '127.0.0.1:5003']);
    expect(t.waiting).toBe(4);

    // A third activator: this one keeps only 5001 (activator 0's until now), after the handover.
    t.updateActivators(ACTIVATORS, ACTIVATORS[1]);
    expect(t.capacity).toBe(0);
    vi.advanceTimersByTime(1999);
    expect(held).toHaveLength(4);
    vi.advanceTimersByTime(1);
    expect([...t.podCapacities]).toEqual([['127.0.0.1:5000', 0], ['127.0.0.1:5001', 2], ['127.0.0.1:5002', 0], ['127.0.0.1:5003', 0]]);
    // The shares of every pod add up to CC again, across the three activators.
    for (const [id, n] of sumPerPod(view(ACTIVATORS))) expect(n, id).toBe(cc);
    // The four on the lost pods are still in flight; two waiters get 5001 at once.
    expect(held.slice(4).map((r) => r.podId)).toEqual(['127.0.0.1:5001', '127.0.0.1:5001']);
    expect(t.waiting).toBe(2);

    // A request ending on a lost pod frees nothing this activator may use.
    release(held[0]);
    expect(held).toHaveLength(6);
    // Ones ending on 5001 let the last waiters in, there.
    release(held[4]);
    release(held[5]);
    expect(held.slice(6).map((r) => r.podId)).toEqual(['127.0.0.1:5001', '127.0.0.1:5001']);
    expect(t.waiting).toBe(0);
    expect(failures).toEqual([]);
    for (const r of held.slice(1)) release(r);
    expect(t.inFlight).toBe(0);
    // Back to the slice alone: 2 slots, and a third request waits.
    for (let i = 0; i < 3; i++) t.reserve(new Set(), client);
    expect(t.inFlight).toBe(2);
    expect(t.waiting).toBe(1);
  });

  it('a pod that leaves the revision with requests in flight and comes back is counted once', () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 10 });
    t.updatePods(pods(2));
    const held: Reservation[] = [];
    const client = { reserved: (r: Reservation) => held.push(r), failed: (e: Error) => expect.fail(e.message) };
    t.reserve(new Set(), client);
    t.reserve(new Set(), client);
    const on5000 = held.find((r) => r.podId === '127.0.0.1:5000')!;
    t.updatePods([pod(5001)]); // 5000 goes while its request runs
    t.updatePods(pods(2)); // and comes back before it ends
    t.reserve(new Set(), client);
    expect(held).toHaveLength(2); // 5000 still holds its request: CC 1
    expect(t.waiting).toBe(1);
    on5000.release();
    expect(held.map((r) => r.podId)).toEqual(expect.arrayContaining(['127.0.0.1:5000', '127.0.0.1:5001']));
    expect(held[2].podId).toBe('127.0.0.1:5000');
    expect(t.inFlight).toBe(2);
  });
});

// The slicing churns (activators and pods come and go, time passes) while requests arrive and end,
// on one activator with a handover: no request ever fails, no grant goes above this activator's
// share of a pod, a request waits only while the slice is full (not behind requests still in
// flight on pods the slice lost), the breaker's count is exactly the requests on pods (no revision
// slot leaked or lost when requests end outside the slice), and once the views settle every waiter is served.
describe('RevisionThrottler under churn (property)', () => {
  const SELF = '10.0.0.2';
  const ACTIVATOR_POOL = ['10.0.0.1', SELF, '10.0.0.3'];
  const POD_POOL = [5000, 5001, 5002, 5003];
  const step = fc.oneof(
    // More arrivals than anything else, so queues build up before the views change.
    { arbitrary: fc.constant({ kind: 'reserve' as const }), weight: 3 },
    fc.record({ kind: fc.constant('release' as const), index: fc.nat() }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({
      kind: fc.constant('view' as const),
      activators: fc.subarray(ACTIVATOR_POOL, { minLength: 1 }),
      pods: fc.subarray(POD_POOL),
    }),
  );

  afterEach(() => {
    vi.useRealTimers();
  });

  test.prop([fc.integer({ min: 1, max: 3 }), fc.array(step, { maxLength: 60 })], { numRuns: 1000 })('no request fails, none above a pod\'s share, every waiter served once the views settle', (cc, steps) => {
    vi.useFakeTimers();
    const t = new RevisionThrottler({ containerConcurrency: cc, queueDepth: 1000, handoverMs: 2000 });
    t.updateActivators(ACTIVATOR_POOL, SELF);
    t.updatePods(POD_POOL.map(pod));
    const running: Reservation[] = [];
    const perPod = new Map<string, number>();
    let asked = 0;
    let granted = 0;
    const client = {
      reserved: (r: Reservation) => {
        granted++;
        const n = (perPod.get(r.podId) ?? 0) + 1;
        expect(n, r.podId).toBeLessThanOrEqual(t.podCapacities.get(r.podId) ?? 0);
        perPod.set(r.podId, n);
        running.push(r);
      },
      failed: (e: Error) => expect.fail(e.message),
    };
    const release = (index: number) => {
      const [r] = running.splice(index, 1);
      perPod.set(r.podId, perPod.get(r.podId)! - 1);
      r.release();
    };
    for (const s of steps) {
      if (s.kind === 'reserve') {
        asked++;
        t.reserve(new Set(), client);
      } else if (s.kind === 'release') {
        if (running.length > 0) release(s.index % running.length);
      } else if (s.kind === 'advance') {
        vi.advanceTimersByTime(s.ms);
      } else {
        t.updateActivators(s.activators, SELF);
        t.updatePods(s.pods.map(pod));
      }
      expect(t.inFlight).toBe(running.length);
      expect(granted + t.waiting).toBe(asked); // every request is either granted or still waiting
      // A request waits only while every slot of this activator's slice is taken.
      if (t.waiting > 0) for (const [id, share] of t.podCapacities) expect(perPod.get(id) ?? 0, id).toBeGreaterThanOrEqual(share);
    }
    // The views settle with this activator listed and pods to share; the handover ends.
    t.updateActivators(ACTIVATOR_POOL, SELF);
    t.updatePods(POD_POOL.map(pod));
    vi.advanceTimersByTime(4000);
    expect(t.capacity).toBeGreaterThan(0);
    while (running.length > 0) {
      release(0);
      expect(t.inFlight).toBe(running.length);
    }
    expect(t.waiting).toBe(0);
    expect(granted).toBe(asked);
  });
});
