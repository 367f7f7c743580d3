import { describe, expect, it } from 'vitest';
import {
  AutoscalingAnnotations as A,
  autoscalerConfigFromData,
  autoscalerConfigToData,
  parseAutoscaling,
  parseGoDuration,
} from '../../lib/contract/autoscaling';
import { DEFAULT_AUTOSCALER_CONFIG, resolveServingConfig } from '../../lib/contract/config';

const config = resolveServingConfig();

describe('parseAutoscaling defaults (knative/serving pkg/autoscaler/config/config.go, pkg/reconciler/autoscaling/resources/target.go)', () => {
  it.each([
    // [containerConcurrency, annotations, totalValue, targetPerPod]
    [0, {}, 100, 70],
    [10, {}, 10, 7],
    [10, { [A.TARGET]: '50' }, 10, 7],
    [0, { [A.TARGET]: '50' }, 50, 35],
    [0, { [A.METRIC]: 'rps' }, 200, 140],
    [0, { [A.TARGET_UTILIZATION_PERCENTAGE]: '50' }, 100, 50],
  ])('CC=%s %j → total %s, per pod %s', (cc, annotations, total, perPod) => {
    const { value, problems } = parseAutoscaling(annotations, config, cc);
    expect(problems).toEqual([]);
    expect(value.totalValue).toBe(total);
    expect(value.targetPerPod).toBeCloseTo(perPod);
  });

  it('fills Knative defaults', () => {
    const { value } = parseAutoscaling({}, config, 0);
    expect(value).toMatchObject({
      class: 'kpa.autoscaling.knative.dev',
      metric: 'concurrency',
      stableWindowSeconds: 60,
      panicWindowSeconds: 6,
      panicThreshold: 2,
      targetBurstCapacity: 211,
      initialScale: 1,
      minScale: 0,
      maxScale: 0,
      activationScale: 1,
    });
  });

  it('defaults the metric to cpu for the HPA class', () => {
    expect(parseAutoscaling({ [A.CLASS]: 'hpa.autoscaling.knative.dev' }, config, 0).value.metric).toBe('cpu');
  });

  it('accepts legacy aliases', () => {
    const { value, problems } = parseAutoscaling(
      { 'autoscaling.knative.dev/minScale': '2', 'autoscaling.knative.dev/maxScale': '5' },
      config,
      0,
    );
    expect(problems).toEqual([]);
    expect([value.minScale, value.maxScale]).toEqual([2, 5]);
  });
});

describe('parseAutoscaling problems', () => {
  it.each([
    [{ [A.CLASS]: 'foo.knative.dev' }, A.CLASS, 'must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev'],
    [{ [A.METRIC]: 'cpu' }, A.METRIC, 'must be concurrency or rps for the KPA class'],
    [{ [A.TARGET]: '0' }, A.TARGET, 'must be at least 0.01, got 0'],
    [{ [A.TARGET_UTILIZATION_PERCENTAGE]: '101' }, A.TARGET_UTILIZATION_PERCENTAGE, 'must be at most 100, got 101'],
    [{ [A.MIN_SCALE]: 'two' }, A.MIN_SCALE, 'must be an integer, got "two"'],
    [{ [A.MIN_SCALE]: '3', [A.MAX_SCALE]: '2' }, A.MAX_SCALE, 'must be at least min-scale (3)'],
    [{ [A.INITIAL_SCALE]: '0' }, A.INITIAL_SCALE, 'must be at least 1 (allow-zero-initial-scale is false)'],
    [{ [A.ACTIVATION_SCALE]: '1' }, A.ACTIVATION_SCALE, 'must be at least 2, got 1'],
    [{ [A.WINDOW]: '5s' }, A.WINDOW, 'must be at least 6s, got 5s'],
    [{ [A.WINDOW]: '1.5s' }, A.WINDOW, 'must be a whole number of seconds'],
    [{ [A.SCALE_DOWN_DELAY]: '2h' }, A.SCALE_DOWN_DELAY, 'must be at most 3600s, got 7200s'],
    [{ [A.SCALE_DOWN_DELAY]: 'soon' }, A.SCALE_DOWN_DELAY, 'must be a duration such as "30s" or "1m30s", got "soon"'],
    [{ [A.PANIC_WINDOW_PERCENTAGE]: '0' }, A.PANIC_WINDOW_PERCENTAGE, 'must be at least 1, got 0'],
    [{ [A.PANIC_THRESHOLD_PERCENTAGE]: '100' }, A.PANIC_THRESHOLD_PERCENTAGE, 'must be at least 110, got 100'],
    [{ [A.TARGET_BURST_CAPACITY]: '-0.5' }, A.TARGET_BURST_CAPACITY, 'must be -1 or at least 0'],
    [{ 'autoscaling.knative.dev/bogus': '1' }, 'autoscaling.knative.dev/bogus', 'unknown autoscaling annotation'],
    [
      { [A.MIN_SCALE]: '1', 'autoscaling.knative.dev/minScale': '1' },
      'autoscaling.knative.dev/minScale',
      'duplicates autoscaling.knative.dev/min-scale; give only one of them',
    ],
  ])('%j → %s: %s', (annotations, path, message) => {
    expect(parseAutoscaling(annotations, config, 0).problems).toContainEqual({ path, message });
  });

  it('enforces max-scale-limit', () => {
    const limited = resolveServingConfig({ autoscaler: { maxScaleLimit: 10 } });
    expect(parseAutoscaling({}, limited, 0).problems).toEqual([
      { path: A.MAX_SCALE, message: '0 (unlimited) exceeds max-scale-limit 10' },
    ]);
    expect(parseAutoscaling({ [A.MAX_SCALE]: '11' }, limited, 0).problems[0].message).toBe(
      'must be at most max-scale-limit 10',
    );
  });
});

describe('Go durations and the config-autoscaler ConfigMap', () => {
  it.each([
    ['0', 0],
    ['30s', 30],
    ['1m30s', 90],
    ['1h', 3600],
    ['1500ms', 1.5],
    ['', undefined],
    ['10', undefined],
    ['1d', undefined],
  ])('parseGoDuration(%j) = %s', (s, seconds) => {
    expect(parseGoDuration(s)).toBe(seconds);
  });

  it('round-trips the defaults through ConfigMap data', () => {
    const data = autoscalerConfigToData(DEFAULT_AUTOSCALER_CONFIG);
    expect(data['stable-window']).toBe('60s');
    const back = autoscalerConfigFromData(data);
    expect(back.problems).toEqual([]);
    expect(back.value).toEqual(DEFAULT_AUTOSCALER_CONFIG);
  });

  it('reports malformed values by key', () => {
    expect(autoscalerConfigFromData({ 'stable-window': 'long', 'enable-scale-to-zero': 'yes' }).problems).toEqual([
      { path: 'stable-window', message: 'invalid duration "long"' },
      { path: 'enable-scale-to-zero', message: 'invalid boolean "yes"' },
    ]);
  });
});
