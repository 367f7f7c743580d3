import { describe, expect, it } from 'vitest';
import {
  DeciderSpec,
  KpaDecider,
  excessBurstCapacity,
  numActivators,
} from '../../../lib/runtime/autoscaler/kpa';

const S = 1000;

/** Defaults of config-autoscaler with CC = 10 (target 7 would be CC × 0.7; 10 keeps rows readable). */
const BASE: DeciderSpec = {
  metric: 'concurrency',
  targetValue: 10,
  totalValue: 10,
  targetBurstCapacity: 0,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  stableWindowMs: 60 * S,
  panicWindowMs: 6 * S,
  activationScale: 1,
  scaleDownDelayMs: 0,
  reachable: true,
  activatorCapacity: 100,
};

/** One sample per second from `from` to `to` (inclusive), each `value`. */
type Load = { from: number; to: number; value: number };

interface Row {
  name: string;
  spec?: Partial<DeciderSpec>;
  /** Ready pods when the decider was created (more than 1 → starts in panic). */
  createdWith?: number;
  load: Load[];
  ready: number;
  at: number;
  want: { desired: number; panicking: boolean; ebc?: number; valid?: boolean };
}

const rows: Row[] = [
  {
    name: 'steady load: ceil(stable average / target)',
    load: [{ from: 0, to: 59, value: 50 }],
    ready: 5,
    at: 59,
    want: { desired: 5, panicking: false },
  },
  {
    name: 'rounds up: 10.1 in flight at target 10 needs 2 pods',
    load: [{ from: 0, to: 59, value: 10.1 }],
    ready: 2,
    at: 59,
    want: { desired: 2, panicking: false },
  },
  {
    name: 'a burst in the panic window at twice the ready pods panics; desired = max(stable, panic)',
    load: [
      { from: 0, to: 53, value: 10 },
      { from: 54, to: 59, value: 100 },
    ],
    ready: 1,
    at: 59,
    want: { desired: 10, panicking: true },
  },
  {
    name: 'just below the panic threshold stays calm (dppc / ready = 1.9); scale-down floor 10/2',
    load: [
      { from: 0, to: 53, value: 10 },
      { from: 54, to: 59, value: 190 },
    ],
    ready: 10,
    at: 59,
    want: { desired: 5, panicking: false },
  },
  {
    name: 'max scale up rate caps the growth: ceil(2 × 2 ready) = 4',
    spec: { maxScaleUpRate: 2 },
    load: [{ from: 0, to: 59, value: 100 }],
    ready: 2,
    at: 59,
    want: { desired: 4, panicking: true },
  },
  {
    name: 'max scale down rate floors the shrink: floor(10 ready / 2) = 5',
    load: [{ from: 0, to: 59, value: 0 }],
    ready: 10,
    at: 59,
    want: { desired: 5, panicking: false },
  },
  {
    name: 'an unreachable revision may drop to zero at once',
    spec: { reachable: false },
    load: [{ from: 0, to: 59, value: 0 }],
    ready: 10,
    at: 59,
    want: { desired: 0, panicking: false },
  },
  {
    name: 'zero ready pods count as one for the rates',
    load: [{ from: 0, to: 5, value: 30 }],
    ready: 0,
    at: 5,
    want: { desired: 3, panicking: true },
  },
  {
    name: 'activation scale raises a small non-zero want',
    spec: { activationScale: 3 },
    load: [{ from: 0, to: 59, value: 1 }],
    ready: 1,
    at: 59,
    want: { desired: 3, panicking: false },
  },
  {
    name: 'activation scale leaves zero at zero',
    spec: { activationScale: 3 },
    load: [{ from: 0, to: 59, value: 0 }],
    ready: 1,
    at: 59,
    want: { desired: 0, panicking: false },
  },
  {
    name: 'a decider created with 4 ready pods starts in panic and holds them',
    createdWith: 4,
    load: [{ from: 0, to: 10, value: 0 }],
    ready: 4,
    at: 10,
    want: { desired: 4, panicking: true },
  },
  {
    name: 'RPS metric uses the request rate (50 rps at target 20)',
    spec: { metric: 'rps', targetValue: 20, totalValue: 200 },
    load: [{ from: 0, to: 59, value: 5 }],
    ready: 3,
    at: 59,
    want: { desired: 3, panicking: false },
  },
  {
    name: 'EBC with TBC 211 and one pod of 100 is negative (activator stays in the path)',
    spec: { targetBurstCapacity: 211, totalValue: 100, targetValue: 70 },
    load: [{ from: 0, to: 59, value: 20 }],
    ready: 1,
    at: 59,
    want: { desired: 1, panicking: false, ebc: -131 },
  },
  {
    name: 'EBC with TBC 211 and 3 pods of 100 at 50 in flight is floor(300 - 211 - 50)',
    spec: { targetBurstCapacity: 211, totalValue: 100, targetValue: 70 },
    load: [{ from: 0, to: 59, value: 50 }],
    ready: 3,
    at: 59,
    want: { desired: 1, panicking: false, ebc: 39 },
  },
  {
    // A scrape outage (issue 18): 10 s without samples is missing data, not zero load.
    name: 'a 10 s gap in the samples keeps the load: no scale-down after the outage',
    load: [
      { from: 0, to: 39, value: 150 },
      { from: 50, to: 59, value: 150 },
    ],
    ready: 15,
    at: 59,
    want: { desired: 15, panicking: false },
  },
  {
    name: 'no sample in the panic window (still some in the stable one): EBC from the stable average, not from 0',
    spec: { targetBurstCapacity: 211, totalValue: 100, targetValue: 70 },
    load: [{ from: 0, to: 50, value: 50 }],
    ready: 3,
    at: 59,
    want: { desired: 1, panicking: false, ebc: 39 },
  },
  {
    name: 'no sample within the stable window: no decision',
    load: [{ from: 0, to: 0, value: 5 }],
    ready: 1,
    at: 60,
    want: { desired: -1, panicking: false, valid: false },
  },
];

