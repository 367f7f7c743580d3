/**
 * Per-revision data-plane modes (issue 13): which objects each mode emits and how they differ, in
 * the style of Knative's resources tests (one table row per mode, the expected objects spelled
 * out), the mode rules both front ends share (lib/model/data-plane.ts), and the choice of mode
 * (typed prop, template annotation, service default).
 */
import { App, Chart, Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { AutoscalingClass, DataPlane, KService, ValidationError, type KServiceProps } from '../../lib';
import { buildRbac } from '../../lib/builders/rbac';
import { DATA_PLANE_ANNOTATION } from '../../lib/contract/autoscaling';
import { PRE_STOP_SLEEP_SECONDS, RevisionAnnotations } from '../../lib/contract/constants';
import { strictErrors, validateWithModels } from './support/schemas';
import { IMAGE, serviceSpec } from './support/spec';
import { synthChart, toYaml, type Manifest } from './support/synth';

const REV = 'svc-00001';
const FIXED = { minScale: 2, maxScale: 2 };

function synth(props: Partial<KServiceProps>): Manifest[] {
  const chart = new Chart(new App(), 'c');
  new KService(chart, 'svc', { containers: [{ image: IMAGE }], ...props });
  return synthChart(chart);
}

function problemsOf(props: Partial<KServiceProps>): { path: string; message: string }[] {
  try {
    synth(props);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return [...(e as ValidationError).problems];
  }
  throw new Error('expected a ValidationError');
}

const get = (objects: Manifest[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as any;

/** What one revision's objects look like, reduced to the facts that vary by mode. */
function shapeOf(objects: Manifest[]) {
  const deployment = get(objects, 'Deployment', `${REV}-deployment`);
  const pod = deployment.spec.template.spec;
  const user = pod.containers.find((c: any) => c.name === 'user-container');
  const publicService = get(objects, 'Service', REV);
  const privateService = get(objects, 'Service', `${REV}-private`);
  return {
    kinds: objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    containers: pod.containers.map((c: any) => c.name),
    mode: deployment.metadata.annotations[DATA_PLANE_ANNOTATION],
    replicas: deployment.spec.replicas,
    grace: pod.terminationGracePeriodSeconds,
    preStop: user.lifecycle.preStop,
    readinessProbe: user.readinessProbe,
    publicSelector: publicService.spec.selector,
    publicPorts: publicService.spec.ports.map((p: any) => `${p.port}->${p.targetPort}`),
    privatePorts: privateService.spec.ports.map((p: any) => `${p.port}->${p.targetPort}`),
  };
}

const DRAIN_PRE_STOP = { httpGet: expect.objectContaining({ path: '/wait-for-drain', port: 8022 }) };
const SLEEP_PRE_STOP = { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } };
const QUEUE_PRIVATE_PORTS = ['80->8012', '443->8112', '9090->http-autometric', '9091->http-usermetric', '8012->8012'];
const SELECTOR = { 'serving.knative.dev/revision': REV };
const WITH_ENDPOINTS = ['Deployment/svc-00001-deployment', 'Endpoints/svc-00001', 'Service/svc-00001', 'Service/svc-00001-private'];
const WITHOUT_ENDPOINTS = WITH_ENDPOINTS.filter((k) => !k.startsWith('Endpoints/'));
const ROUTE_OBJECTS = ['Service/svc', 'VirtualService/svc-ingress', 'VirtualService/svc-mesh'];

describe('objects per data-plane mode', () => {
  it.each([
    {
      mode: DataPlane.FULL,
      props: {},
      want: {
        kinds: [...WITH_ENDPOINTS, ...ROUTE_OBJECTS].sort(),
        containers: ['user-container', 'queue-proxy'],
        mode: undefined,
        replicas: undefined,
        grace: 300,
        preStop: DRAIN_PRE_STOP,
        readinessProbe: undefined, // the queue-proxy runs it
        publicSelector: undefined,
        publicPorts: ['80->8012', '443->8112'],
        privatePorts: QUEUE_PRIVATE_PORTS,
      },
    },
    {
      mode: DataPlane.ACTIVATOR,
      props: { dataPlane: DataPlane.ACTIVATOR },
      want: {
        kinds: [...WITH_ENDPOINTS, ...ROUTE_OBJECTS].sort(),
        containers: ['user-container'],
        mode: 'activator',
        replicas: undefined, // the autoscaler scales it
        grace: 300 + PRE_STOP_SLEEP_SECONDS,
        preStop: SLEEP_PRE_STOP,
        readinessProbe: { tcpSocket: { port: 8080 }, successThreshold: 1 }, // Knative's default, port filled
        publicSelector: undefined, // the runtime keeps the activators in its Endpoints
        publicPorts: ['80->8012', '443->8112'], // the activator's ports
        privatePorts: ['80->8080', '8080->8080'],
      },
    },
    {
      mode: DataPlane.DIRECT,
      props: { dataPlane: DataPlane.DIRECT, autoscaling: FIXED },
      want: {
        kinds: [...WITHOUT_ENDPOINTS, ...ROUTE_OBJECTS].sort(),
        containers: ['user-container'],
        mode: 'direct',
        replicas: 2,
        grace: 300 + PRE_STOP_SLEEP_SECONDS,
        preStop: SLEEP_PRE_STOP,
        readinessProbe: { tcpSocket: { port: 8080 }, successThreshold: 1 },
        publicSelector: SELECTOR,
        publicPorts: ['80->8080'],
        privatePorts: ['80->8080', '8080->8080'],
      },
    },
    {
      mode: DataPlane.STATIC,
      props: { dataPlane: DataPlane.STATIC, autoscaling: FIXED },
      want: {
        kinds: [...WITHOUT_ENDPOINTS, ...ROUTE_OBJECTS].sort(),
        containers: ['user-container', 'queue-proxy'],
        mode: 'static',
        replicas: 2,
        grace: 300,
        preStop: DRAIN_PRE_STOP,
        readinessProbe: undefined,
        publicSelector: SELECTOR,
        publicPorts: ['80->8012', '443->8112'],
        privatePorts: QUEUE_PRIVATE_PORTS,
      },
    },
  ])('$mode', ({ props, want }) => {
    expect(shapeOf(synth(props as Partial<KServiceProps>))).toEqual(want);
  });

  it('activator: the Deployment carries the settings the queue-proxy env would (the activator enforces them)', () => {
    const objects = synth({
      dataPlane: DataPlane.ACTIVATOR,
      containerConcurrency: 3,
      timeout: Duration.seconds(40),
      responseStartTimeout: Duration.seconds(10),
      idleTimeout: Duration.seconds(20),
    });
    const d = get(objects, 'Deployment', `${REV}-deployment`);
    expect(d.metadata.annotations).toMatchObject({
      [DATA_PLANE_ANNOTATION]: 'activator',
      [RevisionAnnotations.CONTAINER_CONCURRENCY]: '3',
      [RevisionAnnotations.TIMEOUT_SECONDS]: '40',
      [RevisionAnnotations.RESPONSE_START_TIMEOUT_SECONDS]: '10',
      [RevisionAnnotations.IDLE_TIMEOUT_SECONDS]: '20',
    });
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBe(40 + PRE_STOP_SLEEP_SECONDS);
    // Only on the Deployment, where the runtime reads them; the pods and Services do not carry them.
    expect(Object.keys(d.spec.template.metadata.annotations)).not.toContain(DATA_PLANE_ANNOTATION);
    expect(Object.keys(get(objects, 'Service', REV).metadata.annotations)).not.toContain(RevisionAnnotations.TIMEOUT_SECONDS);
  });

  it('direct: no RevisionAnnotations (nothing enforces them), no queue-proxy resources', () => {
    const d = get(synth({ dataPlane: DataPlane.DIRECT, autoscaling: FIXED, containerConcurrency: 3 }), 'Deployment', `${REV}-deployment`);
    for (const key of Object.values(RevisionAnnotations)) expect(d.metadata.annotations).not.toHaveProperty([key]);
    expect(JSON.stringify(d)).not.toContain('queue-proxy');
  });

  it('sidecar-less modes keep the user readiness probe with the port filled, and every container drains with the sleep', () => {
    const objects = synth({
      dataPlane: DataPlane.ACTIVATOR,
      containers: [
        { image: IMAGE, port: 8081, readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 2 } },
        { name: 'side', image: 'side:1', readinessProbe: { tcpSocket: { port: 9000 } } },
      ],
    });
    const [serving, side] = get(objects, 'Deployment', `${REV}-deployment`).spec.template.spec.containers;
    expect(serving.readinessProbe).toEqual({ httpGet: { path: '/ready', port: 8081 }, periodSeconds: 2, successThreshold: 1, failureThreshold: 3, timeoutSeconds: 1 });
    expect(side.readinessProbe).toEqual({ tcpSocket: { port: 9000 } });
    expect(side.lifecycle).toEqual({ preStop: SLEEP_PRE_STOP });
    expect(get(objects, 'Service', `${REV}-private`).spec.ports.map((p: any) => p.targetPort)).toEqual([8081, 8081]);
  });

  it('direct + h2c: the public Service speaks h2c straight to the app port', () => {
    const ports = get(synth({ dataPlane: DataPlane.DIRECT, autoscaling: FIXED, containers: [{ image: IMAGE, port: 8080, portName: 'h2c' }] }), 'Service', REV).spec.ports;
    expect(ports).toEqual([{ name: 'http2', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 81, targetPort: 8080 }]);
  });

  it('an app on port 80 gets no Istio mirror port (it would repeat port 80)', () => {
    const ports = get(synth({ dataPlane: DataPlane.ACTIVATOR, containers: [{ image: IMAGE, port: 80 }] }), 'Service', `${REV}-private`).spec.ports;
    expect(ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }]);
  });

  it('direct + HPA class: the HPA scales it, no replicas declared, no Endpoints', () => {
    const objects = synth({ dataPlane: DataPlane.DIRECT, autoscaling: { class: AutoscalingClass.HPA, minScale: 1, maxScale: 5 } });
    expect(get(objects, 'HorizontalPodAutoscaler', REV).spec).toMatchObject({ minReplicas: 1, maxReplicas: 5 });
    expect(get(objects, 'Deployment', `${REV}-deployment`).spec).not.toHaveProperty('replicas');
    expect(get(objects, 'Endpoints', REV)).toBeUndefined();
  });

  it('fixed replicas: initial-scale kept within min..max', () => {
    const replicas = (autoscaling: object) => get(synth({ dataPlane: DataPlane.DIRECT, autoscaling }), 'Deployment', `${REV}-deployment`).spec.replicas;
    expect(replicas({ minScale: 3, maxScale: 3 })).toBe(3); // initial-scale 1 is raised to min-scale
    expect(replicas({ minScale: 3, maxScale: 3, initialScale: 5 })).toBe(3);
  });

  it('a `full` annotation gives the same bytes as no annotation', () => {
    expect(toYaml(synth({ templateAnnotations: { [DATA_PLANE_ANNOTATION]: 'full' } }))).toBe(toYaml(synth({})));
  });

  it('every mode passes the strict schema check (preStop.sleep included)', () => {
    for (const props of [
      { dataPlane: DataPlane.ACTIVATOR },
      { dataPlane: DataPlane.DIRECT, autoscaling: FIXED },
      { dataPlane: DataPlane.STATIC, autoscaling: FIXED },
    ]) {
      for (const object of synth(props)) {
        const label = `${props.dataPlane} ${object.kind}/${object.metadata.name}`;
        expect(() => validateWithModels(object), label).not.toThrow();
        expect(strictErrors(object), label).toEqual([]);
      }
    }
  });

  it('the strict schema check still refuses an unknown field inside preStop.sleep', () => {
    const d = get(synth({ dataPlane: DataPlane.DIRECT, autoscaling: FIXED }), 'Deployment', `${REV}-deployment`);
    d.spec.template.spec.containers[0].lifecycle.preStop.sleep.milliseconds = 5;
    expect(strictErrors(d).join('\n')).toContain('milliseconds');
  });
});

