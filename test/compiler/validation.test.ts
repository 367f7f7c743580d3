import { App, Chart, Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { AutoscalingClass, DataPlane, KService, ValidationError, type KServiceProps } from '../../lib';
import { serviceSpecOf } from '../../lib/constructs/kservice';
import { IMAGE } from './support/spec';

function problemsOf(props: Partial<KServiceProps>, id = 'svc'): { path: string; message: string }[] {
  const chart = new Chart(new App(), 'c');
  try {
    new KService(chart, id, { containers: [{ image: IMAGE }], ...props });
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect(chart.node.children).toEqual([]); // nothing half-synthesized
    return [...(e as ValidationError).problems];
  }
  throw new Error('expected a ValidationError');
}

const old = { name: 'svc-00001', containers: [{ image: IMAGE }] };

describe('bad input is reported with the property path', () => {
  it.each([
    { case: 'percents not summing to 100', props: { traffic: [{ latestRevision: true, percent: 90 }] }, path: 'traffic', message: 'percents must sum to 100, got 90' },
    { case: 'percent out of range', props: { traffic: [{ latestRevision: true, percent: 120 }, { revisionName: 'svc-00001', percent: -20 }], revisions: [old], generation: 2 }, path: 'traffic[0].percent', message: 'must be a whole number from 0 to 100, got 120' },
    { case: 'tag not a DNS label', props: { traffic: [{ latestRevision: true, percent: 100, tag: 'Bad_Tag' }] }, path: 'traffic[0].tag', message: '"Bad_Tag" must be a DNS-1035 label' },
    { case: 'tag host longer than 63', props: { traffic: [{ latestRevision: true, percent: 100, tag: 't'.repeat(60) }] }, path: 'traffic[0].tag', message: 'would be 64 characters long; at most 63 are allowed' },
    { case: 'duplicate tags', props: { generation: 2, revisions: [old], traffic: [{ latestRevision: true, percent: 100, tag: 'a' }, { revisionName: 'svc-00001', tag: 'a' }] }, path: 'traffic[1].tag', message: 'duplicate tag "a"' },
    { case: 'unknown revision in traffic', props: { traffic: [{ revisionName: 'svc-00042', percent: 100 }] }, path: 'traffic[0].revisionName', message: 'revision "svc-00042" is not known' },
    { case: 'revisionName and latestRevision both set', props: { revisions: [old], generation: 2, traffic: [{ revisionName: 'svc-00001', latestRevision: true, percent: 100 }] }, path: 'traffic[0]', message: 'set either revisionName or latestRevision: true, not both' },
    { case: 'two revisions with one name', props: { generation: 2, revisions: [old, old] }, path: 'revisions[1].name', message: 'two revisions are named "svc-00001"' },
    { case: 'an earlier revision named like the current one', props: { revisions: [old] }, path: 'revisions[0].name', message: 'two revisions are named "svc-00001" (also the current template\'s revision)' },
    { case: 'BYO revision name without the service prefix', props: { revisionName: 'other-v2' }, path: 'revisionName', message: 'must start with the service name and a dash ("svc-")' },
    { case: 'earlier revision name without the prefix', props: { generation: 2, revisions: [{ ...old, name: 'v1' }] }, path: 'revisions[0].name', message: 'must start with the service name and a dash' },
    { case: 'service name not a DNS label', props: { name: 'My_Service' }, path: 'name', message: '"My_Service" must be a DNS-1035 label' },
    { case: 'service name longer than 63', props: { name: 's'.repeat(64) }, path: 'name', message: 'at most 63 characters' },
    ...[8012, 8013, 8022, 9090, 9091, 8008, 8112].map((port) => ({
      case: `reserved port ${port}`, props: { containers: [{ image: IMAGE, port }] }, path: 'containers[0].port', message: `port ${port} is reserved`,
    })),
    { case: 'containerConcurrency above 1000', props: { containerConcurrency: 1001 }, path: 'containerConcurrency', message: 'must be a whole number from 0 to 1000, got 1001' },
    { case: 'containerConcurrency below 0', props: { containerConcurrency: -1 }, path: 'containerConcurrency', message: 'must be a whole number from 0 to 1000, got -1' },
    { case: 'timeout above 600s', props: { timeout: Duration.seconds(601) }, path: 'timeout', message: 'must be between 0 and 600 (max-revision-timeout-seconds), got 601' },
    { case: 'image reference that does not parse', props: { containers: [{ image: 'docker.io/{username}/app' }] }, path: 'containers[0].image', message: '"docker.io/{username}/app" is not an image reference Knative accepts: repository "{username}/app" may only contain lowercase letters, digits, "_", "-", "." and "/" (2 to 255 characters)' },
    { case: 'added capability', props: { containers: [{ image: 'ghcr.io/a/b', securityContext: { capabilities: { add: ['NET_ADMIN'] } } }] }, path: 'containers[0].securityContext.capabilities.add', message: "must not be set: Knative's default features (kubernetes.containerspec-addcapabilities: disabled) do not allow adding capabilities, got [NET_ADMIN]" },
    { case: 'bad queue-proxy resource config', props: { config: { queueSidecarResources: { memoryLimit: '1 GB' } } }, path: 'config.queueSidecarResources.memoryLimit', message: 'must be a Kubernetes quantity such as 25m or 800Mi, or \'\' for none, got "1 GB"' },
    { case: 'bad queue-proxy resource annotation', props: { templateAnnotations: { 'queue.sidecar.serving.knative.dev/memory-resource-limit': 'lots' } }, path: 'templateAnnotations["queue.sidecar.serving.knative.dev/memory-resource-limit"]', message: 'must be a Kubernetes quantity such as 100m or 256Mi, got "lots"' },
    { case: 'fractional timeout', props: { timeout: Duration.millis(1500) }, path: 'timeout', message: 'must be a whole number of seconds, got 1.5s' },
    { case: 'no containers', props: { containers: [] }, path: 'containers', message: 'at least one container is required' },
    { case: 'several containers, none serving', props: { containers: [{ image: 'a' }, { image: 'b' }] }, path: 'containers', message: 'exactly one must set a port' },
    { case: 'queue-proxy container name', props: { containers: [{ name: 'queue-proxy', image: IMAGE }] }, path: 'containers[0].name', message: 'is reserved for the sidecar' },
    { case: 'reserved env', props: { containers: [{ image: IMAGE, env: { PORT: '1' } }] }, path: 'containers[0].env.PORT', message: 'PORT is reserved' },
    { case: 'invalid typed autoscaling', props: { autoscaling: { minScale: 5, maxScale: 2 } }, path: 'autoscaling.maxScale', message: 'must be at least min-scale (5)' },
    { case: 'invalid raw autoscaling annotation', props: { templateAnnotations: { 'autoscaling.knative.dev/window': '2s' } }, path: 'templateAnnotations["autoscaling.knative.dev/window"]', message: 'must be at least 6s, got 2s' },
    { case: 'alias and canonical both given', props: { templateAnnotations: { 'autoscaling.knative.dev/minScale': '1', 'autoscaling.knative.dev/min-scale': '2' } }, path: 'templateAnnotations["autoscaling.knative.dev/min-scale"]', message: 'duplicates' },
    { case: 'unknown autoscaling class', props: { autoscaling: { class: AutoscalingClass.of('foo.autoscaling.knative.dev') } }, path: 'autoscaling.class', message: 'must be kpa.autoscaling.knative.dev or hpa.autoscaling.knative.dev' },
    { case: 'static data plane at zero', props: { dataPlane: DataPlane.STATIC }, path: 'dataPlane', message: 'data plane "static" needs min-scale >= 1' },
    { case: 'earlier revision template checked too', props: { generation: 2, revisions: [{ name: 'svc-00001', containers: [{ image: IMAGE, port: 9090 }], retain: true }] }, path: 'revisions[0].containers[0].port', message: 'port 9090 is reserved' },
  ])('$case', ({ props, path, message }) => {
    const problems = problemsOf(props as Partial<KServiceProps>);
    expect(problems.filter((p) => p.path === path).map((p) => p.message).join('\n')).toContain(message);
  });

  it('collects every problem into one error whose message names each field', () => {
    const chart = new Chart(new App(), 'c');
    const make = () => new KService(chart, 'svc', { containers: [{ image: IMAGE, port: 8012 }], containerConcurrency: 5000, traffic: [{ percent: 50 }] });
    expect(make).toThrow(ValidationError);
    expect(make).toThrow(/KService "svc" is invalid:\n {2}- containers\[0\]\.port: port 8012 is reserved.*\n {2}- containerConcurrency: .*\n {2}- traffic: percents must sum to 100, got 50/s);
  });

  it('DataPlane.STATIC is fine with min-scale >= 1 (also for the HPA class)', () => {
    expect(() => new KService(new Chart(new App(), 'c'), 'svc', { containers: [{ image: IMAGE }], dataPlane: DataPlane.STATIC, autoscaling: { class: AutoscalingClass.HPA, minScale: 1 } })).not.toThrow();
  });
});

describe('mutators', () => {
  it('addTraffic replaces the implicit default in one step and adds the revisions it routes', () => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', { containers: [{ image: IMAGE }], generation: 2 });
    svc.addRevision(old);
    expect(svc.revisions.map((r) => r.name)).toEqual(['svc-00002']); // unrouted, not retained
    svc.addTraffic({ revisionName: 'svc-00001', percent: 90 }, { latestRevision: true, percent: 10, tag: 'next' });
    expect(svc.revisions.map((r) => r.name)).toEqual(['svc-00002', 'svc-00001']);
    const kinds = chart.toJson().map((o: any) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).toContain('Deployment/svc-00001-deployment');
    expect(kinds).toContain('Service/next-svc');
  });

  it('a 0% tag is added next to the implicit default', () => {
    const svc = new KService(new Chart(new App(), 'c'), 'svc', { containers: [{ image: IMAGE }] });
    svc.addTraffic({ latestRevision: true, tag: 'latest' });
    expect(serviceSpecOf(svc).route.names.map((n) => n.tag)).toEqual(['', 'latest']);
  });

  it('a failing mutation leaves the service as it was', () => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', { containers: [{ image: IMAGE }] });
    const before = JSON.stringify(chart.toJson());
    expect(() => svc.addTraffic({ latestRevision: true, percent: 30 })).toThrow(/percents must sum to 100, got 30/);
    expect(JSON.stringify(chart.toJson())).toBe(before);
  });

  it('addEnv and addContainer update the template', () => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', { containers: [{ image: IMAGE, port: 8080 }] });
    svc.addEnv('GREETING', 'hi');
    svc.addContainer({ name: 'logger', image: 'log:1' });
    const d: any = chart.toJson().find((o: any) => o.kind === 'Deployment');
    const [user, logger, qp] = d.spec.template.spec.containers;
    expect(user.env.slice(0, 2)).toEqual([{ name: 'GREETING', value: 'hi' }, { name: 'PORT', value: '8080' }]);
    expect([logger.name, qp.name]).toEqual(['logger', 'queue-proxy']);
    expect(() => svc.addEnv('X', '1', 'nope')).toThrow('has no container named "nope"');
  });
});