describe('KpaDecider (knative/serving pkg/autoscaler/scaling/autoscaler.go)', () => {
  it.each(rows)('$name', (row) => {
    const spec = { ...BASE, ...row.spec };
    const decider = new KpaDecider(spec, 0, row.createdWith ?? 1);
    for (const { from, to, value } of row.load) {
      for (let t = from; t <= to; t++) decider.record(t * S, { concurrency: value, rps: value * 10 });
    }
    const d = decider.decide(row.at * S, row.ready);
    expect(d.valid).toBe(row.want.valid ?? true);
    expect(d.desiredPods).toBe(row.want.desired);
    expect(d.panicking).toBe(row.want.panicking);
    if (row.want.ebc !== undefined) expect(d.excessBurstCapacity).toBe(row.want.ebc);
  });

  it('never scales down while panicking, and leaves panic a stable window after the last surge', () => {
    const decider = new KpaDecider(BASE, 0, 1);
    const tick = (t: number, value: number, ready: number) => {
      decider.record(t * S, { concurrency: value, rps: 0 });
      return decider.decide(t * S, ready);
    };
    for (let t = 0; t < 10; t++) tick(t, 10, 1);
    const surge = tick(10, 200, 1);
    expect(surge).toMatchObject({ panicking: true });
    const peak = surge.desiredPods;
    expect(peak).toBeGreaterThan(1);
    // Load falls back; the panic window calms down, but the decider keeps the peak.
    let last = surge;
    for (let t = 11; t <= 70; t++) last = tick(t, 10, peak);
    expect(last).toMatchObject({ panicking: true, desiredPods: peak });
    // 60 s (the stable window) after the last over-threshold tick at 10 s: panic ends.
    last = tick(71, 10, peak);
    expect(last.panicking).toBe(false);
    expect(last.desiredPods).toBeLessThan(peak);
  });

  it('scale-down delay keeps the highest want of the delay window', () => {
    const decider = new KpaDecider({ ...BASE, scaleDownDelayMs: 10 * S, reachable: false }, 0, 1);
    for (let t = 0; t <= 59; t++) decider.record(t * S, { concurrency: 30, rps: 0 });
    expect(decider.decide(59 * S, 3).desiredPods).toBe(3);
    // Load vanishes for a whole stable window; the stable average reads 0 as soon as
    // zero samples fill it, but the delay window remembers 3 for 10 s.
    for (let t = 60; t <= 125; t++) decider.record(t * S, { concurrency: 0, rps: 0 });
    const before = decider.decide(65 * S, 3);
    expect(before.desiredPods).toBe(3);
    for (let t = 66; t <= 125; t++) decider.decide(t * S, 3);
    expect(decider.decide(126 * S, 3).desiredPods).toBe(0);
  });

  it('updateSpec keeps history when windows are unchanged', () => {
    const decider = new KpaDecider(BASE, 0, 1);
    for (let t = 0; t <= 59; t++) decider.record(t * S, { concurrency: 40, rps: 0 });
    decider.updateSpec({ ...BASE, targetValue: 20 });
    expect(decider.decide(59 * S, 2).desiredPods).toBe(2);
  });
});

describe('excess burst capacity and activator count (knative/serving pkg/autoscaler/scaling/autoscaler.go, pkg/reconciler/autoscaling/kpa/kpa.go)', () => {
  const cases = [
    { tbc: 0, ready: 5, total: 100, panic: 0, ebc: 0, activators: 2 },
    { tbc: -1, ready: 5, total: 100, panic: 0, ebc: -1, activators: 5 },
    { tbc: 211, ready: 0, total: 100, panic: 0, ebc: -211, activators: 3 },
    { tbc: 211, ready: 2, total: 100, panic: 0, ebc: -11, activators: 5 },
    { tbc: 211, ready: 3, total: 100, panic: 0, ebc: 89, activators: 6 },
    { tbc: 211, ready: 3, total: 100, panic: 89.5, ebc: -1, activators: 6 },
    { tbc: 10, ready: 1, total: 10, panic: 0, ebc: 0, activators: 2 },
  ];
  it.each(cases)('TBC $tbc, $ready × $total ready, panic $panic → EBC $ebc, $activators activators', (c) => {
    const spec = { ...BASE, targetBurstCapacity: c.tbc, totalValue: c.total };
    expect(excessBurstCapacity(spec, c.ready, c.panic)).toBe(c.ebc);
    expect(numActivators(spec, c.ready)).toBe(c.activators);
  });
});