describe('RBAC per mode', () => {
  const rules = (props: Partial<KServiceProps>) => {
    const rev = serviceSpec(props).revisions[0];
    const objects = buildRbac([{ name: rev.name, namespace: rev.namespace, autoscalingClass: rev.autoscaling.class, dataPlane: rev.dataPlane }]) as any[];
    // No write, no namespaced Role (reads come from the ClusterRole).
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === rev.namespace);
    return (role?.rules ?? []).filter((r: any) => r.resourceNames).map((r: any) => `${r.resources[0]}:${r.resourceNames.join(',')}`);
  };

  it.each([
    { mode: 'full', props: {}, want: ['deployments/scale:svc-00001-deployment', 'endpoints:svc-00001'] },
    { mode: 'activator', props: { dataPlane: DataPlane.ACTIVATOR }, want: ['deployments/scale:svc-00001-deployment', 'endpoints:svc-00001'] },
    { mode: 'activator + HPA', props: { dataPlane: DataPlane.ACTIVATOR, autoscaling: { class: AutoscalingClass.HPA, minScale: 1 } }, want: ['endpoints:svc-00001'] },
    { mode: 'direct', props: { dataPlane: DataPlane.DIRECT, autoscaling: FIXED }, want: [] },
    { mode: 'static', props: { dataPlane: DataPlane.STATIC, autoscaling: FIXED }, want: [] },
  ])('$mode: writes granted $want', ({ props, want }) => {
    expect(rules(props as Partial<KServiceProps>)).toEqual(want);
  });
});

