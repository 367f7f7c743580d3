import { describe, expect, it } from 'vitest';
import { synthExamples, toYaml } from './support/synth';

const charts = synthExamples();

describe('examples', () => {
  it('has one chart per example plus the serving system', () => {
    expect(Object.keys(charts).sort()).toEqual(
      ['canary', 'cluster-local', 'data-plane-modes', 'gateway-api', 'grpc', 'hello', 'hpa-class', 'serving-system', 'tuned-autoscaling'],
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

describe('runtime-owned addresses', () => {
  const objects = Object.values(charts).flat();
  const endpoints = objects.filter((o) => o.kind === 'Endpoints');

  it('every public Endpoints is declared without subsets, so re-applying never overwrites the runtime', () => {
    expect(endpoints.length).toBeGreaterThanOrEqual(6);
    for (const e of endpoints) expect(Object.keys(e).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
  });

  it('every public Service with runtime-owned Endpoints has no selector (Kubernetes would overwrite them)', () => {
    for (const e of endpoints) {
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === e.metadata.name && o.metadata.namespace === e.metadata.namespace) as any;
      expect(svc.spec.selector).toBeUndefined();
    }
  });
});
