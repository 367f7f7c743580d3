/**
 * The floor for any generator: the same Deployments, Services, Endpoints and VirtualServices as
 * `ours.ts` produces for the workload, written as plain object literals in a loop (no constructs,
 * no validation, no defaults resolution) and stringified with `yaml`. The bench checks that, for a
 * small N, these objects deep-equal what our constructs synthesize, so the two sides do the same work.
 */
import { stringify } from 'yaml';
import { drainToken } from '../../lib/builders/drain-token';
import type { RevisionSpec } from '../../lib/model/spec';
import { KNATIVE_ZAP_LOGGER_CONFIG, RUNTIME_ONLY_HEADERS } from '../../lib/contract/constants';
import { BENCH_NAMESPACE as NS, CANDIDATE_TAG, serviceShape, ServiceShape } from './services';

const DOMAIN = 'example.com';
const CLUSTER_DOMAIN = 'svc.cluster.local';
const KPA = 'kpa.autoscaling.knative.dev';
const RUNTIME_IMAGE = 'ghcr.io/cdk8s-kservice/runtime:0.1.0';
const INGRESS_GATEWAY = 'knative-serving/knative-ingress-gateway';
const LOCAL_GATEWAY = 'knative-serving/knative-local-gateway';

export function synthesizeBaseline(n: number): string {
  const docs: string[] = [];
  for (let i = 1; i <= n; i++) {
    for (const object of serviceObjects(serviceShape(i))) docs.push(stringify(object));
  }
  return docs.join('---\n');
}

export function serviceObjects(s: ServiceShape): object[] {
  return [
    ...revisionObjects(s, s.newRevision, 2, s.newImage, 'v2'),
    ...revisionObjects(s, s.oldRevision, 1, s.oldImage, 'v1'),
    routeService(s.name, s.name),
    routeService(s.name, `${CANDIDATE_TAG}-${s.name}`),
    virtualService(s, 'ingress'),
    virtualService(s, 'mesh'),
  ];
}

function revisionLabels(s: ServiceShape, rev: string, generation: number) {
  return {
    app: rev,
    'serving.knative.dev/configuration': s.name,
    'serving.knative.dev/configurationGeneration': String(generation),
    'serving.knative.dev/revision': rev,
    'serving.knative.dev/service': s.name,
  };
}

function revisionObjects(s: ServiceShape, rev: string, generation: number, image: string, release: string): object[] {
  const labels = revisionLabels(s, rev, generation);
  const sksLabels = (type: string) => ({ ...labels, 'networking.internal.knative.dev/serverlessservice': rev, 'networking.internal.knative.dev/serviceType': type });
  const annotations = { 'autoscaling.knative.dev/class': KPA };
  const publicPorts = [
    { name: 'http', port: 80, protocol: 'TCP', targetPort: 8012 },
    { name: 'https', port: 443, protocol: 'TCP', targetPort: 8112 },
  ];
  return [
    deployment(s, rev, labels, image, release),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { annotations, labels: sksLabels('Private'), name: `${rev}-private`, namespace: NS },
      spec: {
        ports: [
          ...publicPorts,
          { name: 'http-autometric', port: 9090, protocol: 'TCP', targetPort: 'http-autometric' },
          { name: 'http-usermetric', port: 9091, protocol: 'TCP', targetPort: 'http-usermetric' },
          { name: 'http-istio', port: 8012, protocol: 'TCP', targetPort: 8012 },
        ],
        selector: { 'serving.knative.dev/revision': rev },
        type: 'ClusterIP',
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { annotations, labels: sksLabels('Public'), name: rev, namespace: NS }, spec: { ports: publicPorts, type: 'ClusterIP' } },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { annotations, labels: sksLabels('Public'), name: rev, namespace: NS } },
  ];
}

/**
 * The drain token through the compiler's own function (one rule, one place): it reads only the
 * revision's name, namespace and pod template, which are given here as the defaulted Revision has
 * them (the serving container named, its readiness probe defaulted). Should drainToken read more,
 * the equivalence check fails and the bench stops.
 */
