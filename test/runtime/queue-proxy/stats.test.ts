import { describe, expect, it } from 'vitest';
import { RequestStats } from '../../../lib/runtime/queue-proxy/stats';

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  return { clock: () => now, advance: (ms: number) => (now += ms) };
}

describe('RequestStats', () => {
  it('averages concurrency over time, weighted by how long each level lasted', () => {
    const { clock, advance } = manualClock();
    const stats = new RequestStats(clock);
    stats.requestStarted(false); // 1 for 250 ms
    advance(250);
    stats.requestStarted(false); // 2 for 500 ms
    stats.requestStarted(false);
    stats.requestFinished(false);
    advance(500);
    stats.requestFinished(false); // 1 for 250 ms
    advance(250);
    expect(stats.report()).toEqual({
      periodSeconds: 1,
      averageConcurrency: (1 * 250 + 2 * 500 + 1 * 250) / 1000,
      averageProxiedConcurrency: 0,
      requestCount: 3,
      proxiedRequestCount: 0,
    });
  });

  it('counts proxied requests apart as well as in the totals', () => {
    const { clock, advance } = manualClock();
    const stats = new RequestStats(clock);
    stats.requestStarted(true);
    stats.requestStarted(false);
    advance(1000);
    const report = stats.report();
    expect(report).toMatchObject({ averageConcurrency: 2, averageProxiedConcurrency: 1, requestCount: 2, proxiedRequestCount: 1 });
  });

  it('starts a new period with the requests still in flight and zero arrivals', () => {
    const { clock, advance } = manualClock();
    const stats = new RequestStats(clock);
    for (let i = 0; i < 5; i++) stats.requestStarted(false);
    advance(1000);
    stats.report();
    advance(500);
    for (let i = 0; i < 5; i++) stats.requestFinished(false);
    advance(500);
    expect(stats.report()).toMatchObject({ periodSeconds: 1, averageConcurrency: 2.5, requestCount: 0 });
    expect(stats.concurrency).toBe(0);
  });

  it('a request shorter than the period counts for the fraction it lasted', () => {
    const { clock, advance } = manualClock();
    const stats = new RequestStats(clock);
    advance(900);
    stats.requestStarted(false);
    advance(100);
    stats.requestFinished(false);
    expect(stats.report()).toMatchObject({ averageConcurrency: 0.1, requestCount: 1 });
  });
});
