import { afterEach, describe, expect, it, vi } from 'vitest';
import { QueueFullError } from '../../../lib/runtime/shared/breaker';
import { PodAddress } from '../../../lib/runtime/activator/revision';
import { NoPodAcceptedError, REFUSED, type Reservation, RevisionThrottler } from '../../../lib/runtime/activator/throttler';

const pod = (port: number): PodAddress => ({ host: '127.0.0.1', port });
const never = new AbortController().signal;

/** A deferred: run() attempts that stay open until released, to observe concurrency. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
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
    const served: number[] = [];
    const runs = [1, 2, 3].map(() => t.run(never, async (p) => served.push(p.port)));
    await new Promise((r) => setImmediate(r));
    expect(t.waiting).toBe(3);
    expect(served).toEqual([]);
    t.updatePods([pod(5000)]);
    await Promise.all(runs);
    expect(served).toEqual([5000, 5000, 5000]);
  });

  it('rejects beyond the queue depth with QueueFullError', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 2 });
    const held = [t.run(never, async () => 1), t.run(never, async () => 2)];
    await expect(t.run(never, async () => 3)).rejects.toBeInstanceOf(QueueFullError);
    t.updatePods([pod(5000)]);
    await expect(Promise.all(held)).resolves.toEqual([1, 2]);
  });

  it('rejects a held request with the abort reason (revision timeout)', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5 });
    const controller = new AbortController();
    const held = t.run(controller.signal, async () => 'never');
    controller.abort(new Error('deadline'));
    await expect(held).rejects.toThrow('deadline');
    expect(t.waiting).toBe(0);
  });

  it('never puts more than CC requests on a pod at once', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 2, queueDepth: 100 });
    t.updatePods([pod(1), pod(2)]);
    const perPod = new Map<number, number>();
    let max = 0;
    const g = gate();
    const runs = Array.from({ length: 10 }, () =>
      t.run(never, async (p) => {
        const n = (perPod.get(p.port) ?? 0) + 1;
        perPod.set(p.port, n);
        max = Math.max(max, n);
        await g.promise;
        perPod.set(p.port, (perPod.get(p.port) ?? 1) - 1);
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(t.inFlight).toBe(4);
    expect(t.waiting).toBe(6);
    g.open();
    await Promise.all(runs);
    expect(max).toBe(2);
  });

  it('tries the next pod when one refuses the connection, and reports the refusal', async () => {
    const refused: number[] = [];
    const t = new RevisionThrottler({ containerConcurrency: 1, queueDepth: 5, onRefused: (p) => refused.push(p.port) });
    t.updatePods([pod(1), pod(2)]);
    const tried: number[] = [];
    const result = await t.run(never, async (p) => {
      tried.push(p.port);
      return p.port === 1 ? REFUSED : `served by ${p.port}`;
    });
    expect(result).toBe('served by 2');
    expect(tried).toEqual([1, 2]);
    expect(refused).toEqual([1]);
  });

  it('fails with NoPodAcceptedError when every pod refuses', async () => {
    const t = new RevisionThrottler({ containerConcurrency: 0, queueDepth: 5 });
    t.updatePods([pod(1), pod(2)]);
    await expect(t.run(never, async () => REFUSED)).rejects.toBeInstanceOf(NoPodAcceptedError);
    expect(t.inFlight).toBe(0);
  });
});

// Added with the activator's callback request path (performance work): reserve() is what every
// request goes through now; run() stays for websockets and retries after a refused connection.
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
});
