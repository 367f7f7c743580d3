import { describe, expect, it } from 'vitest';
import { WindowedAverage, WindowedMax } from '../../../lib/runtime/autoscaler/metric-window';

const S = 1000;

describe('WindowedAverage (1 s buckets)', () => {
  const cases: Array<{ name: string; window: number; writes: Array<[number, number]>; at: number; want: number }> = [
    { name: 'no data at all', window: 6, writes: [], at: 10, want: 0 },
    { name: 'one sample', window: 6, writes: [[0, 5]], at: 0, want: 5 },
    { name: 'averages only the buckets since the first write', window: 6, writes: [[0, 2], [1, 4]], at: 1, want: 3 },
    { name: 'samples in the same second are summed', window: 6, writes: [[0, 2], [0.5, 4]], at: 0.9, want: 6 },
    {
      name: 'caps the divisor at the window',
      window: 3,
      writes: [[0, 9], [1, 3], [2, 3], [3, 3]],
      at: 3,
      want: 3,
    },
    {
      name: 'seconds after the last write are missing data, not zeros',
      window: 6,
      writes: [[0, 6], [1, 6], [2, 6]],
      at: 4,
      want: 6,
    },
    {
      name: 'samples older than the window drop out of the total',
      window: 4,
      writes: [[0, 100], [1, 4], [2, 4], [3, 4]],
      at: 5,
      want: 4,
    },
    {
      name: 'a gap between writes is missing data, not zeros (a scrape outage)',
      window: 6,
      writes: [[0, 6], [1, 6], [4, 6], [5, 6]],
      at: 5,
      want: 6,
    },
    { name: 'nothing for a whole window reads 0', window: 6, writes: [[0, 6]], at: 6, want: 0 },
    {
      name: 'a write after a whole-window gap starts a new series',
      window: 3,
      writes: [[0, 90], [10, 3]],
      at: 10,
      want: 3,
    },
  ];
  it.each(cases)('$name', ({ window, writes, at, want }) => {
    const w = new WindowedAverage(window * S);
    for (const [t, v] of writes) w.record(t * S, v);
    expect(w.average(at * S)).toBeCloseTo(want, 9);
  });

  it('is empty until written and again after a silent window', () => {
    const w = new WindowedAverage(6 * S);
    expect(w.isEmpty(0)).toBe(true);
    w.record(1 * S, 1);
    expect(w.isEmpty(6.9 * S)).toBe(false);
    expect(w.isEmpty(7 * S)).toBe(true);
  });

  it('rejects a window shorter than a bucket', () => {
    expect(() => new WindowedAverage(500)).toThrow(RangeError);
  });
});

describe('WindowedMax', () => {
  it('keeps the largest value of the window and forgets older ones', () => {
    const m = new WindowedMax(10 * S);
    m.record(0, 7);
    m.record(2 * S, 3);
    expect(m.current()).toBe(7);
    m.record(10 * S, 2);
    expect(m.current()).toBe(3);
    m.record(12 * S, 1);
    expect(m.current()).toBe(2);
  });
});
