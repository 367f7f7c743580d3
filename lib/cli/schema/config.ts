/**
 * Schema of the `--config` file: the fields of `ServingConfigProps` (lib/contract/config.ts), camelCase,
 * durations in seconds. `apiVersion`/`kind` are optional so a bare mapping works too.
 */
import { Schema, boolean, integer, object, string } from '../../model/schema/builders';

export const CONFIG_API_VERSION = 'kservice.cdk8s.io/v1alpha1';
export const CONFIG_KIND = 'ServingConfig';
/**
 * The KRM function's `functionConfig` (`kservice krm`, lib/cli/krm/): the same fields, as a KRM
 * object (orchestrators add `metadata`, e.g. kustomize's config.kubernetes.io/function annotation),
 * plus where the function reads the revision history. `kservice compile --config` reads it too, so
 * one file serves both front ends; compile takes its history from --history only.
 */
export const FUNCTION_CONFIG_KIND = 'KServiceConfig';

// Types only: the values (names, references, ranges) are judged by the constructs' config rules
// (contract/config.ts checkServingConfig), which cli/config-file.ts runs on the file.
const number: Schema = { type: 'number' };

const autoscaler = object({
  containerConcurrencyTargetPercentage: number,
  containerConcurrencyTargetDefault: number,
  requestsPerSecondTargetDefault: number,
  targetBurstCapacity: number,
  stableWindowSeconds: integer(),
  panicWindowPercentage: number,
  panicThresholdPercentage: number,
  maxScaleUpRate: number,
  maxScaleDownRate: number,
  enableScaleToZero: boolean,
  scaleToZeroGracePeriodSeconds: integer(),
  scaleToZeroPodRetentionPeriodSeconds: integer(),
  scaleDownDelaySeconds: integer(),
  podAutoscalerClass: string({ minLength: 1 }),
  activatorCapacity: number,
  initialScale: integer(),
  allowZeroInitialScale: boolean,
  minScale: integer(),
  maxScale: integer(),
  maxScaleLimit: integer(),
});

/** config-deployment queue-sidecar-* resources; '' removes a default. */
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
  externalGateway: string(),
  localGateway: string(),
  localGatewayService: string(),
  gatewayClassName: string(),
  listenerPort: integer(),
  requestTimeoutSupported: boolean,
});

export const configSchema: Schema = object({
  apiVersion: { const: CONFIG_API_VERSION },
  kind: { const: CONFIG_KIND },
  domain: string(),
  domainTemplate: string({ minLength: 1 }),
  tagTemplate: string({ minLength: 1 }),
  externalGateway: string(),
  localGateway: string(),
  localGatewayService: string(),
  ingress: string(),
  gatewayApi,
  tagHeaderBasedRouting: boolean,
  runtimeImage: string({ minLength: 1 }),
  revisionTimeoutSeconds: integer(),
  maxRevisionTimeoutSeconds: integer(),
  revisionResponseStartTimeoutSeconds: integer(),
  revisionIdleTimeoutSeconds: integer(),
  containerConcurrency: integer(),
  autoscaler,
  queueSidecarResources,
});

/** `kind: KServiceConfig`: configSchema's fields, plus `metadata` and `history` (a path, see FUNCTION_CONFIG_KIND). */
export const functionConfigSchema: Schema = {
  ...configSchema,
  properties: {
    ...(configSchema.properties as Record<string, Schema>),
    kind: { const: FUNCTION_CONFIG_KIND },
    metadata: { type: 'object' },
    history: string({ minLength: 1 }),
  },
  required: ['apiVersion', 'kind'],
};
