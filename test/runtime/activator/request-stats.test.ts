import { describe, expect, it } from 'vitest';
import { RequestStats } from '../../../lib/runtime/activator/request-stats';

describe('RequestStats', () => {
  it('averages concurrency over the period, weighted by time', () => {
    const s = new RequestStats(0);
    s.requestIn(0); // 1 for the whole second
    s.requestIn(500); // 2 for the second half
    expect(s.report(1000)).toEqual({ averageConcurrency: 1.5, requestCount: 2 });
  });

  it('starts the next period with what is still in flight and counts only new arrivals', () => {
    const s = new RequestStats(0);
    s.requestIn(0);
    s.report(1000);
    s.requestOut(1250);
    expect(s.report(2000)).toEqual({ averageConcurrency: 0.25, requestCount: 0 });
    expect(s.concurrency).toBe(0);
  });
});
