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

  /** Takes a token if one is there now. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is there now). */
  msUntilToken(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.qps);
  }

  private refill(nowMs: number): void {
    // A clock that steps back adds nothing (and takes nothing away).
    const elapsedMs = Math.max(0, nowMs - this.lastMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.qps) / 1000);
    this.lastMs = Math.max(this.lastMs, nowMs);
  }
}
