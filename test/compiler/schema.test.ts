import { describe, expect, it } from 'vitest';
import { isKnownKind, strictErrors, validateWithModels } from './support/schemas';
import { find, synthExamples, type Manifest } from './support/synth';

const charts = synthExamples();
const all = Object.entries(charts).flatMap(([chart, objects]) => objects.map((o) => ({ chart, o })));

describe('every synthesized object validates against its schema', () => {
  it('covers every kind the examples emit', () => {
    const unknown = all.filter(({ o }) => !isKnownKind(o)).map(({ o }) => `${o.apiVersion}/${o.kind}`);
    expect(unknown).toEqual([]);
    expect(new Set(all.map(({ o }) => o.kind)).size).toBeGreaterThanOrEqual(12);
  });

  for (const { chart, o } of all) {
    const label = `${chart}: ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    it(`${label} (kubernetes-models)`, () => {
      expect(() => validateWithModels(o)).not.toThrow();
    });
    it(`${label} (strict, no unknown fields)`, () => {
      expect(strictErrors(o)).toEqual([]);
    });
  }
});

describe('the strict check really rejects unknown fields', () => {
  const deployment = find(charts.hello, 'Deployment', 'hello-00001-deployment');
  const vs = find(charts.hello, 'VirtualService', 'hello-ingress');

  function withTypo(o: Manifest, mutate: (copy: any) => void): Manifest {
    const copy = JSON.parse(JSON.stringify(o));
    mutate(copy);
    return copy;
  }

  it('kubernetes-models alone lets an unknown container field through (why the strict check exists)', () => {
    const bad = withTypo(deployment, (d) => (d.spec.template.spec.containers[0].imagePullPolicyy = 'Always'));
    expect(() => validateWithModels(bad)).not.toThrow();
    expect(strictErrors(bad).join('\n')).toContain('imagePullPolicyy');
  });

  it('rejects an unknown field deep in a Deployment pod spec', () => {
    const bad = withTypo(deployment, (d) => (d.spec.template.spec.containers[1].readinessProbe.httpGett = {}));
    expect(strictErrors(bad).join('\n')).toMatch(/must NOT have additional properties \(httpGett\)/);
  });

  it('rejects an unknown top-level field', () => {
    const bad = withTypo(deployment, (d) => (d.specc = {}));
    expect(strictErrors(bad).join('\n')).toContain('specc');
  });

  it('rejects an unknown field in a VirtualService route', () => {
    const bad = withTypo(vs, (v) => (v.spec.http[0].route[0].wieght = 100));
    expect(strictErrors(bad).join('\n')).toContain('wieght');
  });

  it('kubernetes-models rejects wrong types', () => {
    const bad = withTypo(deployment, (d) => (d.spec.replicas = 'one'));
    expect(() => validateWithModels(bad)).toThrow(/replicas/);
  });
});
