import { describe, expect, it } from 'vitest';
import { Duration } from 'cdk8s';
import { AutoscalingClass, AutoscalingMetric, DataPlane } from '../../lib';
import { childName } from '../../lib/contract/naming';
import { buildDeployment } from '../../lib/builders/deployment';
import { buildHpa } from '../../lib/builders/hpa';
import { buildPrivateService } from '../../lib/builders/private-service';
import { buildPublicEndpoints } from '../../lib/builders/public-endpoints';
import { buildPublicService } from '../../lib/builders/public-service';
import { buildUserContainers } from '../../lib/builders/user-container';
import { IMAGE, revisionSpec, serviceSpec } from './support/spec';
import type { KServiceProps } from '../../lib/model/kservice-props';

const K_ENV = [
  { name: 'K_REVISION', value: 'svc-00001' },
  { name: 'K_CONFIGURATION', value: 'svc' },
  { name: 'K_SERVICE', value: 'svc' },
];
const PRE_STOP = {
  preStop: { httpGet: { path: '/wait-for-drain', port: 8022, httpHeaders: [{ name: 'K-Drain-Token', value: expect.stringMatching(/^[0-9a-f]{32}$/) }] } },
};

describe('user containers', () => {
  it('rewrites the serving container as Knative does', () => {
    const rev = revisionSpec({
      containers: [{
        image: IMAGE, port: 8081, env: { A: '1' },
        readinessProbe: { httpGet: { path: '/ready' } },
        livenessProbe: { httpGet: { path: '/live', port: 9999 } },
      }],
    });
    expect(buildUserContainers(rev)).toEqual([{
      name: 'user-container',
      image: IMAGE,
      ports: [{ name: 'user-port', containerPort: 8081 }],
      env: [{ name: 'A', value: '1' }, { name: 'PORT', value: '8081' }, ...K_ENV],
      livenessProbe: { httpGet: { path: '/live', port: 8081 } },
      lifecycle: PRE_STOP,
      terminationMessagePolicy: 'FallbackToLogsOnError',
    }]);
  });

  it('keeps exec readiness probes on the container (the kubelet runs them)', () => {
    const rev = revisionSpec({ containers: [{ image: IMAGE, readinessProbe: { exec: { command: ['ready'] } } }] });
    expect(buildUserContainers(rev)[0].readinessProbe).toEqual({ exec: { command: ['ready'] }, successThreshold: 1 });
  });

  it('gives sidecars the K_* env and drain hook but no port or PORT', () => {
    const rev = revisionSpec({ containers: [{ image: IMAGE, port: 8080 }, { name: 'sidecar', image: 'side:1', terminationMessagePolicy: 'File' }] });
    const [, sidecar] = buildUserContainers(rev);
    expect(sidecar).toEqual({ name: 'sidecar', image: 'side:1', env: K_ENV, lifecycle: PRE_STOP, terminationMessagePolicy: 'File' });
    expect(rev.containers.map((c) => c.name)).toEqual(['user-container-0', 'sidecar']);
  });

  it.each([
    { volume: { name: 'v', emptyDir: {} }, readOnly: undefined },
    { volume: { name: 'v', persistentVolumeClaim: { claimName: 'c' } }, readOnly: undefined },
    { volume: { name: 'v', configMap: { name: 'cm' } }, readOnly: true },
    { volume: { name: 'v', secret: { secretName: 's' } }, readOnly: true },
  ])('mounts of $volume forced read-only: $readOnly', ({ volume, readOnly }) => {
    const rev = revisionSpec({ volumes: [volume], containers: [{ image: IMAGE, volumeMounts: [{ name: 'v', mountPath: '/v' }] }] });
    expect(buildUserContainers(rev)[0].volumeMounts).toEqual([{ name: 'v', mountPath: '/v', ...(readOnly ? { readOnly } : {}) }]);
  });
});

