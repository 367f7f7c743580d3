/**
 * The install-time part of the graph (once per cluster): the knative-serving namespace, the Istio
 * gateways and the local gateway Service (knative-extensions/net-istio config/202-gateway.yaml, 203-local-gateway.yaml), the config-autoscaler ConfigMap, and our
 * runtime (activator and autoscaler Deployments, Services, ServiceAccounts, PodDisruptionBudgets)
 * (knative/serving config/core/deployments/activator.yaml). Every system pod meets Pod Security "restricted".
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { autoscalerConfigToData } from '../contract/autoscaling';
import type { ServingConfig } from '../contract/config';
import { ACTIVATOR, ACTIVATOR_SERVICE, AUTOSCALER, AUTOSCALER_BUCKETS, CONFIG_AUTOSCALER, Gateways, Headers, Ports, ProbeValues, SYSTEM_NAMESPACE, SystemEnv } from '../contract/constants';
import type { IGateway } from '@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IServicePort } from 'kubernetes-models/v1/ServicePort';
import { restrictedSecurityContext } from './queue-proxy-container';

// The system names are declared in ../constants (the runtime looks them up); re-exported for
// the constructs and tests that import them from here.
export { ACTIVATOR, ACTIVATOR_SERVICE, AUTOSCALER, CONFIG_AUTOSCALER };
export const ISTIO_GATEWAY_SELECTOR = { istio: 'ingressgateway' };

/** Inputs of the system builders. */
export interface ServingSystemSpec {
  readonly config: ServingConfig;
  readonly runtimeImage: string;
  readonly activatorReplicas: number;
  readonly autoscalerReplicas: number;
  /** Buckets of revisions, one Lease each (the Role names them: rbac.ts). */
  readonly autoscalerBuckets: number;
}

export function buildSystemNamespace(): INamespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM_NAMESPACE } };
}

/** `namespace/name` of a gateway reference. */
export function splitGatewayRef(ref: string): { namespace: string; name: string } {
  const [namespace, name] = ref.split('/');
  return { namespace, name };
}

/** An Istio Gateway accepting plain HTTP for every host on one port of the ingress gateway pods. */
export function buildGateway(ref: string, port: number): IGateway {
  const { namespace, name } = splitGatewayRef(ref);
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      selector: { ...ISTIO_GATEWAY_SELECTOR },
      servers: [{ port: { number: port, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
    },
  };
}

export function buildIngressGateway(): IGateway {
  return buildGateway(Gateways.EXTERNAL, 80);
}

export function buildLocalGateway(): IGateway {
  return buildGateway(Gateways.LOCAL, 8081);
}

/** `istio-system/knative-local-gateway`: what every route's ExternalName Service points at. */
export function buildLocalGatewayService(): IService {
  const [name, namespace] = Gateways.LOCAL_SERVICE.split('.');
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace,
      labels: { 'experimental.istio.io/disable-gateway-port-translation': 'true' },
    },
    spec: {
      type: 'ClusterIP',
      selector: { ...ISTIO_GATEWAY_SELECTOR },
      ports: [
        { name: 'http2', port: 80, targetPort: 8081 },
        { name: 'https', port: 443, targetPort: 8444 },
      ],
    },
  };
}

export function buildConfigAutoscaler(config: ServingConfig): IConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG_AUTOSCALER, namespace: SYSTEM_NAMESPACE },
    data: autoscalerConfigToData(config.autoscaler),
  };
}

export function buildServiceAccount(name: string): IServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: SYSTEM_NAMESPACE } };
}

/**
 * Env both runtime components read. No namespace list: the runtime watches the revisions' objects
 * in every namespace by label (runtime/kube/informer.ts), so a new namespace changes nothing here
 * and rolls no runtime pod.
 */
export function systemEnv(): IEnvVar[] {
  // Canonical forms (fieldRef apiVersion, "1" not "1000m") as the API server stores them: a
  // value that differs only in spelling conflicts when a second field manager applies it.
  const field = (name: string, fieldPath: string): IEnvVar => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  return [
    field(SystemEnv.SYSTEM_NAMESPACE, 'metadata.namespace'),
    field(SystemEnv.POD_NAME, 'metadata.name'),
    field(SystemEnv.POD_IP, 'status.podIP'),
  ];
}

export const ACTIVATOR_LABELS = { app: ACTIVATOR, role: ACTIVATOR };
export const AUTOSCALER_LABELS = { app: AUTOSCALER };

function probeGet(path: string, port: number, headers?: { name: string; value: string }[]) {
  return { httpGet: { path, port, ...(headers ? { httpHeaders: headers } : {}) } };
}

