import { describe, expect, it } from 'vitest';
import { isIdlePeriod, RevisionLoad } from '../../../lib/runtime/activator/revision-load';

describe('RevisionLoad', () => {
  it('averages concurrency over the period, weighted by time', () => {
    const s = new RevisionLoad(0);
    s.requestIn(0); // 1 for the whole second
    s.requestIn(500); // 2 for the second half
    expect(s.report(1000)).toEqual({ averageConcurrency: 1.5, requestCount: 2 });
  });

  it('starts the next period with what is still in flight and counts only new arrivals', () => {
    const s = new RevisionLoad(0);
    s.requestIn(0);
    s.report(1000);
    s.requestOut(1250);
    expect(s.report(2000)).toEqual({ averageConcurrency: 0.25, requestCount: 0 });
    expect(s.concurrency).toBe(0);
  });

  it('a period is idle only when nothing was in the activator at any moment of it', () => {
    const s = new RevisionLoad(0);
    expect(isIdlePeriod(s.report(1000))).toBe(true);
    s.requestIn(1500);
    s.requestOut(1500); // in and out within the same millisecond: no time in flight, one arrival
    expect(isIdlePeriod(s.report(2000))).toBe(false);
    s.requestIn(2999);
    expect(isIdlePeriod(s.report(3000))).toBe(false);
    // Still in flight through the whole next period, with no new arrival.
    expect(isIdlePeriod(s.report(4000))).toBe(false);
    s.requestOut(4000);
    expect(isIdlePeriod(s.report(5000))).toBe(true);
  });
});