describe('Deployment', () => {
  it('has the Knative deployment spec and labels', () => {
    const d = buildDeployment(revisionSpec({ timeout: Duration.seconds(120) })) as any;
    expect(d.metadata).toEqual({
      name: 'svc-00001-deployment',
      namespace: 'default',
      labels: {
        app: 'svc-00001',
        'serving.knative.dev/configuration': 'svc',
        'serving.knative.dev/configurationGeneration': '1',
        'serving.knative.dev/revision': 'svc-00001',
        'serving.knative.dev/service': 'svc',
      },
      annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev', 'autoscaling.knative.dev/metric': 'concurrency' },
    });
    expect({ ...d.spec, template: undefined }).toEqual({
      selector: { matchLabels: { 'serving.knative.dev/revision': 'svc-00001' } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 0,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } },
      template: undefined,
    });
    const pod = d.spec.template.spec;
    expect(pod.containers.map((c: any) => c.name)).toEqual(['user-container', 'queue-proxy']);
    expect(pod.terminationGracePeriodSeconds).toBe(120);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.affinity).toEqual({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'serving.knative.dev/revision': 'svc-00001' } } },
        }],
      },
    });
    expect(d.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container']).toBe('user-container');
  });

  it.each<{ case: string; props: Partial<KServiceProps>; check: (d: any) => void }>([
    // Whoever scales the revision owns spec.replicas; the manifest declaring it would fight them on
    // every re-apply. The runtime autoscaler applies initial-scale itself.
    { case: 'KPA: no replicas, whatever the initial scale', props: { autoscaling: { initialScale: 3 } }, check: (d: any) => expect(d.spec).not.toHaveProperty('replicas') },
    { case: 'HPA: no replicas', props: { autoscaling: { class: AutoscalingClass.HPA, minScale: 1 } }, check: (d: any) => expect(d.spec).not.toHaveProperty('replicas') },
    { case: 'third-party class: no replicas', props: { autoscaling: { class: AutoscalingClass.of('keda.example.com') } }, check: (d: any) => expect(d.spec).not.toHaveProperty('replicas') },
    {
      case: 'DataPlane.STATIC with the KPA class (nothing scales it): replicas pinned to initial scale, marked static',
      props: { dataPlane: DataPlane.STATIC, autoscaling: { minScale: 2, initialScale: 3 } },
      check: (d: any) => {
        expect(d.spec.replicas).toBe(3);
        expect(d.metadata.annotations['kservice.cdk8s.io/data-plane']).toBe('static');
        expect(d.spec.template.metadata.annotations).not.toHaveProperty('kservice.cdk8s.io/data-plane');
      },
    },
    { case: 'DataPlane.STATIC with the HPA class: no replicas', props: { dataPlane: DataPlane.STATIC, autoscaling: { class: AutoscalingClass.HPA, minScale: 1 } }, check: (d: any) => expect(d.spec).not.toHaveProperty('replicas') },
    { case: 'a user app label wins', props: { templateLabels: { app: 'mine' } }, check: (d: any) => expect(d.metadata.labels.app).toBe('mine') },
    { case: 'user affinity replaces the default', props: { affinity: { nodeAffinity: {} } }, check: (d: any) => expect(d.spec.template.spec.affinity).toEqual({ nodeAffinity: {} }) },
    { case: 'enableServiceLinks passes through', props: { enableServiceLinks: true }, check: (d: any) => expect(d.spec.template.spec.enableServiceLinks).toBe(true) },
    { case: 'progress deadline annotation', props: { templateAnnotations: { 'serving.knative.dev/progress-deadline': '2m' } }, check: (d: any) => expect(d.spec.progressDeadlineSeconds).toBe(120) },
    {
      case: 'autoscaling aliases are canonical on the Deployment',
      props: { templateAnnotations: { 'autoscaling.knative.dev/minScale': '2', team: 'a' } },
      check: (d: any) => expect(d.metadata.annotations).toEqual({
        'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
        'autoscaling.knative.dev/metric': 'concurrency',
        'autoscaling.knative.dev/min-scale': '2',
        team: 'a',
      }),
    },
    {
      case: 'pod fields pass through as written',
      props: { serviceAccountName: 'sa', nodeSelector: { disk: 'ssd' }, runtimeClassName: 'gvisor', imagePullSecrets: [{ name: 'reg' }] },
      check: (d: any) => expect(d.spec.template.spec).toMatchObject({ serviceAccountName: 'sa', nodeSelector: { disk: 'ssd' }, runtimeClassName: 'gvisor', imagePullSecrets: [{ name: 'reg' }] }),
    },
  ])('$case', ({ props, check }) => check(buildDeployment(revisionSpec(props))));

  it('shortens long names with childName instead of rejecting them', () => {
    const long = 'a'.repeat(60);
    const rev = serviceSpec({}, long).revisions[0];
    expect(rev.name).toBe(childName(long, '-00001'));
    expect(rev.name.length).toBeLessThanOrEqual(63);
    expect((buildDeployment(rev) as any).metadata.name).toBe(childName(rev.name, '-deployment'));
    expect((buildPrivateService(rev) as any).metadata.name).toBe(childName(rev.name, '-private'));
  });
});

const PUBLIC_LABELS = {
  app: 'svc-00001',
  'networking.internal.knative.dev/serverlessservice': 'svc-00001',
  'networking.internal.knative.dev/serviceType': 'Public',
  'serving.knative.dev/configuration': 'svc',
  'serving.knative.dev/configurationGeneration': '1',
  'serving.knative.dev/revision': 'svc-00001',
  'serving.knative.dev/service': 'svc',
};

