import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../lib/runtime/shared/backoff';
import { TokenBucket } from '../../../lib/runtime/shared/token-bucket';
import { apiRetryAdvice, retryAfterMs } from '../../../lib/runtime/kube/client';
import { WorkContext, WorkDroppedError, WorkQueue, WorkQueueOptions } from '../../../lib/runtime/kube/work-queue';
import { ManualClock, settle } from '../../support/manual-clock';

/** An API error as @kubernetes/client-node throws it (ApiException: code, body, headers). */
function apiError(code: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: '', headers });
}

const BACKOFF = { baseMs: 5, maxMs: 1_000_000 };

function queue(clock: ManualClock, over: Partial<WorkQueueOptions> = {}): WorkQueue {
  return new WorkQueue({ workers: 2, qps: 10, burst: 20, backoff: BACKOFF, clock, random: () => 1, ...over });
}

/** A work that stays running until `release` is called. */
function gate(): { work: (ctx: WorkContext) => Promise<void>; started: number[]; release(): void } {
  const started: number[] = [];
  let release: () => void = () => undefined;
  return {
    started,
    work: (ctx) => {
      started.push(ctx.nowMs);
      return new Promise<void>((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}

describe('TokenBucket', () => {
  it('lets the burst through at once, then one token per 1/qps', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.tryTake(0), bucket.tryTake(0), bucket.tryTake(0), bucket.tryTake(0)]).toEqual([true, true, true, false]);
    expect(bucket.msUntilToken(0)).toBe(100);
    expect(bucket.tryTake(99)).toBe(false);
    expect(bucket.tryTake(100)).toBe(true);
  });

  it('refuses a qps of 0 and a burst below 1', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(/qps must be > 0/);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(/burst must be a whole number >= 1/);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base, is capped, and jitter keeps it within [1/2, 1] of that', () => {
    const policy = { baseMs: 5, maxMs: 1000 };
    const top = [1, 2, 3, 4, 8, 9, 30, 2000].map((n) => backoffDelayMs(n, policy, () => 0.999999));
    expect(top).toEqual([5, 10, 20, 40, 640, 1000, 1000, 1000]);
    expect(backoffDelayMs(4, policy, () => 0)).toBe(20);
    expect(backoffDelayMs(0, policy, () => 0.5)).toBe(0);
  });
});

