import { describe, expect, it } from 'vitest';
import { AutoscalerMetrics } from '../../../lib/runtime/autoscaler/metrics';
import { parsePromText } from '../../../lib/runtime/shared/prom-text';

describe('AutoscalerMetrics.forget', () => {
  it('removes every series of a deleted revision, the cold-start histogram included, and only those', async () => {
    const m = new AutoscalerMetrics();
    for (const revision of ['gone', 'stays']) {
      const labels = { namespace: 'ns', revision };
      m.coldStart.observe(labels, 0.7);
      m.desiredPods.set(labels, 2);
      m.stableValue.set(labels, 1.5);
    }
    m.forget({ namespace: 'ns', revision: 'gone' });
    const samples = parsePromText(await m.registry.metrics());
    expect(samples.filter((s) => s.labels.revision === 'gone')).toEqual([]);
    const kept = new Set(samples.filter((s) => s.labels.revision === 'stays').map((s) => s.name));
    expect([...kept].sort()).toEqual([
      'kservice_autoscaler_desired_pods',
      'kservice_autoscaler_stable_value',
      'kservice_cold_start_seconds_bucket',
      'kservice_cold_start_seconds_count',
      'kservice_cold_start_seconds_sum',
    ]);
  });
});