describe('choosing the mode', () => {
  const modes = (props: Partial<KServiceProps>) => Object.fromEntries(serviceSpec(props).revisions.map((r) => [r.name, r.dataPlane]));
  const old = (extra: object = {}) => ({ name: REV, containers: [{ image: IMAGE }], retain: true, ...extra });

  it('per revision: its own prop, else its annotation, else the service default, else full', () => {
    expect(modes({
      generation: 4,
      dataPlane: DataPlane.ACTIVATOR,
      revisions: [
        old({ dataPlane: DataPlane.DIRECT, autoscaling: FIXED }),
        old({ name: 'svc-00002', templateAnnotations: { [DATA_PLANE_ANNOTATION]: 'static' }, autoscaling: FIXED }),
        old({ name: 'svc-00003' }),
      ],
    })).toEqual({ 'svc-00004': 'activator', 'svc-00001': 'direct', 'svc-00002': 'static', 'svc-00003': 'activator' });
    expect(modes({})).toEqual({ [REV]: 'full' });
  });

  it('the typed prop wins over the annotation, and the annotation itself is not copied to the objects', () => {
    const objects = synth({ dataPlane: DataPlane.ACTIVATOR, templateAnnotations: { [DATA_PLANE_ANNOTATION]: 'direct' } });
    expect(get(objects, 'Deployment', `${REV}-deployment`).metadata.annotations[DATA_PLANE_ANNOTATION]).toBe('activator');
    expect(get(objects, 'Service', REV).metadata.annotations).not.toHaveProperty([DATA_PLANE_ANNOTATION]);
  });

  it('a mixed service: each revision gets its own objects, the route is unchanged', () => {
    const objects = synth({
      generation: 2,
      dataPlane: DataPlane.DIRECT,
      autoscaling: FIXED,
      revisions: [old({ dataPlane: DataPlane.FULL })],
      traffic: [{ latestRevision: true, percent: 50, tag: 'new' }, { revisionName: REV, percent: 50, tag: 'old' }],
    });
    expect(get(objects, 'Endpoints', REV)).toBeDefined();
    expect(get(objects, 'Endpoints', 'svc-00002')).toBeUndefined();
    expect(get(objects, 'Service', 'svc-00002').spec.selector).toEqual({ 'serving.knative.dev/revision': 'svc-00002' });
    // Routes point at the public Services whatever fills their Endpoints.
    const destinations = JSON.stringify(get(objects, 'VirtualService', 'svc-ingress').spec.http);
    expect(destinations).toContain('svc-00002.default.svc.cluster.local');
    expect(destinations).toContain('svc-00001.default.svc.cluster.local');
  });
});