export function activatorContainer(spec: ServingSystemSpec): IContainer {
  const probe = probeGet('/healthz', Ports.QUEUE_HTTP, [{ name: Headers.NETWORK_PROBE, value: ProbeValues.ACTIVATOR }]);
  return {
    name: ACTIVATOR,
    image: spec.runtimeImage,
    args: [ACTIVATOR],
    ports: [
      { name: 'http1', containerPort: Ports.QUEUE_HTTP },
      { name: 'h2c', containerPort: Ports.QUEUE_H2C },
      { name: 'metrics', containerPort: Ports.QUEUE_METRICS },
    ],
    env: systemEnv(),
    resources: { requests: { cpu: '300m', memory: '60Mi' }, limits: { cpu: '1', memory: '600Mi' } },
    readinessProbe: { ...probe, periodSeconds: 5, failureThreshold: 5 },
    livenessProbe: { ...probe, initialDelaySeconds: 15, periodSeconds: 10, failureThreshold: 12 },
    securityContext: restrictedSecurityContext(),
  };
}

export function autoscalerContainer(spec: ServingSystemSpec): IContainer {
  return {
    name: AUTOSCALER,
    image: spec.runtimeImage,
    args: [AUTOSCALER],
    ports: [
      { name: 'websocket', containerPort: Ports.AUTOSCALER_HTTP },
      { name: 'metrics', containerPort: Ports.QUEUE_METRICS },
    ],
    // The default count is the runtime's own default: only another one is spelled out.
    env: spec.autoscalerBuckets === AUTOSCALER_BUCKETS ? systemEnv() : [...systemEnv(), { name: SystemEnv.AUTOSCALER_BUCKETS, value: String(spec.autoscalerBuckets) }],
    resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1', memory: '1000Mi' } },
    readinessProbe: { ...probeGet('/healthz', Ports.AUTOSCALER_HTTP), periodSeconds: 5, failureThreshold: 5 },
    securityContext: restrictedSecurityContext(),
  };
}

function systemDeployment(
  name: string,
  labels: Record<string, string>,
  replicas: number,
  container: IContainer,
  terminationGracePeriodSeconds: number,
): IDeployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: SYSTEM_NAMESPACE, labels: { ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: { ...labels } },
      template: {
        metadata: { labels: { ...labels } },
        spec: {
          serviceAccountName: name,
          enableServiceLinks: false,
          terminationGracePeriodSeconds,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
        },
      },
    },
  };
}

/** The activator drains for up to 45s after SIGTERM and holds requests; Knative gives it 600s. */
export function buildActivatorDeployment(spec: ServingSystemSpec): IDeployment {
  return systemDeployment(ACTIVATOR, ACTIVATOR_LABELS, spec.activatorReplicas, activatorContainer(spec), 600);
}

export function buildAutoscalerDeployment(spec: ServingSystemSpec): IDeployment {
  return systemDeployment(AUTOSCALER, AUTOSCALER_LABELS, spec.autoscalerReplicas, autoscalerContainer(spec), 30);
}

function systemService(name: string, labels: Record<string, string>, ports: IServicePort[]): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: SYSTEM_NAMESPACE, labels: { ...labels } },
    spec: { type: 'ClusterIP', selector: { ...labels }, ports },
  };
}

/** Its Endpoints are what revisions' public Endpoints point at while in proxy mode. */
export function buildActivatorService(): IService {
  return systemService(ACTIVATOR_SERVICE, ACTIVATOR_LABELS, [
    { name: 'http-metrics', port: Ports.QUEUE_METRICS, targetPort: Ports.QUEUE_METRICS },
    { name: 'http', port: Ports.SERVICE_HTTP, targetPort: Ports.QUEUE_HTTP },
    { name: 'http2', port: Ports.SERVICE_H2C, targetPort: Ports.QUEUE_H2C },
    { name: 'https', port: Ports.SERVICE_HTTPS, targetPort: Ports.QUEUE_HTTPS },
  ]);
}

export function buildAutoscalerService(): IService {
  return systemService(AUTOSCALER, AUTOSCALER_LABELS, [
    { name: 'http-metrics', port: Ports.QUEUE_METRICS, targetPort: Ports.QUEUE_METRICS },
    { name: 'http', port: Ports.AUTOSCALER_HTTP, targetPort: Ports.AUTOSCALER_HTTP },
  ]);
}

export function buildPodDisruptionBudget(name: string, labels: Record<string, string>, minAvailable: number | string): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: `${name}-pdb`, namespace: SYSTEM_NAMESPACE, labels: { ...labels } },
    spec: { minAvailable, selector: { matchLabels: { ...labels } } },
  };
}

export function buildActivatorPdb(): IPodDisruptionBudget {
  return buildPodDisruptionBudget(ACTIVATOR, ACTIVATOR_LABELS, '80%');
}

export function buildAutoscalerPdb(): IPodDisruptionBudget {
  return buildPodDisruptionBudget(AUTOSCALER, AUTOSCALER_LABELS, 1);
}
