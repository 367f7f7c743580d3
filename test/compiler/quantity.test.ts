// Quantities as Knative and the API server write them (issue 17): lib/contract/quantity.ts (compared
// with the real k8s.io/apimachinery in test/oracle/quantity-apimachinery.test.ts, which needs Go;
// the expected texts here are that program's output) and every user quantity of the compiled
// Deployment in canonical form. Both front ends: test/shared/both-front-ends.test.ts.
import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { KService, ValidationError, type KServiceProps } from '../../lib';
import { canonicalQuantity, formatMilliBinarySI, isQuantity, parseMilli } from '../../lib/contract/quantity';
import { canonicalContainerQuantities, canonicalPodQuantities } from '../../lib/model/quantities';
import { find, synthChart } from './support/synth';

const QS = 'queue.sidecar.serving.knative.dev/';
const INT64_MAX = 2n ** 63n - 1n;

describe('canonicalQuantity (apimachinery resource.Quantity String())', () => {
  it.each<[string | number, string]>([
    ['1000m', '1'], [1, '1'], ['1', '1'], ['1.5', '1500m'], [1.5, '1500m'], ['0.1', '100m'], [0.1, '100m'], ['.5', '500m'],
    ['1e3', '1e3'], [1e3, '1k'], ['10e2', '1e3'], ['1Ki', '1Ki'], ['1024Mi', '1Gi'], ['1.5Gi', '1536Mi'], ['0.5Ki', '512'],
    ['2048Ki', '2Mi'], ['1000u', '1m'], ['100u', '100u'], ['0.5m', '500u'], ['1n', '1n'], ['0.1n', '1n'], ['1e-12', '1e-9'],
    ['1E', '1E'], ['1000k', '1M'], ['1.0', '1'], ['0', '0'], ['0.0', '0'], ['-0', '0'], ['0Ki', '0'], [' 2 ', '2'], ['-1.5', '-1500m'],
    // apimachinery keeps text it already finds canonical exactly as written ...
    ['+1', '+1'], ['01', '01'], ['1E3', '1E3'], ['5.', '5.'],
    // ... has no decimal-SI suffix above E, so the value's digits are printed alone ...
    ['1000E', '1'], ['1000000000000000000000', '1'],
    // ... and caps binary quantities at the largest int64.
    ['8Ei', '9223372036854775807'], ['1.5Ei', '1536Pi'],
  ])('%j is written %s', (input, written) => expect(canonicalQuantity(input)).toBe(written));

  it.each(['', 'lots', '1.2.3', '5 Mi', '1KiB', '1e', '1ki', '1e99999999999999999999', '.'])('"%s" is not a quantity', (text) => {
    expect(canonicalQuantity(text)).toBeUndefined();
    expect(isQuantity(text)).toBe(false);
  });

  it('a number that is not finite is not a quantity', () => {
    expect(canonicalQuantity(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(canonicalQuantity(Number.NaN)).toBeUndefined();
  });
});

describe('milli-units (the queue-proxy resource-percentage arithmetic)', () => {
  it.each([
    ['25m', 25n], ['1', 1000n], ['0.5', 500n], ['1Ki', 1024000n], ['1e3', 1000000n], ['1.5Gi', 1610612736000n], ['1n', 1n], ['.5', 500n],
    ['-0.5m', -1n], ['1Ei', INT64_MAX], ['1e30', INT64_MAX], ['-1e999999', -INT64_MAX],
  ])('%s is %d milli', (text, milli) => expect(parseMilli(text)).toBe(milli));
  it.each(['', 'lots', '1.2.3', '5 Mi', '1KiB'])('"%s" has no milli value', (text) => expect(parseMilli(text)).toBeUndefined());
  it.each([
    [25n, '25m'], [1000n, '1'], [500000n, '500'], [1024000n, '1Ki'], [1000000n, '1k'], [209715200000n, '200Mi'], [107374182400n, '107374182400m'],
  ])('%d milli prints as %s', (milli, text) => expect(formatMilliBinarySI(milli)).toBe(text));
});

/** The revision's Deployment of a KService built from these props. */
function deployment(props: Partial<KServiceProps>): any {
  const chart = new Chart(new App(), 'c');
  new KService(chart, 'svc', { containers: [{ image: 'ghcr.io/example/app:1' }], ...props } as KServiceProps);
  return find(synthChart(chart), 'Deployment', 'svc-00001-deployment');
}
const container = (d: any, name: string) => d.spec.template.spec.containers.find((c: any) => c.name === name);

describe('the compiled Deployment carries every user quantity in canonical form', () => {
  const props: Partial<KServiceProps> = {
    containers: [{
      image: 'ghcr.io/example/app:1',
      resources: {
        requests: { cpu: '1000m', memory: '1024Mi', 'ephemeral-storage': '1.5Gi', 'hugepages-2Mi': '2048Mi' },
        limits: { cpu: 1, memory: 0.5e9, 'hugepages-2Mi': '2Gi' },
      },
      env: [{ name: 'MEMORY_MB', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1024Ki' } } }],
      volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
    }],
    volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '2048Ki' } }],
    initContainers: [{ name: 'init', image: 'ghcr.io/example/init:1', resources: { limits: { cpu: '0.5', memory: 1048576 } } }],
  };

  it('container resources (cpu, memory, ephemeral-storage, hugepages), written as strings or numbers', () => {
    expect(container(deployment(props), 'user-container').resources).toEqual({
      requests: { cpu: '1', memory: '1Gi', 'ephemeral-storage': '1536Mi', 'hugepages-2Mi': '2Gi' },
      limits: { cpu: '1', memory: '500M', 'hugepages-2Mi': '2Gi' },
    });
  });

  it('init containers, emptyDir sizeLimit and resourceFieldRef divisor', () => {
    const spec = deployment(props).spec.template.spec;
    expect(spec.initContainers[0].resources).toEqual({ limits: { cpu: '500m', memory: '1048576' } });
    expect(spec.volumes).toEqual([{ name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '2Mi' } }]);
    expect(container({ spec: { template: { spec } } }, 'user-container').env[0]).toEqual({
      name: 'MEMORY_MB', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } },
    });
  });

  it('the props are left as the user wrote them', () => {
    const written = structuredClone(props);
    deployment(props);
    expect(props).toEqual(written);
  });

  it('queue-proxy: the queue.sidecar annotations and the config-deployment values', () => {
    const d = deployment({
      templateAnnotations: { [`${QS}cpu-resource-request`]: '0.05', [`${QS}memory-resource-limit`]: '1024Mi', [`${QS}ephemeral-storage-resource-request`]: '1000000k' },
      config: { queueSidecarResources: { cpuLimit: '1000m', memoryRequest: '0.25Gi' } },
    });
    expect(container(d, 'queue-proxy').resources).toEqual({
      requests: { cpu: '50m', memory: '256Mi', 'ephemeral-storage': '1G' },
      limits: { cpu: '1', memory: '1Gi' },
    });
    // Annotations stay as written: the API server stores them as strings.
    expect(d.spec.template.metadata.annotations[`${QS}cpu-resource-request`]).toBe('0.05');
  });

  it('a spelling that is already canonical is kept', () => {
    const d = deployment({ containers: [{ image: 'ghcr.io/example/app:1', resources: { requests: { cpu: '250m', memory: '64Mi' } } }] });
    expect(container(d, 'user-container').resources).toEqual({ requests: { cpu: '250m', memory: '64Mi' } });
  });

  it('a value that is not a quantity is reported, not rewritten', () => {
    expect(() => deployment({ containers: [{ image: 'ghcr.io/example/app:1', resources: { requests: { cpu: 'lots' } } }] })).toThrow(ValidationError);
    expect(canonicalContainerQuantities({ resources: { requests: { cpu: 'lots', memory: '1024Mi' } } })).toEqual({
      resources: { requests: { cpu: 'lots', memory: '1Gi' } },
    });
  });

  it('only the pod spec schema\'s quantity fields change', () => {
    const pod = { nodeSelector: { size: '1000m' }, volumes: [{ name: 'v', emptyDir: { sizeLimit: '1000m' } }], schedulerName: '1000m' };
    expect(canonicalPodQuantities(pod)).toEqual({ nodeSelector: { size: '1000m' }, volumes: [{ name: 'v', emptyDir: { sizeLimit: '1' } }], schedulerName: '1000m' });
  });
});