describe('apiRetryAdvice', () => {
  it('retries conflicts, throttling, timeouts, server and connection errors; not the other 4xx', () => {
    for (const code of [409, 408, 429, 500, 503]) expect(apiRetryAdvice(apiError(code), 0)).toEqual({ retry: true });
    expect(apiRetryAdvice(new Error('connect ECONNREFUSED 127.0.0.1:6443'), 0)).toEqual({ retry: true });
    for (const code of [400, 403, 404, 422]) expect(apiRetryAdvice(apiError(code), 0)).toEqual({ retry: false });
  });

  it('reads Retry-After (seconds or an HTTP date) on 429 and 503 only', () => {
    expect(apiRetryAdvice(apiError(429, { 'retry-after': '3' }), 1000)).toEqual({ retry: true, notBeforeMs: 4000 });
    expect(apiRetryAdvice(apiError(503, { 'Retry-After': '1' }), 0)).toEqual({ retry: true, notBeforeMs: 1000 });
    expect(apiRetryAdvice(apiError(500, { 'retry-after': '3' }), 0)).toEqual({ retry: true });
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(apiError(429, { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(apiError(429, { 'retry-after': 'soon' }), now)).toBeUndefined();
  });
});

describe('WorkQueue', () => {
  it('a key added again before it ran runs once, with the latest work, and every caller hears of it', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 1 });
    const blocker = gate();
    void q.add('other', blocker.work);
    const ran: string[] = [];
    const adds = ['v1', 'v2', 'v3'].map((v) => q.add('ep/a', async () => void ran.push(v)));
    expect(q.length).toBe(1);
    blocker.release();
    await Promise.all(adds);
    expect(ran).toEqual(['v3']);
  });

  it('a key added while its work runs runs once more after it (not in parallel), with the latest work', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 4 });
    const first = gate();
    const done = q.add('ep/a', first.work);
    await settle();
    const ran: string[] = [];
    const later = ['v2', 'v3', 'v4'].map((v) => q.add('ep/a', async () => void ran.push(v)));
    await settle();
    expect(q.inFlight).toBe(1);
    expect(ran).toEqual([]);
    first.release();
    await Promise.all([done, ...later]);
    expect(ran).toEqual(['v4']);
  });

  it('dates a work when it runs, not when it was queued', async () => {
    const clock = new ManualClock(1000);
    const q = queue(clock, { workers: 1 });
    const blocker = gate();
    void q.add('a', blocker.work);
    let ranAt: number | undefined;
    const done = q.add('b', async (ctx) => void (ranAt = ctx.nowMs));
    await clock.advance(7000);
    blocker.release();
    await done;
    expect(blocker.started).toEqual([1000]);
    expect(ranAt).toBe(8000);
  });

  it('runs at most `workers` works at once', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 3, qps: 1000, burst: 1000 });
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const all = Array.from({ length: 50 }, (_, i) =>
      q.add(`k${i}`, () => {
        running++;
        peak = Math.max(peak, running);
        return new Promise<void>((resolve) => releases.push(() => (running--, resolve())));
      }),
    );
    while (releases.length > 0 || q.length > 0) {
      await settle();
      expect(running).toBeLessThanOrEqual(3);
      releases.splice(0).forEach((r) => r());
      await settle();
    }
    await Promise.all(all);
    expect(peak).toBe(3);
  });

  it('starts at most burst + qps × T works in any window of T', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 8, qps: 10, burst: 20 });
    const starts: number[] = [];
    const all = Array.from({ length: 200 }, (_, i) => q.add(`k${i}`, async (ctx) => void starts.push(ctx.nowMs)));
    await clock.advance(30_000);
    await Promise.all(all);
    expect(starts).toHaveLength(200);
    for (let i = 0; i < starts.length; i++) {
      for (let j = i; j < starts.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(20 + (10 * (starts[j] - starts[i])) / 1000);
      }
    }
    // The burst goes at once, the rest at the rate: 180 more at 10 per second take 18 s.
    expect(starts.filter((t) => t === 0)).toHaveLength(20);
    expect(Math.max(...starts)).toBe(18_000);
  });

  it('retries a failing key with exponential backoff up to the cap, then forgets the failures on success', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { backoff: { baseMs: 5, maxMs: 100 } });
    const starts: number[] = [];
    const failures: number[] = [];
    let failFor = 8;
    const work = async (ctx: WorkContext) => {
      starts.push(ctx.nowMs);
      failures.push(ctx.failures);
      if (failFor-- > 0) throw apiError(500);
    };
    const first = q.add('scale/a', work);
    await expect(first).rejects.toMatchObject({ code: 500 });
    await clock.advance(10_000);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    expect(gaps).toEqual([5, 10, 20, 40, 80, 100, 100, 100]);
    expect(failures).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // After the success the next failure starts from the base again.
    failFor = 1;
    void q.add('scale/a', work).catch(() => undefined);
    await clock.advance(10_000);
    expect(starts.slice(-2)[1] - starts.slice(-2)[0]).toBe(5);
  });

  it('honours Retry-After of a 429: no run of that key before it, even when new work comes in; other keys go on', async () => {
    const clock = new ManualClock();
    const q = queue(clock);
    const starts: Array<[string, number]> = [];
    let throttle = true;
    const work = (key: string) => async (ctx: WorkContext) => {
      starts.push([key, ctx.nowMs]);
      if (key === 'a' && throttle) {
        throttle = false;
        throw apiError(429, { 'retry-after': '3' });
      }
    };
    await expect(q.add('a', work('a'))).rejects.toMatchObject({ code: 429 });
    await clock.advance(1000);
    const newer = q.add('a', work('a'));
    await q.add('b', work('b'));
    await clock.advance(2500);
    await newer;
    expect(starts).toEqual([
      ['a', 0],
      ['b', 1000],
      ['a', 3000],
    ]);
  });

  it('drops a work the API refuses for good (403): its caller hears, no retry', async () => {
    const clock = new ManualClock();
    const failuresSeen: Array<number | undefined> = [];
    const q = queue(clock, { onFailure: (_k, _e, retryIn) => failuresSeen.push(retryIn) });
    let runs = 0;
    await expect(q.add('a', async () => void (runs++, (() => { throw apiError(403); })()))).rejects.toMatchObject({ code: 403 });
    await clock.advance(60_000);
    expect(runs).toBe(1);
    expect(failuresSeen).toEqual([undefined]);
    expect(q.length).toBe(0);
  });

  it('on a 409 writes again from the cache once it caught up (update with the cached resourceVersion, no GET)', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { backoff: { baseMs: 5, maxMs: 1000 } });
    // The API server's object and the informer's copy of it, which lags by 40 ms.
    const server = { rv: 7, subsets: 'old' };
    const cache = { rv: 6, subsets: 'older' };
    clock.setTimer(() => Object.assign(cache, server), 40);
    const requests: string[] = [];
    const put = async (desired: string) => {
      requests.push(`PUT rv=${cache.rv} ${desired}`);
      if (cache.rv !== server.rv) throw apiError(409);
      server.rv++;
      server.subsets = desired;
    };
    const done = q.add('ep/a', () => put('new'));
    await expect(done).rejects.toMatchObject({ code: 409 });
    await clock.advance(1000);
    expect(server).toEqual({ rv: 8, subsets: 'new' });
    expect(requests.at(-1)).toBe('PUT rv=7 new');
    expect(requests.filter((r) => r.includes('rv=6')).length).toBe(requests.length - 1);
    expect(requests.every((r) => r.startsWith('PUT'))).toBe(true);
  });

  it('clear() drops what waits (its callers hear WorkDroppedError) and lets a running work finish', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 1 });
    const running = gate();
    const first = q.add('a', running.work);
    const waiting = q.add('b', async () => undefined);
    await settle();
    q.clear();
    await expect(waiting).rejects.toBeInstanceOf(WorkDroppedError);
    expect(q.length).toBe(0);
    running.release();
    await first;
    await q.whenIdle();
  });

  it('takes slow-lane work only when no fast-lane work is due; a fast add moves a slow key up', async () => {
    const clock = new ManualClock();
    const q = queue(clock, { workers: 1, qps: 1000, burst: 1000 });
    const blocker = gate();
    void q.add('blocker', blocker.work);
    const order: string[] = [];
    const work = (name: string) => async () => void order.push(name);
    const all = [
      q.add('ep/1', work('ep/1'), 'slow'),
      q.add('ep/2', work('ep/2'), 'slow'),
      q.add('ep/3', work('ep/3'), 'slow'),
      q.add('scale/a', work('scale/a')),
      q.add('ep/3', work('ep/3 again')),
      q.add('scale/b', work('scale/b')),
    ];
    blocker.release();
    await Promise.all(all);
    expect(order).toEqual(['scale/a', 'ep/3 again', 'scale/b', 'ep/1', 'ep/2']);
  });

  it('refuses a worker count below 1', () => {
    expect(() => new WorkQueue({ workers: 0, qps: 1, burst: 1, backoff: BACKOFF })).toThrow(/workers must be a whole number >= 1/);
  });

  /**
   * Random interleavings of adds (each a new desired value for one of a few keys), clock steps
   * and failing writes (retryable, some with Retry-After): in the end every key holds the value
   * added last, the queue never held more entries than distinct keys, never ran more than
   * `workers` at once, and never started more than burst + qps × T in any window.
   */
  fcTest.prop(
    [
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('add' as const), key: fc.integer({ min: 0, max: 5 }), fail: fc.constantFrom(0, 0, 1, 2), retryAfter: fc.boolean() }),
          fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 400 }) }),
        ),
        { minLength: 1, maxLength: 60 },
      ),
      fc.integer({ min: 1, max: 3 }),
    ],
    { numRuns: 150 },
  )('never loses the last update, stays bounded and within the rate', async (ops, workers) => {
    const clock = new ManualClock();
    const q = new WorkQueue({ workers, qps: 5, burst: 3, backoff: { baseMs: 5, maxMs: 200 }, clock, random: () => 0.5 });
    const written = new Map<number, number>();
    const wanted = new Map<number, number>();
    const starts: number[] = [];
    let running = 0;
    let version = 0;
    const keys = new Set<number>();
    for (const o of ops) {
      if (o.op === 'tick') {
        await clock.advance(o.ms);
      } else {
        const v = ++version;
        wanted.set(o.key, v);
        keys.add(o.key);
        let failsLeft = o.fail;
        void q
          .add(`k${o.key}`, async (ctx) => {
            starts.push(ctx.nowMs);
            running++;
            expect(running).toBeLessThanOrEqual(workers);
            await settle();
            running--;
            if (failsLeft-- > 0) throw apiError(o.retryAfter ? 429 : 500, o.retryAfter ? { 'retry-after': '1' } : {});
            written.set(o.key, v);
          })
          .catch(() => undefined);
      }
      expect(q.length).toBeLessThanOrEqual(keys.size);
      expect(q.inFlight).toBeLessThanOrEqual(workers);
    }
    for (let i = 0; i < 200 && (q.length > 0 || q.inFlight > 0); i++) await clock.advance(1000);
    await q.whenIdle();
    expect(written).toEqual(wanted);
    for (let i = 0; i < starts.length; i++) {
      for (let j = i; j < starts.length; j++) expect(j - i + 1).toBeLessThanOrEqual(3 + (5 * (starts[j] - starts[i])) / 1000);
    }
  });
});
