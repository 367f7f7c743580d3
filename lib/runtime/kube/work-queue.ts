import { BackoffPolicy, backoffDelayMs } from '../shared/backoff';
import { Clock, RandomSource, systemClock } from '../shared/clock';
import { TokenBucket } from '../shared/token-bucket';
import { apiRetryAdvice, ClientRateDefaults, RetryAdvice } from './client';
import type { TokenSource } from './rate-limiter';

/**
 * The one queue every API write of the runtime goes through, shaped after the controllers of
 * Knative (knative.dev/pkg controller/controller.go: a rate-limited client-go work queue drained
 * by a fixed number of workers) and client-go's workqueue (k8s.io/client-go util/workqueue):
 *
 * - one entry per key (one key per object): a key added again before its work started runs once,
 *   with the latest work; a key added while its work runs runs once more after it, so the last
 *   desired state is always the one written last, and the queue never holds more entries than
 *   there are distinct keys;
 * - at most `workers` works run at once, so at most that many API requests are in flight;
 * - one token per work, since each work is one request (a write from the informer cache or a
 *   patch; never a GET before it), taken from the kube client's rate limiter (`tokens`,
 *   ./rate-limiter.ts), which every other request of the client shares, or from a token bucket
 *   of the queue's own (qps, burst);
 * - a failed work is retried with per-key exponential backoff with jitter (5 ms doubling to
 *   1000 s by default, as client-go's DefaultControllerRateLimiter), and never before the
 *   Retry-After the API server sent with a 429 or 503; a success forgets the failures;
 * - a work reads the time when it runs (`WorkContext.nowMs`), not when it was queued;
 * - two lanes, as Knative's two-lane queue (knative.dev/pkg controller/two_lane_queue.go): a
 *   worker takes the slow lane's work only when no fast-lane work is due, so a mass rewrite
 *   (every revision's Endpoints after an activator is replaced) does not hold back a scale write.
 *
 * As in client-go, an `add` is new desired state and runs as soon as a worker and a token are
 * free, without waiting out the key's backoff (client-go: Add versus AddRateLimited); only the
 * API server's Retry-After holds it back. Time and randomness come in (`clock`, `random`), so
 * the tests step through it deterministically.
 */
/**
 * Knative's autoscaler's settings, declared once (../autoscaler/config.ts reads the overrides):
 * - qps 10, burst 20: the kube client's (./client.ts ClientRateDefaults);
 * - workers 4: those 2 controllers × knative.dev/pkg controller.DefaultThreadsPerController (2);
 * - backoff 5 ms doubling to 1000 s: client-go workqueue.DefaultControllerRateLimiter's per-item
 *   limiter (k8s.io/client-go util/workqueue/default_rate_limiters.go), which Knative's
 *   controllers use (knative.dev/pkg controller.NewContext).
 */
export const WriteQueueDefaults = {
  workers: 4,
  qps: ClientRateDefaults.qps,
  burst: ClientRateDefaults.burst,
  backoffBaseMs: 5,
  backoffMaxMs: 1_000_000,
} as const;

export interface WorkContext {
  /** When the work started: the instant its effects (e.g. "Endpoints flipped at") are dated. */
  readonly nowMs: number;
  /** Failures of this key since its last success (0 on a first try). */
  readonly failures: number;
}

export type Work = (ctx: WorkContext) => Promise<void>;

/** `slow`: work that may wait behind the rest (e.g. one change rewriting every object). */
export type Lane = 'fast' | 'slow';

export interface WorkQueueOptions {
  readonly workers: number;
  /** Where each work's token comes from: the kube client's limiter (./rate-limiter.ts)... */
  readonly tokens?: TokenSource;
  /** ...or, without it, a token bucket of the queue's own. */
  readonly qps?: number;
  readonly burst?: number;
  readonly backoff: BackoffPolicy;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Whether and when a failed work is retried; the API's rules by default (client.ts). */
  readonly retryAdvice?: (err: unknown, nowMs: number) => RetryAdvice;
  /** Told about every failure, with the delay of the retry (undefined: dropped). */
  readonly onFailure?: (key: string, err: unknown, retryInMs: number | undefined) => void;
}

