import { describe, expect, it } from 'vitest';
import { RevisionScaler, SCALE_UNKNOWN, ScalerInput, ScalerSpec, applyBounds } from '../../../lib/runtime/autoscaler/scaler';

const S = 1000;
const SPEC: ScalerSpec = {
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  enableScaleToZero: true,
  stableWindowMs: 60 * S,
  scaleToZeroGracePeriodMs: 30 * S,
  scaleToZeroPodRetentionMs: 0,
  activationTimeoutMs: 630 * S,
  reachable: true,
};

function input(over: Partial<ScalerInput>): ScalerInput {
  return {
    nowMs: 0,
    desiredPods: 1,
    excessBurstCapacity: 0,
    readyPods: 1,
    currentReplicas: 1,
    proxySinceMs: undefined,
    ...over,
  };
}

interface Row {
  name: string;
  spec?: Partial<ScalerSpec>;
  /** Deployment replicas and ready pods when the scaler was created at t = 0. */
  start: { replicas: number; ready: number };
  step: Partial<ScalerInput>;
  want: { want: number; apply: number | undefined; mode: 'Serve' | 'Proxy'; activity: string };
}

const rows: Row[] = [
  {
    name: 'applies the decider value when it differs from the Deployment',
    start: { replicas: 1, ready: 1 },
    step: { desiredPods: 4 },
    want: { want: 4, apply: 4, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'nothing to write when replicas already match',
    start: { replicas: 2, ready: 2 },
    step: { desiredPods: 2, readyPods: 2, currentReplicas: 2 },
    want: { want: 2, apply: undefined, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'min-scale lifts the want',
    spec: { minScale: 2 },
    start: { replicas: 2, ready: 2 },
    step: { desiredPods: 0, readyPods: 2, currentReplicas: 1 },
    want: { want: 2, apply: 2, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'max-scale caps the want',
    spec: { maxScale: 3 },
    start: { replicas: 1, ready: 1 },
    step: { desiredPods: 10 },
    want: { want: 3, apply: 3, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'initial-scale acts as min until first reached',
    spec: { initialScale: 3 },
    start: { replicas: 3, ready: 0 },
    step: { desiredPods: 1, readyPods: 0, currentReplicas: 3 },
    want: { want: 3, apply: undefined, mode: 'Serve', activity: 'activating' },
  },
  {
    name: 'min-scale is ignored for an unreachable revision',
    spec: { minScale: 2, reachable: false },
    start: { replicas: 2, ready: 2 },
    step: { desiredPods: 1, readyPods: 2, currentReplicas: 2 },
    want: { want: 1, apply: 1, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'negative EBC puts the activator in the path',
    start: { replicas: 1, ready: 1 },
    step: { desiredPods: 1, excessBurstCapacity: -111 },
    want: { want: 1, apply: undefined, mode: 'Proxy', activity: 'active' },
  },
  {
    name: 'enable-scale-to-zero false keeps one pod',
    spec: { enableScaleToZero: false },
    start: { replicas: 1, ready: 1 },
    step: { nowMs: 500 * S, desiredPods: 0 },
    want: { want: 1, apply: undefined, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'active for less than the stable window: hold one pod',
    start: { replicas: 3, ready: 3 },
    step: { nowMs: 59 * S, desiredPods: 0, readyPods: 3, currentReplicas: 3 },
    want: { want: 1, apply: 1, mode: 'Serve', activity: 'active' },
  },
  {
    name: 'active for the stable window: turn Inactive and Proxy, keep the pod',
    start: { replicas: 1, ready: 1 },
    step: { nowMs: 60 * S, desiredPods: 0 },
    want: { want: 0, apply: undefined, mode: 'Proxy', activity: 'inactive' },
  },
  {
    name: 'unknown want on an inactive revision: Proxy, nothing written',
    start: { replicas: 0, ready: 0 },
    step: { desiredPods: SCALE_UNKNOWN, readyPods: 0, currentReplicas: 0 },
    want: { want: SCALE_UNKNOWN, apply: undefined, mode: 'Proxy', activity: 'inactive' },
  },
  {
    name: 'a request at zero: scale to 1, Activating, Proxy while no pod is ready',
    start: { replicas: 0, ready: 0 },
    step: { desiredPods: 1, readyPods: 0, currentReplicas: 0, excessBurstCapacity: -211 },
    want: { want: 1, apply: 1, mode: 'Proxy', activity: 'activating' },
  },
  {
    name: 'activation that outlives the progress deadline goes back to zero',
    start: { replicas: 1, ready: 0 },
    step: { nowMs: 630 * S, desiredPods: 0, readyPods: 0 },
    want: { want: 0, apply: 0, mode: 'Proxy', activity: 'inactive' },
  },
  {
    name: 'activation within the progress deadline: unknown, nothing written',
    start: { replicas: 1, ready: 0 },
    step: { nowMs: 100 * S, desiredPods: 0, readyPods: 0 },
    want: { want: SCALE_UNKNOWN, apply: undefined, mode: 'Serve', activity: 'activating' },
  },
];

describe('RevisionScaler (knative/serving pkg/reconciler/autoscaling/kpa/scaler.go)', () => {
  it.each(rows)('$name', (row) => {
    const scaler = new RevisionScaler({ ...SPEC, ...row.spec }, 0, row.start.replicas, row.start.ready);
    const out = scaler.step(input(row.step));
    expect({ want: out.want, apply: out.applyReplicas, mode: out.mode, activity: out.activity }).toEqual(row.want);
  });
});

describe('scale to zero from Inactive', () => {
  /** Turns a freshly active revision Inactive at 60 s and returns the scaler. */
  function inactiveAt60(spec: Partial<ScalerSpec> = {}) {
    const scaler = new RevisionScaler({ ...SPEC, ...spec }, 0, 1, 1);
    expect(scaler.step(input({ nowMs: 60 * S, desiredPods: 0 })).activity).toBe('inactive');
    return scaler;
  }
  const cases = [
    { name: 'not in Proxy yet: never', at: 200, proxySince: undefined, apply: undefined },
    { name: 'Proxy for less than the grace period', at: 80, proxySince: 60, apply: undefined },
    { name: 'Proxy for the grace period', at: 90, proxySince: 60, apply: 0 },
    { name: 'inactive for the grace period, Proxy only just acknowledged', at: 90, proxySince: 89, apply: 0 },
    { name: 'pod retention 60 s holds the last pod past the grace', at: 100, proxySince: 60, retention: 60, apply: undefined },
    { name: 'pod retention 60 s elapsed', at: 120, proxySince: 60, retention: 60, apply: 0 },
  ];
  it.each(cases)('$name', (c) => {
    const scaler = inactiveAt60({ scaleToZeroPodRetentionMs: (c.retention ?? 0) * S });
    const out = scaler.step(
      input({ nowMs: c.at * S, desiredPods: 0, proxySinceMs: c.proxySince === undefined ? undefined : c.proxySince * S }),
    );
    expect(out.applyReplicas).toBe(c.apply);
    expect(out.mode).toBe('Proxy');
  });

  it('a request while Inactive (pod kept) makes it Active again at once', () => {
    const scaler = inactiveAt60();
    const out = scaler.step(input({ nowMs: 70 * S, desiredPods: 1, proxySinceMs: 60 * S }));
    expect(out).toMatchObject({ want: 1, applyReplicas: undefined, activity: 'active' });
  });
});

describe('applyBounds', () => {
  it.each([
    [0, 0, 5, 5],
    [2, 0, 1, 2],
    [0, 3, 9, 3],
    [1, 3, -1, 1],
  ])('min %i max %i value %i → %i', (min, max, value, want) => {
    expect(applyBounds(min, max, value)).toBe(want);
  });
});
