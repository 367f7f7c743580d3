// The one parse (lib/model/parse.ts): every problem at once, each with its path as segments; the
// resolved spec carries what the builders need (serving container, data plane and where it came
// from, queue-sidecar resources, traffic targets); one rule shape (lib/problems.ts FieldErrors).
import { describe, expect, it } from 'vitest';
import { DataPlane, type KServiceProps } from '../../lib/model/kservice-props';
import { parseService } from '../../lib/model/parse';
import { FieldErrors } from '../../lib/problems';
import { IMAGE } from './support/spec';

const parse = (props: Partial<KServiceProps>) => parseService({ containers: [{ image: IMAGE }], ...props } as KServiceProps, 'svc');

describe('FieldErrors, the one rule shape', () => {
  it('also joins in order; via puts errors under a field, index or key', () => {
    const errors = FieldErrors.of('a', 'percent').also(undefined, FieldErrors.of('b')).via('traffic', 1);
    expect(errors.problems).toEqual([
      { segments: ['traffic', 1, 'percent'], path: 'traffic[1].percent', message: 'a' },
      { segments: ['traffic', 1], path: 'traffic[1]', message: 'b' },
    ]);
  });

  it('quotes keys that are not identifiers in the text path only', () => {
    const [p] = FieldErrors.of('x', 'templateAnnotations', 'autoscaling.knative.dev/min-scale').problems;
    expect(p.segments).toEqual(['templateAnnotations', 'autoscaling.knative.dev/min-scale']);
    expect(p.path).toBe('templateAnnotations["autoscaling.knative.dev/min-scale"]');
  });

  it('none stays empty through via and also', () => {
    expect(FieldErrors.none.via('a').also(FieldErrors.none).empty).toBe(true);
  });
});

describe('parseService', () => {
  it('reports problems of the template, an earlier revision and the traffic in one go, with segments', () => {
    const { problems } = parse({
      generation: 2,
      containerConcurrency: 2000,
      revisions: [{ name: 'svc-00001', containers: [{ image: IMAGE, port: 8012 }] }],
      traffic: [{ revisionName: 'svc-00001', percent: 50 }, { latestRevision: true, percent: 40, tag: 'Bad' }],
    });
    expect(problems.map((p) => p.segments)).toEqual([
      ['containerConcurrency'],
      ['revisions', 0, 'containers', 0, 'port'],
      ['traffic', 1, 'tag'],
      ['traffic'],
    ]);
  });

  it('a wrong JavaScript type stops before any rule reads it (no spec)', () => {
    const { spec, problems } = parse({ timeout: 30 as never, containerConcurrency: 2000 });
    expect(spec).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual(['timeout']);
  });

  it('a broken config stops before the rules that read it, at config paths', () => {
    const { spec, problems } = parse({ config: { tagTemplate: '{{.Nope}}' }, traffic: [{ latestRevision: true, percent: 100, tag: 't' }] });
    expect(spec).toBeUndefined();
    expect(problems.map((p) => p.segments)).toEqual([['config', 'tagTemplate']]);
  });

  it('the spec says which container serves, which data plane and where it was chosen, and the resolved targets', () => {
    const { spec, problems } = parse({
      generation: 2,
      containers: [{ image: IMAGE, name: 'side' }, { image: IMAGE, name: 'app', port: 9000 }],
      revisions: [{ name: 'svc-00001', containers: [{ image: IMAGE }], dataPlane: DataPlane.STATIC, autoscaling: { minScale: 1 } }],
      traffic: [{ revisionName: 'svc-00001', percent: 10 }, { percent: 90 }],
    });
    expect(problems).toEqual([]);
    const [current, earlier] = spec!.revisions;
    expect(current.servingContainerIndex).toBe(1);
    expect(current.servingContainerName).toBe('app');
    expect([current.dataPlane, current.dataPlaneSource]).toEqual(['full', ['dataPlane']]);
    expect([earlier.dataPlane, earlier.dataPlaneSource]).toEqual(['static', ['revisions', 0, 'dataPlane']]);
    expect(spec!.route.targets).toEqual([
      { tag: '', revisionName: 'svc-00001', percent: 10, latestRevision: false },
      { tag: '', revisionName: 'svc-00002', percent: 90, latestRevision: true },
    ]);
  });

  it('a mode problem is reported where the mode was chosen: the service default for an earlier revision', () => {
    const { problems } = parse({
      generation: 2,
      dataPlane: DataPlane.DIRECT,
      autoscaling: { minScale: 1, maxScale: 1 },
      revisions: [{ name: 'svc-00001', containers: [{ image: IMAGE }], retain: true }],
    });
    expect(problems.map((p) => p.path)).toEqual(['dataPlane']);
    expect(problems[0].message).toMatch(/^data plane "direct" needs min-scale >= 1 .*revision "svc-00001" has min-scale 0$/);
  });

  it('queue-sidecar resources are resolved in the spec: config, then resource-percentage, then the annotations', () => {
    const { spec } = parse({
      containers: [{ image: IMAGE, resources: { requests: { cpu: '500m' } } }],
      templateAnnotations: {
        'queue.sidecar.serving.knative.dev/resource-percentage': '10',
        'queue.sidecar.serving.knative.dev/memory-resource-limit': '1Gi',
      },
    });
    expect(spec!.revisions[0].queueSidecarResources).toEqual({ requests: { cpu: '50m', memory: '400Mi' }, limits: { memory: '1Gi' } });
  });
});