describe('revision Services and Endpoints', () => {
  it.each([
    {
      protocol: 'http1',
      props: {},
      publicPorts: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
        { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
      ],
      privateFirst: { name: 'http', protocol: 'TCP', port: 80, targetPort: 8012 },
      privateMirror: { name: 'http-istio', protocol: 'TCP', port: 8012, targetPort: 8012 },
    },
    {
      protocol: 'h2c',
      props: { containers: [{ image: IMAGE, portName: 'h2c' as const }] },
      publicPorts: [
        { name: 'http2', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 81, targetPort: 8013 },
        { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
      ],
      privateFirst: { name: 'http2', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c', port: 80, targetPort: 8013 },
      privateMirror: { name: 'http2-istio', protocol: 'TCP', port: 8013, targetPort: 8013 },
    },
  ])('ports for $protocol', ({ props, publicPorts, privateFirst, privateMirror }) => {
    const rev = revisionSpec(props);
    expect((buildPublicService(rev) as any).spec.ports).toEqual(publicPorts);
    expect((buildPrivateService(rev) as any).spec.ports).toEqual([
      privateFirst,
      { name: 'https', protocol: 'TCP', port: 443, targetPort: 8112 },
      { name: 'http-autometric', protocol: 'TCP', port: 9090, targetPort: 'http-autometric' },
      { name: 'http-usermetric', protocol: 'TCP', port: 9091, targetPort: 'http-usermetric' },
      privateMirror,
    ]);
  });

  it('the public Service has no selector and its Endpoints no subsets (the runtime owns the addresses)', () => {
    const rev = revisionSpec();
    const svc = buildPublicService(rev) as any;
    expect(svc.metadata.name).toBe('svc-00001');
    expect(svc.metadata.labels).toEqual(PUBLIC_LABELS);
    expect(svc.metadata.annotations).toEqual({ 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' });
    expect(svc.spec.selector).toBeUndefined();
    const endpoints = buildPublicEndpoints(rev);
    expect(endpoints).toEqual({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'svc-00001', namespace: 'default', labels: PUBLIC_LABELS, annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' } },
    });
    expect('subsets' in endpoints).toBe(false);
  });

  it('the private Service selects the revision pods', () => {
    const svc = buildPrivateService(revisionSpec()) as any;
    expect(svc.metadata.name).toBe('svc-00001-private');
    expect(svc.metadata.labels['networking.internal.knative.dev/serviceType']).toBe('Private');
    expect(svc.spec.selector).toEqual({ 'serving.knative.dev/revision': 'svc-00001' });
  });

  it('DataPlane.STATIC gives the public Service the private selector', () => {
    const rev = revisionSpec({ dataPlane: DataPlane.STATIC, autoscaling: { minScale: 1 } });
    expect((buildPublicService(rev) as any).spec.selector).toEqual({ 'serving.knative.dev/revision': 'svc-00001' });
  });
});

describe('HorizontalPodAutoscaler', () => {
  const hpa = (autoscaling: object) => buildHpa(revisionSpec({ autoscaling: { class: AutoscalingClass.HPA, ...autoscaling } })) as any;

  it.each([
    { case: 'cpu target', a: { target: 70.2 }, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 71 } } }] },
    { case: 'memory target', a: { metric: AutoscalingMetric.MEMORY, target: 200 }, metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '200Mi' } } }] },
    { case: 'custom metric', a: { metric: AutoscalingMetric.custom('queue_depth'), target: 30 }, metrics: [{ type: 'Pods', pods: { metric: { name: 'queue_depth' }, target: { type: 'AverageValue', averageValue: '30' } } }] },
    { case: 'no target, no metrics', a: {}, metrics: undefined },
  ])('$case', ({ a, metrics }) => {
    expect(hpa(a).spec.metrics).toEqual(metrics);
  });

  it('bounds and window', () => {
    expect(hpa({ minScale: 2, maxScale: 8, window: Duration.seconds(90) }).spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'svc-00001-deployment' },
      minReplicas: 2,
      maxReplicas: 8,
      behavior: { scaleDown: { stabilizationWindowSeconds: 90 }, scaleUp: { stabilizationWindowSeconds: 90 } },
    });
  });

  it('omits min when 0 and uses MaxInt32 when max is unlimited', () => {
    const spec = hpa({}).spec;
    expect(spec.minReplicas).toBeUndefined();
    expect(spec.maxReplicas).toBe(2147483647);
    expect(hpa({}).metadata.name).toBe('svc-00001');
    expect(hpa({}).metadata.annotations['autoscaling.knative.dev/metric']).toBe('cpu');
  });
});
