/**
 * A concurrency breaker: at most `capacity` holders at once, at most `queueDepth` callers waiting
 * for a slot, the rest turned away at once. Used by the queue-proxy (capacity = containerConcurrency,
 * depth = 10 × CC) and by the activator (capacity follows the revision's ready pods).
 *
 * Hand-written (no npm semaphore fits): it needs a bounded FIFO queue, abort of single waiters and
 * a capacity that can change while requests wait.
 */

/** A caller turned away because the wait queue is already full. Its message is Knative's 503 body. */
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

/** A queued caller (an object, so the same callback queued twice is two callers). */
interface Waiter {
  readonly onGrant: (release: Release) => void;
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

  /** A slot now, or undefined when the caller would have to wait. */
  tryAcquire(): Release | undefined {
    return this.waiters.length === 0 && this.holders < this.capacityNow ? this.take() : undefined;
  }

  /**
   * Queues for a slot (first come, first served): `onGrant` gets it later. Returns a function
   * that leaves the queue, or undefined when `queueDepth` callers already wait. Call `tryAcquire`
   * first: `wait` always queues. Callbacks, no promise or AbortSignal: this is the request path.
   */
  wait(onGrant: (release: Release) => void): (() => void) | undefined {
    if (this.waiters.length >= this.queueDepth) return undefined;
    const waiter: Waiter = { onGrant };
    this.waiters.push(waiter);
    return () => {
      const index = this.waiters.indexOf(waiter);
      if (index >= 0) this.waiters.splice(index, 1);
    };
  }

  /** Changes how many may hold a slot; waiters move in at once when capacity grows. */
  setCapacity(capacity: number): void {
    assertCapacity(capacity);
    this.capacityNow = capacity;
    this.admitWaiters();
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
      this.waiters.shift()!.onGrant(this.take());
    }
  }
}

function assertCapacity(capacity: number): void {
  if (!(capacity >= 0)) throw new RangeError(`capacity must be >= 0 or Infinity, got ${capacity}`);
}