/** A work taken out of the queue before it ran (`clear`): its callers' promises reject with it. */
export class WorkDroppedError extends Error {
  constructor(readonly key: string) {
    super(`work for ${key} dropped before it ran`);
    this.name = 'WorkDroppedError';
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Entry {
  work: Work;
  lane: Lane;
  waiters: Waiter[];
  /** Not before this instant (a backoff or a Retry-After). */
  dueMs: number;
  cancelTimer: (() => void) | undefined;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly tokens: TokenSource;
  private readonly retryAdvice: (err: unknown, nowMs: number) => RetryAdvice;
  /** Keys waiting to run, at most one entry each. */
  private readonly waiting = new Map<string, Entry>();
  /** Keys whose entry is due, per lane, in the order they became due. */
  private readonly ready: Record<Lane, Set<string>> = { fast: new Set(), slow: new Set() };
  private readonly running = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Per key: the API server asked not to be called for it before this instant. */
  private readonly retryAfterUntil = new Map<string, number>();
  private cancelPumpTimer: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: WorkQueueOptions) {
    if (!(Number.isInteger(options.workers) && options.workers >= 1)) {
      throw new RangeError(`work queue: workers must be a whole number >= 1, got ${options.workers}`);
    }
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.tokens = options.tokens ?? new TokenBucket(options.qps ?? WriteQueueDefaults.qps, options.burst ?? WriteQueueDefaults.burst, this.clock.now());
    this.retryAdvice = options.retryAdvice ?? apiRetryAdvice;
  }

  /** Keys queued and not running (≤ the number of distinct keys). */
  get length(): number {
    return this.waiting.size;
  }

  /** Works running now (≤ workers). */
  get inFlight(): number {
    return this.running.size;
  }

  /**
   * Queues `work` as the latest for `key` (in the fast lane if any of its adds asked for it). Settles with the first run that carries it (or a later
   * work added over it): resolves when it succeeded, rejects with its error when it failed (the
   * queue keeps retrying on its own) or with WorkDroppedError when cleared first.
   */
  add(key: string, work: Work, lane: Lane = 'fast'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const nowMs = this.clock.now();
      const dueMs = Math.max(nowMs, this.retryAfterUntil.get(key) ?? 0);
      const entry = this.waiting.get(key);
      if (entry) {
        entry.work = work;
        entry.waiters.push({ resolve, reject });
        if (lane === 'fast' && entry.lane === 'slow') this.promote(key, entry);
        if (dueMs < entry.dueMs) this.schedule(key, entry, dueMs);
      } else {
        const fresh: Entry = { work, lane, waiters: [{ resolve, reject }], dueMs, cancelTimer: undefined };
        this.waiting.set(key, fresh);
        this.schedule(key, fresh, dueMs);
      }
      this.pump();
    });
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.waiting.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Drops every queued work (running ones finish) and forgets failures, e.g. when this replica
   * stops leading and must not write any more.
   */
  clear(): void {
    for (const [key, entry] of this.waiting) {
      entry.cancelTimer?.();
      for (const w of entry.waiters) w.reject(new WorkDroppedError(key));
    }
    this.waiting.clear();
    this.ready.fast.clear();
    this.ready.slow.clear();
    this.failures.clear();
    this.retryAfterUntil.clear();
    this.cancelPumpTimer?.();
    this.cancelPumpTimer = undefined;
    this.notifyIfIdle();
  }

  /** Makes the entry due at `dueMs`: ready now, or by a timer. */
  private schedule(key: string, entry: Entry, dueMs: number): void {
    entry.cancelTimer?.();
    entry.cancelTimer = undefined;
    entry.dueMs = dueMs;
    const waitMs = dueMs - this.clock.now();
    if (waitMs <= 0) {
      this.ready[entry.lane].add(key);
      return;
    }
    this.ready[entry.lane].delete(key);
    entry.cancelTimer = this.clock.setTimer(() => {
      entry.cancelTimer = undefined;
      if (this.waiting.get(key) !== entry) return;
      this.ready[entry.lane].add(key);
      this.pump();
    }, waitMs);
  }

