import { describe, expect, it } from 'vitest';
import { synthExamples, toYaml } from './support/synth';

const charts = synthExamples();

describe('examples', () => {
  it('has one chart per example plus the serving system', () => {
    expect(Object.keys(charts).sort()).toEqual(
      ['canary', 'cluster-local', 'grpc', 'hello', 'hpa-class', 'serving-system', 'tuned-autoscaling'],
    );
  });

  for (const [name, objects] of Object.entries(charts)) {
    it(`${name} matches its committed manifest snapshot`, async () => {
      await expect(toYaml(objects)).toMatchFileSnapshot(`__snapshots__/${name}.k8s.yaml`);
    });
  }

  it('is deterministic: synthesizing twice gives identical YAML', () => {
    const again = synthExamples();
    for (const name of Object.keys(charts)) expect(toYaml(again[name])).toBe(toYaml(charts[name]));
  });
});
