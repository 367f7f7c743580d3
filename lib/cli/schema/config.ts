/**
 * Schema of the `--config` file: the fields of `ServingConfigProps` (lib/contract/config.ts), camelCase,
 * durations in seconds. `apiVersion`/`kind` are optional so a bare mapping works too.
 */
import { Ingress } from '../../contract/config';
import { DNS1123_LABEL, Schema, boolean, integer, object, oneOfValues, pattern, string } from '../../model/schema/builders';

export const CONFIG_API_VERSION = 'kservice.cdk8s.io/v1alpha1';
export const CONFIG_KIND = 'ServingConfig';

const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const gatewayRef = pattern(
  `${DNS1123_LABEL.slice(0, -1)}/${DNS1123_LABEL.slice(1)}`,
  'must be NAMESPACE/NAME of an Istio Gateway',
);
const gatewayApiRef = pattern(
  `${DNS1123_LABEL.slice(0, -1)}/${DNS1123_LABEL.slice(1)}`,
  'must be NAMESPACE/NAME of a Gateway API Gateway',
);
const nonNegative = integer(0);
const positive = integer(1);

const autoscaler = object({
  containerConcurrencyTargetPercentage: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
  containerConcurrencyTargetDefault: { type: 'number', minimum: 0.01 },
  requestsPerSecondTargetDefault: { type: 'number', minimum: 0.01 },
  targetBurstCapacity: { type: 'number', minimum: -1 },
  stableWindowSeconds: integer(6, 3600),
  panicWindowPercentage: { type: 'number', minimum: 1, maximum: 100 },
  panicThresholdPercentage: { type: 'number', minimum: 110, maximum: 1000 },
  maxScaleUpRate: { type: 'number', exclusiveMinimum: 1 },
  maxScaleDownRate: { type: 'number', exclusiveMinimum: 1 },
  enableScaleToZero: boolean,
  scaleToZeroGracePeriodSeconds: integer(6, 3600),
  scaleToZeroPodRetentionPeriodSeconds: integer(0, 3600),
  scaleDownDelaySeconds: integer(0, 3600),
  podAutoscalerClass: string({ minLength: 1 }),
  activatorCapacity: { type: 'number', minimum: 1 },
  initialScale: nonNegative,
  allowZeroInitialScale: boolean,
  minScale: nonNegative,
  maxScale: nonNegative,
  maxScaleLimit: nonNegative,
});

/**
 * config-deployment queue-sidecar-* resources; '' removes a default. Their values are checked
 * with the constructs' config rules (contract/config.ts checkServingConfig).
 */
const queueSidecarResources = object({
  cpuRequest: string(),
  cpuLimit: string(),
  memoryRequest: string(),
  memoryLimit: string(),
  ephemeralStorageRequest: string(),
  ephemeralStorageLimit: string(),
});

/** net-gateway-api's config-gateway (lib/contract/config.ts GatewayApiConfigProps). */
const gatewayApi = object({
  externalGateway: gatewayApiRef,
  localGateway: gatewayApiRef,
  localGatewayService: pattern(DNS_SUBDOMAIN, 'must be a DNS name such as knative-local-gateway.istio-system.svc.cluster.local'),
  gatewayClassName: pattern(DNS_SUBDOMAIN, 'must be a GatewayClass name such as istio'),
  listenerPort: integer(1, 65535),
  requestTimeoutSupported: boolean,
});

export const configSchema: Schema = object({
  apiVersion: { const: CONFIG_API_VERSION },
  kind: { const: CONFIG_KIND },
  domain: pattern(DNS_SUBDOMAIN, 'must be a DNS domain such as example.com'),
  domainTemplate: string({ minLength: 1 }),
  tagTemplate: string({ minLength: 1 }),
  externalGateway: gatewayRef,
  localGateway: gatewayRef,
  localGatewayService: pattern(DNS_SUBDOMAIN, 'must be a DNS name such as knative-local-gateway.istio-system.svc.cluster.local'),
  ingress: oneOfValues(Object.values(Ingress)),
  gatewayApi,
  runtimeImage: string({ minLength: 1 }),
  revisionTimeoutSeconds: positive,
  maxRevisionTimeoutSeconds: positive,
  revisionResponseStartTimeoutSeconds: nonNegative,
  revisionIdleTimeoutSeconds: nonNegative,
  containerConcurrency: integer(0, 1000),
  autoscaler,
  queueSidecarResources,
});