function token(rev: string, image: string, release: string): string {
  const containers = [{ name: 'user-container', image, env: [{ name: 'RELEASE', value: release }], readinessProbe: { tcpSocket: { port: 0 }, successThreshold: 1 } }];
  const template = { name: rev, namespace: NS, containers, pod: {}, templateLabels: {}, templateAnnotations: {} };
  return drainToken(template as unknown as RevisionSpec);
}

function deployment(s: ServiceShape, rev: string, labels: Record<string, string>, image: string, release: string): object {
  const drain = token(rev, image, release);
  const annotations = { 'autoscaling.knative.dev/class': KPA, 'autoscaling.knative.dev/metric': 'concurrency' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { annotations, labels, name: `${rev}-deployment`, namespace: NS },
    spec: {
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 0,
      selector: { matchLabels: { 'serving.knative.dev/revision': rev } },
      strategy: { rollingUpdate: { maxUnavailable: 0 }, type: 'RollingUpdate' },
      template: {
        metadata: { annotations: { ...annotations, 'kubectl.kubernetes.io/default-container': 'user-container' }, labels },
        spec: {
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { podAffinityTerm: { labelSelector: { matchLabels: { 'serving.knative.dev/revision': rev } }, topologyKey: 'kubernetes.io/hostname' }, weight: 100 },
              ],
            },
          },
          containers: [userContainer(s, rev, image, release, drain), queueContainer(s, rev, drain)],
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 300,
        },
      },
    },
  };
}