  private promote(key: string, entry: Entry): void {
    entry.lane = 'fast';
    if (this.ready.slow.delete(key)) this.ready.fast.add(key);
  }

  /** Starts due works while a worker and a token are free; else waits for the next token. */
  private pump(): void {
    while (this.running.size < this.options.workers) {
      const key = this.nextReadyKey();
      if (key === undefined) return;
      const nowMs = this.clock.now();
      if (!this.tokens.tryTake(nowMs)) {
        this.waitForToken(nowMs);
        return;
      }
      this.start(key, nowMs);
    }
  }

  /** The first due key whose work is not running (a running key's next work waits for it), fast lane first. */
  private nextReadyKey(): string | undefined {
    for (const lane of [this.ready.fast, this.ready.slow]) for (const key of lane) if (!this.running.has(key)) return key;
    return undefined;
  }

  private waitForToken(nowMs: number): void {
    if (this.cancelPumpTimer) return;
    this.cancelPumpTimer = this.clock.setTimer(() => {
      this.cancelPumpTimer = undefined;
      this.pump();
    }, this.tokens.msUntilToken(nowMs));
  }

  private start(key: string, nowMs: number): void {
    const entry = this.waiting.get(key);
    if (!entry) throw new Error(`work queue: ${key} was ready without an entry`);
    this.waiting.delete(key);
    this.ready[entry.lane].delete(key);
    this.running.add(key);
    const ctx: WorkContext = { nowMs, failures: this.failures.get(key) ?? 0 };
    let run: Promise<void>;
    try {
      // The token taken in pump() pays for the work's request (the client's limiter does not ask again).
      run = this.tokens.withToken ? this.tokens.withToken(() => entry.work(ctx)) : entry.work(ctx);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      () => this.succeeded(key, entry),
      (err: unknown) => this.failed(key, entry, err),
    );
  }

  private succeeded(key: string, entry: Entry): void {
    this.running.delete(key);
    this.failures.delete(key);
    this.retryAfterUntil.delete(key);
    for (const w of entry.waiters) w.resolve();
    this.afterRun();
  }

  private failed(key: string, entry: Entry, err: unknown): void {
    this.running.delete(key);
    const nowMs = this.clock.now();
    const advice = this.retryAdvice(err, nowMs);
    let retryInMs: number | undefined;
    if (advice.retry) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      if (advice.notBeforeMs !== undefined) this.retryAfterUntil.set(key, advice.notBeforeMs);
      const dueMs = Math.max(nowMs + backoffDelayMs(failures, this.options.backoff, this.random), advice.notBeforeMs ?? 0);
      retryInMs = dueMs - nowMs;
      this.requeue(key, entry, dueMs, Math.max(nowMs, advice.notBeforeMs ?? 0));
    } else {
      this.failures.delete(key);
      this.retryAfterUntil.delete(key);
    }
    this.options.onFailure?.(key, err, retryInMs);
    for (const w of entry.waiters) w.reject(err);
    this.afterRun();
  }

  /**
   * The failed work goes back for a retry at `retryDueMs`, unless a newer work for the key came
   * in while it ran: that one is new desired state and runs from `newDueMs` (Retry-After only).
   */
  private requeue(key: string, failed: Entry, retryDueMs: number, newDueMs: number): void {
    const newer = this.waiting.get(key);
    if (newer) {
      if (newer.dueMs < newDueMs) this.schedule(key, newer, newDueMs);
      return;
    }
    const entry: Entry = { work: failed.work, lane: failed.lane, waiters: [], dueMs: retryDueMs, cancelTimer: undefined };
    this.waiting.set(key, entry);
    this.schedule(key, entry, retryDueMs);
  }

  private afterRun(): void {
    this.pump();
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.waiting.size > 0 || this.running.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
