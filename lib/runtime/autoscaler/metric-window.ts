/**
 * A windowed average over fixed-size time buckets, as the autoscaler keeps one per metric and
 * window (knative/serving pkg/autoscaler/aggregation/bucketing.go: the bucket total divided by the
 * number of buckets since the first write, capped at the window; 0 if no data for a whole window).
 * Time is injected (epoch milliseconds), so the decider built on it is deterministic.
 *
 * Samples that fall into the same bucket are summed: the queue-proxies' and the activators' values
 * for one second add up to the revision's concurrency in that second.
 *
 * A second without a sample is missing data, wherever it falls: it is left out of the divisor.
 * (Knative's buckets count a gap between two writes as zeros, so after a 10 s activator outage in
 * a 60 s window the average would read a sixth below the load, and the revision could scale down
 * under load. The collector records no sample when it cannot trust one, collector.ts.)
 */
export class WindowedAverage {
  private readonly buckets = new Map<number, number>();
  private readonly windowBuckets: number;
  private lastBucket = NaN;

  constructor(readonly windowMs: number, readonly granularityMs = 1000) {
    if (!(windowMs >= granularityMs)) throw new RangeError(`window ${windowMs}ms is shorter than one bucket`);
    this.windowBuckets = Math.round(windowMs / granularityMs);
  }

  record(nowMs: number, value: number): void {
    const bucket = this.bucketOf(nowMs);
    // A gap of a whole window starts a fresh series: old data says nothing about now.
    if (this.isEmptyAt(bucket)) this.reset(bucket);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + value);
    if (bucket > this.lastBucket) this.lastBucket = bucket;
    this.prune(this.lastBucket);
  }

  /** True when nothing was recorded within the last window. */
  isEmpty(nowMs: number): boolean {
    return this.isEmptyAt(this.bucketOf(nowMs));
  }

  average(nowMs: number): number {
    const now = this.bucketOf(nowMs);
    if (this.isEmptyAt(now)) return 0;
    const since = Math.max(now, this.lastBucket) - this.windowBuckets;
    let total = 0;
    let counted = 0;
    for (const [b, v] of this.buckets) {
      if (b <= since) continue;
      total += v;
      counted++;
    }
    return counted > 0 ? total / counted : 0;
  }

  private isEmptyAt(bucket: number): boolean {
    return Number.isNaN(this.lastBucket) || bucket - this.lastBucket >= this.windowBuckets;
  }

  private reset(bucket: number): void {
    this.buckets.clear();
    this.lastBucket = bucket;
  }

  private prune(newest: number): void {
    for (const b of this.buckets.keys()) if (b <= newest - this.windowBuckets) this.buckets.delete(b);
  }

  private bucketOf(ms: number): number {
    return Math.floor(ms / this.granularityMs);
  }
}

/**
 * The maximum of the values recorded over the last `windowMs` (Knative's scale-down delay: a
 * decrease only takes effect once every decision in the delay window agrees with it).
 */
export class WindowedMax {
  private entries: Array<{ atMs: number; value: number }> = [];

  constructor(readonly windowMs: number) {}

  record(nowMs: number, value: number): void {
    this.entries = this.entries.filter((e) => e.atMs > nowMs - this.windowMs);
    this.entries.push({ atMs: nowMs, value });
  }

  current(): number {
    return this.entries.reduce((max, e) => Math.max(max, e.value), -Infinity);
  }
}
