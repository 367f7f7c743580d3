/**
 * A token bucket: `burst` tokens at most, refilled at `qps` per second; one token per API request.
 * The same limiter client-go puts in every REST client (k8s.io/client-go rest.Config QPS/Burst,
 * util/flowcontrol.NewTokenBucketRateLimiter, which wraps golang.org/x/time/rate). Over any window
 * of T seconds it lets through at most burst + qps × T requests.
 *
 * Pure: the caller passes the time, so the arithmetic is tested without waiting. Written here
 * rather than taken from npm because the npm limiters read the wall clock themselves.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    if (!(qps > 0)) throw new RangeError(`token bucket: qps must be > 0, got ${qps}`);
    if (!(Number.isInteger(burst) && burst >= 1)) throw new RangeError(`token bucket: burst must be a whole number >= 1, got ${burst}`);
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /**
   * Takes a token if one is there now and `keep` more stay behind (a share held back for
   * requests that must not wait, ../kube/rate-limiter.ts).
   */
  tryTake(nowMs: number, keep = 0): boolean {
    this.refill(nowMs);
    if (this.tokens < 1 + keep) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there with `keep` more behind it (0: now). Infinity if the bucket never holds that many. */
  msUntilToken(nowMs: number, keep = 0): number {
    this.refill(nowMs);
    const needed = 1 + keep;
    if (needed > this.burst) return Infinity;
    return this.tokens >= needed ? 0 : Math.ceil(((needed - this.tokens) * 1000) / this.qps);
  }

  private refill(nowMs: number): void {
    // A clock that steps back adds nothing (and takes nothing away).
    const elapsedMs = Math.max(0, nowMs - this.lastMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.qps) / 1000);
    this.lastMs = Math.max(this.lastMs, nowMs);
  }
}