function userContainer(s: ServiceShape, rev: string, image: string, release: string, drain: string): object {
  return {
    env: [
      { name: 'RELEASE', value: release },
      { name: 'PORT', value: '8080' },
      { name: 'K_REVISION', value: rev },
      { name: 'K_CONFIGURATION', value: s.name },
      { name: 'K_SERVICE', value: s.name },
    ],
    image,
    lifecycle: { preStop: { httpGet: { path: '/wait-for-drain', port: 8022, httpHeaders: [{ name: 'K-Drain-Token', value: drain }] } } },
    name: 'user-container',
    ports: [{ containerPort: 8080, name: 'user-port' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

function queueContainer(s: ServiceShape, rev: string, drain: string): object {
  // Empty values are left out, as Knative's omitempty writes them.
  const value = (name: string, v: string) => (v === '' ? { name } : { name, value: v });
  const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  return {
    args: ['queue-proxy'],
    env: [
      value('SERVING_NAMESPACE', NS),
      value('SERVING_SERVICE', s.name),
      value('SERVING_CONFIGURATION', s.name),
      value('SERVING_REVISION', rev),
      value('QUEUE_SERVING_PORT', '8012'),
      value('QUEUE_SERVING_TLS_PORT', '8112'),
      value('CONTAINER_CONCURRENCY', '0'),
      value('REVISION_TIMEOUT_SECONDS', '300'),
      value('REVISION_RESPONSE_START_TIMEOUT_SECONDS', '0'),
      value('REVISION_IDLE_TIMEOUT_SECONDS', '0'),
      field('SERVING_POD', 'metadata.name'),
      field('SERVING_POD_IP', 'status.podIP'),
      value('SERVING_LOGGING_CONFIG', KNATIVE_ZAP_LOGGER_CONFIG),
      value('SERVING_LOGGING_LEVEL', ''),
      value('USER_PORT', '8080'),
      value('SYSTEM_NAMESPACE', 'knative-serving'),
      value('SERVING_READINESS_PROBE', '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}'),
      { name: 'HOST_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.hostIP' } } },
      value('ENABLE_HTTP2_AUTO_DETECTION', 'false'),
      value('ENABLE_HTTP_FULL_DUPLEX', 'false'),
      value('ROOT_CA', ''),
      value('QUEUE_PROXY_TLS_MIN_VERSION', ''),
      value('QUEUE_PROXY_TLS_MAX_VERSION', ''),
      value('QUEUE_PROXY_TLS_CIPHER_SUITES', ''),
      value('QUEUE_PROXY_TLS_CURVE_PREFERENCES', ''),
      value('ENABLE_MULTI_CONTAINER_PROBES', 'false'),
      value('OBSERVABILITY_CONFIG', '{"tracing":{},"metrics":{},"runtime":{},"requestMetrics":{}}'),
      value('QUEUE_DRAIN_TOKEN', drain),
    ],
    image: RUNTIME_IMAGE,
    name: 'queue-proxy',
    ports: [
      { containerPort: 9090, name: 'http-autometric' },
      { containerPort: 9091, name: 'http-usermetric' },
      { containerPort: 8012, name: 'queue-port' },
      { containerPort: 8112, name: 'https-port' },
    ],
    readinessProbe: { httpGet: { httpHeaders: [{ name: 'K-Network-Probe', value: 'queue' }], port: 8012 }, successThreshold: 1 },
    resources: { limits: { memory: '800Mi' }, requests: { cpu: '25m', memory: '400Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

function routeService(service: string, name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { labels: { 'serving.knative.dev/route': service, 'serving.knative.dev/service': service }, name, namespace: NS },
    spec: {
      externalName: 'knative-local-gateway.istio-system.svc.cluster.local',
      ports: [{ appProtocol: 'kubernetes.io/h2c', name: 'http2', port: 80, targetPort: 80 }],
      sessionAffinity: 'None',
      type: 'ExternalName',
    },
  };
}

function virtualService(s: ServiceShape, kind: 'ingress' | 'mesh'): object {
  const tagged = `${CANDIDATE_TAG}-${s.name}`;
  const hostsOf = (name: string) => (kind === 'ingress' ? [`${name}.${NS}`, `${name}.${NS}.${DOMAIN}`, `${name}.${NS}.svc`, `${name}.${NS}.${CLUSTER_DOMAIN}`] : [`${name}.${NS}`, `${name}.${NS}.svc`, `${name}.${NS}.${CLUSTER_DOMAIN}`]);
  const split = [destination(s.oldRevision, 90), destination(s.newRevision, 10)];
  const pinned = [destination(s.newRevision, 100)];
  const http =
    kind === 'ingress'
      ? [httpRoute(`${s.name}.${NS}`, LOCAL_GATEWAY, split), httpRoute(`${s.name}.${NS}.${DOMAIN}`, INGRESS_GATEWAY, split), httpRoute(`${tagged}.${NS}`, LOCAL_GATEWAY, pinned), httpRoute(`${tagged}.${NS}.${DOMAIN}`, INGRESS_GATEWAY, pinned)]
      : [httpRoute(`${s.name}.${NS}`, 'mesh', split), httpRoute(`${tagged}.${NS}`, 'mesh', pinned)];
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: {
      annotations: routeAnnotations(s),
      labels: { 'networking.internal.knative.dev/ingress': s.name, 'serving.knative.dev/route': s.name, 'serving.knative.dev/routeNamespace': NS },
      name: `${s.name}-${kind}`,
      namespace: NS,
    },
    spec: { gateways: kind === 'ingress' ? [INGRESS_GATEWAY, LOCAL_GATEWAY] : ['mesh'], hosts: [...hostsOf(tagged), ...hostsOf(s.name)], http },
  };
}

function routeAnnotations(s: ServiceShape): Record<string, string> {
  const tagged = `${CANDIDATE_TAG}-${s.name}`;
  const rollout = {
    configurations: [
      { configurationName: s.name, percent: 10, revisions: [{ revisionName: s.newRevision, percent: 10 }], stepParams: {} },
      { configurationName: s.name, tag: CANDIDATE_TAG, percent: 100, revisions: [{ revisionName: s.newRevision, percent: 100 }], stepParams: {} },
    ],
  };
  return {
    'networking.internal.knative.dev/rollout': JSON.stringify(rollout),
    'networking.internal.knative.dev/tag-to-host': JSON.stringify({ [CANDIDATE_TAG]: [`${tagged}.${NS}.${CLUSTER_DOMAIN}`, `${tagged}.${NS}.${DOMAIN}`] }),
    'networking.knative.dev/ingress.class': 'istio.ingress.networking.knative.dev',
  };
}

function httpRoute(authority: string, gateway: string, route: object[]): object {
  return { headers: { request: { remove: [...RUNTIME_ONLY_HEADERS] } }, match: [{ authority: { prefix: authority }, gateways: [gateway] }], retries: {}, route };
}

function destination(rev: string, weight: number): object {
  return {
    destination: { host: `${rev}.${NS}.${CLUSTER_DOMAIN}`, port: { number: 80 } },
    headers: { request: { set: { 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': rev } } },
    weight,
  };
}