describe('mode rules (the same messages the CLI gives)', () => {
  it.each([
    { case: 'unknown typed mode', props: { dataPlane: 'sidecarless' }, path: 'dataPlane', message: 'must be one of full, activator, direct, static, got "sidecarless"' },
    { case: 'unknown annotation value', props: { templateAnnotations: { [DATA_PLANE_ANNOTATION]: 'Direct' } }, path: `templateAnnotations["${DATA_PLANE_ANNOTATION}"]`, message: 'must be one of full, activator, direct, static, got "Direct"' },
    { case: 'unknown mode of an earlier revision', props: { generation: 2, revisions: [{ name: REV, containers: [{ image: IMAGE }], retain: true, dataPlane: 'x' }] }, path: 'revisions[0].dataPlane', message: 'must be one of' },
    { case: 'direct at zero', props: { dataPlane: DataPlane.DIRECT }, path: 'dataPlane', message: 'data plane "direct" needs min-scale >= 1 (nothing can wake a revision at zero without the activator); revision "svc-00001" has min-scale 0' },
    { case: 'direct at zero, chosen by annotation', props: { templateAnnotations: { [DATA_PLANE_ANNOTATION]: 'direct' } }, path: `templateAnnotations["${DATA_PLANE_ANNOTATION}"]`, message: 'data plane "direct" needs min-scale >= 1' },
    { case: 'direct + HPA at zero', props: { dataPlane: DataPlane.DIRECT, autoscaling: { class: AutoscalingClass.HPA } }, path: 'dataPlane', message: 'has min-scale 0 (HPA class)' },
    { case: 'direct + KPA with unlimited max', props: { dataPlane: DataPlane.DIRECT, autoscaling: { minScale: 2 } }, path: 'dataPlane', message: 'data plane "direct" with the KPA class has fixed replicas (nothing measures load without the queue-proxy or the activator): set max-scale equal to min-scale (2); revision "svc-00001" has max-scale 0 (unlimited)' },
    { case: 'direct + KPA with max above min', props: { dataPlane: DataPlane.DIRECT, autoscaling: { minScale: 1, maxScale: 4 } }, path: 'dataPlane', message: 'has max-scale 4. To scale on CPU or memory, use the HPA class' },
    { case: 'activator + exec probe', props: { dataPlane: DataPlane.ACTIVATOR, containers: [{ image: IMAGE, readinessProbe: { exec: { command: ['true'] } } }] }, path: 'containers[0].readinessProbe.exec', message: 'is not supported: the activator runs the serving container\'s readiness probe in data plane "activator" and can only run httpGet (HTTP scheme) and tcpSocket probes' },
    { case: 'activator + grpc probe (serving container 1)', props: { dataPlane: DataPlane.ACTIVATOR, containers: [{ image: 'side:1' }, { image: IMAGE, port: 8080, readinessProbe: { grpc: {} } }] }, path: 'containers[1].readinessProbe.grpc', message: 'is not supported' },
    { case: 'activator + HTTPS probe', props: { dataPlane: DataPlane.ACTIVATOR, containers: [{ image: IMAGE, readinessProbe: { httpGet: { path: '/', scheme: 'HTTPS' } } }] }, path: 'containers[0].readinessProbe.httpGet.scheme', message: 'must be HTTP' },
    { case: 'activator + target-burst-capacity', props: { dataPlane: DataPlane.ACTIVATOR, autoscaling: { targetBurstCapacity: 200 } }, path: 'autoscaling.targetBurstCapacity', message: 'data plane "activator" keeps the activator in the path at every scale (target-burst-capacity -1); 200 asks for it to leave the path' },
    { case: 'activator + target-burst-capacity alias annotation', props: { dataPlane: DataPlane.ACTIVATOR, templateAnnotations: { 'autoscaling.knative.dev/targetBurstCapacity': '0' } }, path: 'templateAnnotations["autoscaling.knative.dev/targetBurstCapacity"]', message: '0 asks for it to leave the path' },
    { case: 'direct + target-burst-capacity', props: { dataPlane: DataPlane.DIRECT, autoscaling: { ...FIXED, targetBurstCapacity: -1 } }, path: 'autoscaling.targetBurstCapacity', message: 'data plane "direct" has no activator, so target-burst-capacity has no effect' },
    { case: 'activator + queue sidecar resources', props: { dataPlane: DataPlane.ACTIVATOR, templateAnnotations: { 'queue.sidecar.serving.knative.dev/cpu-resource-request': '25m' } }, path: 'templateAnnotations["queue.sidecar.serving.knative.dev/cpu-resource-request"]', message: 'data plane "activator" has no queue-proxy sidecar, so its resources cannot be set' },
    { case: 'direct + a portless probe on another container', props: { dataPlane: DataPlane.DIRECT, autoscaling: FIXED, containers: [{ image: IMAGE, port: 8080 }, { name: 'side', image: 'side:1', readinessProbe: { httpGet: { path: '/' } } }] }, path: 'containers[1].readinessProbe.httpGet.port', message: 'is required: in data plane "direct" the kubelet runs this container\'s probe itself' },
    { case: 'an earlier direct revision at zero', props: { generation: 2, revisions: [{ name: REV, containers: [{ image: IMAGE }], retain: true, dataPlane: DataPlane.DIRECT }] }, path: 'revisions[0].dataPlane', message: 'revision "svc-00001" has min-scale 0' },
  ])('$case', ({ props, path, message }) => {
    const problems = problemsOf(props as Partial<KServiceProps>);
    expect(problems.filter((p) => p.path === path).map((p) => p.message).join('\n')).toContain(message);
  });

  it.each([
    { case: 'activator with scale to zero, an httpGet probe and target-burst-capacity -1', props: { dataPlane: DataPlane.ACTIVATOR, autoscaling: { targetBurstCapacity: -1 }, containers: [{ image: IMAGE, readinessProbe: { httpGet: { path: '/ready', scheme: 'HTTP' } } }] } },
    { case: 'activator + HPA class', props: { dataPlane: DataPlane.ACTIVATOR, autoscaling: { class: AutoscalingClass.HPA, minScale: 1 } } },
    { case: 'direct with an exec probe (the kubelet runs it)', props: { dataPlane: DataPlane.DIRECT, autoscaling: FIXED, containers: [{ image: IMAGE, readinessProbe: { exec: { command: ['true'] } } }] } },
    { case: 'direct + HPA scaling 1..5', props: { dataPlane: DataPlane.DIRECT, autoscaling: { class: AutoscalingClass.HPA, minScale: 1, maxScale: 5 } } },
    { case: 'direct with a tagged percent split (routes point at the public Services)', props: { dataPlane: DataPlane.DIRECT, autoscaling: FIXED, generation: 2, revisions: [{ name: REV, containers: [{ image: IMAGE }], autoscaling: FIXED }], traffic: [{ latestRevision: true, percent: 90 }, { revisionName: REV, percent: 10, tag: 'old' }] } },
  ])('accepted: $case', ({ props }) => {
    expect(() => synth(props as Partial<KServiceProps>)).not.toThrow();
  });
});
