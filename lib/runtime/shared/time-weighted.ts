/**
 * A time-weighted average of a level that steps up and down (requests in flight), per period:
 * what the queue-proxy (../queue-proxy/stats.ts) and the activator (../activator/revision-load.ts)
 * both report to the autoscaler (knative/networking pkg/http/stats/request.go `RequestStats`).
 * Time is passed in (ms), from whichever clock the caller keeps.
 */
export class TimeWeightedAverage {
  private level = 0;
  private area = 0;
  private lastChange: number;
  private periodStart: number;

  constructor(nowMs: number) {
    this.lastChange = nowMs;
    this.periodStart = nowMs;
  }

  /** The level now. */
  get current(): number {
    return this.level;
  }

  change(delta: number, nowMs: number): void {
    this.accumulate(nowMs);
    this.level += delta;
  }

  /**
   * Closes the period that ends now and starts the next: the average level over it (the level
   * itself for a period of no length).
   */
  closePeriod(nowMs: number): number {
    this.accumulate(nowMs);
    const length = nowMs - this.periodStart;
    const average = length > 0 ? this.area / length : this.level;
    this.area = 0;
    this.periodStart = nowMs;
    return average;
  }

  /** A wall clock may step back: no negative time is counted. */
  private accumulate(nowMs: number): void {
    this.area += this.level * Math.max(0, nowMs - this.lastChange);
    this.lastChange = nowMs;
  }
}
