import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware as PromiseMiddleware, RequestContext, ResponseContext } from '@kubernetes/client-node';
import { Clock, systemClock } from '../shared/clock';
import { TokenBucket } from '../shared/token-bucket';

/**
 * One rate limit for every API request of a kube client, as client-go gives each REST client one
 * token bucket (k8s.io/client-go rest.Config QPS/Burst; rest/request.go tryThrottle): the
 * informers' lists, the Lease reads and writes, the scale and Endpoints writes. Watches are not
 * counted (they are long-lived streams and client-node opens them outside the generated clients).
 *
 * Lease requests are never starved by the rest: they wait ahead of every other request, and a
 * share of the bucket (`reservedForLeases` tokens) is theirs alone: the other requests take a
 * token only while that many more stay behind. So a backlog of lists or writes leaves the Leases
 * their reserve at once, and a Lease waits at most for its own predecessors; the total over any T
 * seconds stays within burst + qps × T.
 *
 * The write queue (./work-queue.ts) takes its tokens here too, synchronously (`tryTake`) when it
 * starts a work, then runs the work with that token prepaid (`withToken`): the work's first
 * request does not take a second one.
 */
export type RequestClass = 'lease' | 'other';

export interface ClientRate {
  readonly qps: number;
  readonly burst: number;
}

/** What the write queue needs of a rate limit: take a token now or learn when one is there. */
export interface TokenSource {
  tryTake(nowMs: number): boolean;
  msUntilToken(nowMs: number): number;
  /** Runs `fn` as holding a token already taken with `tryTake`. */
  withToken?<T>(fn: () => T): T;
}

/** A quarter of the burst (at least 1 when the burst allows it) held back for Lease requests. */
export function defaultLeaseReserve(burst: number): number {
  return Math.min(burst - 1, Math.max(1, Math.floor(burst / 4)));
}

export class ClientRateLimiter implements TokenSource {
  private readonly clock: Clock;
  private readonly bucket: TokenBucket;
  private readonly reserved: number;
  private readonly waiting: Record<RequestClass, Array<() => void>> = { lease: [], other: [] };
  private cancelTimer: (() => void) | undefined;
  /** Set inside a work that already took its token (`withToken`): tokens its requests need not take. */
  private readonly prepaid = new AsyncLocalStorage<{ tokens: number }>();

  constructor(rate: ClientRate, options: { clock?: Clock; reservedForLeases?: number } = {}) {
    this.clock = options.clock ?? systemClock;
    this.bucket = new TokenBucket(rate.qps, rate.burst, this.clock.now());
    const reserved = options.reservedForLeases ?? defaultLeaseReserve(rate.burst);
    if (!(Number.isInteger(reserved) && reserved >= 0 && reserved < rate.burst)) {
      throw new RangeError(`rate limiter: the Lease reserve must be a whole number from 0 to burst - 1 (${rate.burst - 1}), got ${reserved}`);
    }
    this.reserved = reserved;
  }

  /** Requests waiting for a token. */
  get waitingRequests(): number {
    return this.waiting.lease.length + this.waiting.other.length;
  }

  /** Resolves when the request may be sent: at once with a prepaid token, else when a token is its. */
  acquire(what: RequestClass): Promise<void> {
    const prepaid = this.prepaid.getStore();
    if (prepaid && prepaid.tokens > 0) {
      prepaid.tokens--;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting[what].push(resolve);
      this.drain();
    });
  }

  /** A token for a request other than a Lease's, if one is free now and nobody waits before it. */
  tryTake(nowMs: number): boolean {
    return this.waitingRequests === 0 && this.bucket.tryTake(nowMs, this.reserved);
  }

  /** Milliseconds until `tryTake` may succeed (behind the requests waiting now). */
  msUntilToken(nowMs: number): number {
    return this.bucket.msUntilToken(nowMs, this.reserved + this.waitingRequests);
  }

  withToken<T>(fn: () => T): T {
    return this.prepaid.run({ tokens: 1 }, fn);
  }

  /** For the generated API clients (./client.ts): every request they send waits here first. */
  middleware(): PromiseMiddleware {
    return {
      pre: async (context: RequestContext) => {
        await this.acquire(isLeaseRequest(context.getUrl()) ? 'lease' : 'other');
        return context;
      },
      post: (context: ResponseContext) => Promise.resolve(context),
    };
  }

  /** Hands out tokens in order, Leases first; sleeps until the next token when none is free. */
  private drain(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const nowMs = this.clock.now();
    for (;;) {
      const what: RequestClass | undefined = this.waiting.lease.length > 0 ? 'lease' : this.waiting.other.length > 0 ? 'other' : undefined;
      if (what === undefined) return;
      const keep = what === 'lease' ? 0 : this.reserved;
      if (!this.bucket.tryTake(nowMs, keep)) {
        this.cancelTimer = this.clock.setTimer(() => this.drain(), this.bucket.msUntilToken(nowMs, keep));
        return;
      }
      this.waiting[what].shift()!();
    }
  }
}

/** coordination.k8s.io requests: the Leases of leader election and of the autoscaler's buckets. */
function isLeaseRequest(url: string): boolean {
  return new URL(url).pathname.startsWith('/apis/coordination.k8s.io/');
}
