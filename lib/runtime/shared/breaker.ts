/**
 * A concurrency breaker: at most `capacity` holders at once, at most `queueDepth` callers waiting
 * for a slot, the rest turned away at once. Used by the queue-proxy (capacity = containerConcurrency,
 * depth = 10 × CC) and by the activator (capacity follows the revision's ready pods).
 *
 * Hand-written (no npm semaphore fits): it needs a bounded FIFO queue, abort of single waiters and
 * a capacity that can change while requests wait.
 */

/** Raised by `acquire` when the wait queue is already full. Its message is Knative's 503 body. */
export class QueueFullError extends Error {
  constructor() {
    super('pending request queue full');
    this.name = 'QueueFullError';
  }
}

export interface BreakerProps {
  /** Holders allowed at once; `Infinity` = unlimited, 0 = everyone waits. */
  readonly capacity: number;
  /** Callers allowed to wait for a slot. */
  readonly queueDepth: number;
}

/** Gives a slot back; calling it more than once has no effect. */
export type Release = () => void;

interface Waiter {
  grant(): void;
}

export class Breaker {
  private capacityNow: number;
  private readonly queueDepth: number;
  private holders = 0;
  // A plain array is fine: queue depths are bounded and shift() on arrays of this size is cheap
  // compared with a network round trip.
  private readonly waiters: Waiter[] = [];

  constructor(props: BreakerProps) {
    assertCapacity(props.capacity);
    if (!(props.queueDepth >= 0)) throw new RangeError(`queueDepth must be >= 0, got ${props.queueDepth}`);
    this.capacityNow = props.capacity;
    this.queueDepth = props.queueDepth;
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.holders;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  get capacity(): number {
    return this.capacityNow;
  }

  /**
   * Waits for a slot (first come, first served). Rejects with `QueueFullError` at once when
   * `queueDepth` callers already wait, and with the signal's reason when aborted while waiting.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.waiters.length === 0 && this.holders < this.capacityNow) {
      return Promise.resolve(this.take());
    }
    if (this.waiters.length >= this.queueDepth) return Promise.reject(new QueueFullError());
    return this.enqueue(signal);
  }

  /** Changes how many may hold a slot; waiters move in at once when capacity grows. */
  setCapacity(capacity: number): void {
    assertCapacity(capacity);
    this.capacityNow = capacity;
    this.admitWaiters();
  }

  private enqueue(signal?: AbortSignal): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortReason(signal!));
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take());
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private take(): Release {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.admitWaiters();
    };
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.holders < this.capacityNow) {
      this.waiters.shift()!.grant();
    }
  }
}

function assertCapacity(capacity: number): void {
  if (!(capacity >= 0)) throw new RangeError(`capacity must be >= 0 or Infinity, got ${capacity}`);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}
