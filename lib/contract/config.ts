import { DEFAULT_RUNTIME_IMAGE, Gateways, RevisionDefaults } from './constants';
import { isDns1123Label } from './naming';
import { isQuantity } from './quantity';
import { FieldErrors, type Parsed } from '../problems';

/**
 * What Knative keeps in its config-* ConfigMaps and what matters to a compiled graph. Every field
 * is optional; `resolveServingConfig` fills Knative's defaults. The CLI reads this shape from its
 * `--config` file; constructs take it as a prop.
 */
export interface ServingConfigProps {
  /**
   * Domain suffix of external hosts (config-domain).
   * @default 'example.com' — Knative 1.8+ defaults to 'svc.cluster.local' (everything cluster-local)
   * when config-domain is empty; we assume a domain is configured, as every real install does.
   */
  readonly domain?: string;
  /** config-network `domain-template`. @default '{{.Name}}.{{.Namespace}}.{{.Domain}}' */
  readonly domainTemplate?: string;
  /** config-network `tag-template`. @default '{{.Tag}}-{{.Name}}' */
  readonly tagTemplate?: string;
  /** Istio gateway for external traffic. @default 'knative-serving/knative-ingress-gateway' */
  readonly externalGateway?: string;
  /** Istio gateway for cluster-local traffic. @default 'knative-serving/knative-local-gateway' */
  readonly localGateway?: string;
  /**
   * The Service the route's ExternalName points at.
   * @default 'knative-local-gateway.istio-system.svc.cluster.local'
   */
  readonly localGatewayService?: string;
  /**
   * The ingress the routes are compiled for: Istio (net-istio's VirtualServices; `externalGateway`,
   * `localGateway`, `localGatewayService` above) or the Gateway API (net-gateway-api's HTTPRoutes;
   * `gatewayApi` below). @default Ingress.ISTIO
   */
  readonly ingress?: Ingress;
  /** Gateway API settings (net-gateway-api's config-gateway), used when `ingress` is GATEWAY_API. */
  readonly gatewayApi?: GatewayApiConfigProps;
  /** Image of the queue-proxy sidecar, activator and autoscaler. @default DEFAULT_RUNTIME_IMAGE */
  readonly runtimeImage?: string;
  /** config-defaults `revision-timeout-seconds`. @default 300 */
  readonly revisionTimeoutSeconds?: number;
  /** config-defaults `max-revision-timeout-seconds`. @default 600 */
  readonly maxRevisionTimeoutSeconds?: number;
  /**
   * config-defaults `revision-response-start-timeout-seconds`: given to a revision without one
   * only when non-zero and below its timeoutSeconds. @default revisionTimeoutSeconds (as Knative)
   */
  readonly revisionResponseStartTimeoutSeconds?: number;
  /** config-defaults `revision-idle-timeout-seconds`, defaulted the same way. @default 0 (none) */
  readonly revisionIdleTimeoutSeconds?: number;
  /** config-defaults `container-concurrency`. @default 0 (unlimited) */
  readonly containerConcurrency?: number;
  /** config-autoscaler defaults. */
  readonly autoscaler?: AutoscalerConfigProps;
  /**
   * config-deployment `queue-sidecar-{cpu,memory,ephemeral-storage}-{request,limit}`: the
   * queue-proxy container's resources, before the revision's `queue.sidecar.serving.knative.dev/*`
   * annotations. Given fields replace the defaults one by one; `''` removes a default.
   * @default DEFAULT_QUEUE_SIDECAR_RESOURCES
   */
  readonly queueSidecarResources?: QueueSidecarResourcesProps;
  /**
   * config-features `tag-header-based-routing` (Enabled = true): a request on a route's own hosts
   * carrying `Knative-Serving-Tag: TAG` goes to that tag's targets (knative.dev/serving
   * pkg/reconciler/route/resources/ingress.go MakeIngressSpec). @default false (Knative: Disabled)
   */
  readonly tagHeaderBasedRouting?: boolean;
}

/** Which ingress implementation the routes are compiled for (Knative's config-network `ingress-class`). */
export enum Ingress {
  /** net-istio: Istio Gateways and `NAME-ingress` / `NAME-mesh` VirtualServices. */
  ISTIO = 'istio',
  /** net-gateway-api: Gateway API Gateways and one HTTPRoute per host set (gateway.networking.k8s.io/v1). */
  GATEWAY_API = 'gateway-api',
}

/**
 * net-gateway-api's config-gateway, one Gateway per visibility (knative-extensions/net-gateway-api
 * pkg/reconciler/ingress/config/gateway.go: its defaults are ours).
 */
export interface GatewayApiConfigProps {
  /** Gateway (NAMESPACE/NAME) the external hosts' HTTPRoutes attach to. @default 'istio-system/knative-gateway' */
  readonly externalGateway?: string;
  /** Gateway (NAMESPACE/NAME) the cluster-local hosts' HTTPRoutes attach to. @default 'istio-system/knative-local-gateway' */
  readonly localGateway?: string;
  /**
   * The local Gateway's Service, which the route's ExternalName Service points at (the name the
   * Gateway API implementation gives it). @default 'knative-local-gateway.istio-system.svc.cluster.local'
   */
  readonly localGatewayService?: string;
  /** `gatewayClassName` of the two Gateways ServingSystem emits. @default 'istio' */
  readonly gatewayClassName?: string;
  /**
   * Port of the HTTP listener of the two Gateways ServingSystem emits (Traefik, for one, wants the
   * port of one of its entry points here). @default 80
   */
  readonly listenerPort?: number;
  /**
   * The implementation supports HTTPRouteRequestTimeout: every rule gets `timeouts.request: 0s`
   * (no gateway timeout; the revision's own timeouts apply in queue-proxy), as net-gateway-api
   * does for such gateways. @default true
   */
  readonly requestTimeoutSupported?: boolean;
}

/**
 * Reports a config `ingress` that is none of Ingress's values (constructs may get it from JS/JSON,
 * unchecked by TypeScript) and `gatewayApi` values that would give broken Gateway API objects.
 */
export function checkIngress(config: ServingConfigProps | undefined): FieldErrors {
  let errors = FieldErrors.none;
  const ingress = config?.ingress;
  if (ingress !== undefined && !Object.values(Ingress).includes(ingress)) {
    errors = errors.also(FieldErrors.of(`must be one of ${Object.values(Ingress).join(', ')}, got "${String(ingress)}"`, 'ingress'));
  }
  const gatewayApi = config?.gatewayApi ?? {};
  for (const field of ['externalGateway', 'localGateway'] as const) {
    const ref = gatewayApi[field];
    if (ref !== undefined && !isGatewayRef(String(ref))) {
      errors = errors.also(FieldErrors.of(`must be NAMESPACE/NAME of a Gateway API Gateway, got "${ref}"`, 'gatewayApi', field));
    }
  }
  const port: unknown = gatewayApi.listenerPort;
  if (port !== undefined && !(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535)) {
    errors = errors.also(FieldErrors.of(`must be a port number (1-65535), got ${String(port)}`, 'gatewayApi', 'listenerPort'));
  }
  for (const field of ['gatewayClassName', 'localGatewayService'] as const) {
    const value: unknown = gatewayApi[field];
    if (value !== undefined && (typeof value !== 'string' || value.trim() === '')) {
      errors = errors.also(FieldErrors.of('must be a non-empty string', 'gatewayApi', field));
    }
  }
  return errors;
}

export const DEFAULT_GATEWAY_API_CONFIG: Required<GatewayApiConfigProps> = {
  externalGateway: 'istio-system/knative-gateway',
  localGateway: 'istio-system/knative-local-gateway',
  localGatewayService: 'knative-local-gateway.istio-system.svc.cluster.local',
  gatewayClassName: 'istio',
  listenerPort: 80,
  requestTimeoutSupported: true,
};

/** Kubernetes quantities ('25m', '800Mi'); `''` = not set. */
export interface QueueSidecarResourcesProps {
  readonly cpuRequest?: string;
  readonly cpuLimit?: string;
  readonly memoryRequest?: string;
  readonly memoryLimit?: string;
  readonly ephemeralStorageRequest?: string;
  readonly ephemeralStorageLimit?: string;
}

/**
 * The queue-proxy's resources when nothing is configured. CPU: Knative's config-deployment
 * default, a 25m request and no limit (a CPU limit only throttles the proxy). Memory: Knative's
 * own queue-proxy values (knative/serving pkg/deployment/config.go QueueSidecarMemoryRequestDefault
 * / QueueSidecarMemoryLimitDefault, 400Mi / 800Mi), which Knative applies with the
 * `queueproxy.resource-defaults` feature and we apply always: queue-proxy buffers requests and
 * responses, and without a limit a flood of slow clients grows it until the node runs out of
 * memory; with one, the kubelet restarts this one container instead. The request is set with the
 * limit because Kubernetes would otherwise make the request equal to the limit.
 */
export const DEFAULT_QUEUE_SIDECAR_RESOURCES: Required<QueueSidecarResourcesProps> = {
  cpuRequest: '25m',
  cpuLimit: '',
  memoryRequest: '400Mi',
  memoryLimit: '800Mi',
  ephemeralStorageRequest: '',
  ephemeralStorageLimit: '',
};

/** config-autoscaler (knative/serving pkg/autoscaler/config/config.go). Durations in seconds. */
export interface AutoscalerConfigProps {
  /** @default 70 */
  readonly containerConcurrencyTargetPercentage?: number;
  /** @default 100 */
  readonly containerConcurrencyTargetDefault?: number;
  /** @default 200 */
  readonly requestsPerSecondTargetDefault?: number;
  /** @default 211 */
  readonly targetBurstCapacity?: number;
  /** @default 60 */
  readonly stableWindowSeconds?: number;
  /** @default 10 */
  readonly panicWindowPercentage?: number;
  /** @default 200 */
  readonly panicThresholdPercentage?: number;
  /** @default 1000 */
  readonly maxScaleUpRate?: number;
  /** @default 2 */
  readonly maxScaleDownRate?: number;
  /** @default true */
  readonly enableScaleToZero?: boolean;
  /** @default 30 */
  readonly scaleToZeroGracePeriodSeconds?: number;
  /** @default 0 */
  readonly scaleToZeroPodRetentionPeriodSeconds?: number;
  /** @default 0 */
  readonly scaleDownDelaySeconds?: number;
  /** @default 'kpa.autoscaling.knative.dev' */
  readonly podAutoscalerClass?: string;
  /** @default 100 */
  readonly activatorCapacity?: number;
  /** @default 1 */
  readonly initialScale?: number;
  /** @default false */
  readonly allowZeroInitialScale?: boolean;
  /** @default 0 */
  readonly minScale?: number;
  /** @default 0 (unlimited) */
  readonly maxScale?: number;
  /** @default 0 (no limit) */
  readonly maxScaleLimit?: number;
}

export type ServingConfig = Required<Omit<ServingConfigProps, 'autoscaler' | 'queueSidecarResources' | 'gatewayApi'>> & {
  readonly autoscaler: Required<AutoscalerConfigProps>;
  readonly gatewayApi: Required<GatewayApiConfigProps>;
  readonly queueSidecarResources: Required<QueueSidecarResourcesProps>;
};

export const DEFAULT_AUTOSCALER_CONFIG: Required<AutoscalerConfigProps> = {
  containerConcurrencyTargetPercentage: 70,
  containerConcurrencyTargetDefault: 100,
  requestsPerSecondTargetDefault: 200,
  targetBurstCapacity: 211,
  stableWindowSeconds: 60,
  panicWindowPercentage: 10,
  panicThresholdPercentage: 200,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  enableScaleToZero: true,
  scaleToZeroGracePeriodSeconds: 30,
  scaleToZeroPodRetentionPeriodSeconds: 0,
  scaleDownDelaySeconds: 0,
  podAutoscalerClass: 'kpa.autoscaling.knative.dev',
  activatorCapacity: 100,
  initialScale: 1,
  allowZeroInitialScale: false,
  minScale: 0,
  maxScale: 0,
  maxScaleLimit: 0,
};

export const DEFAULT_SERVING_CONFIG: ServingConfig = {
  domain: 'example.com',
  domainTemplate: '{{.Name}}.{{.Namespace}}.{{.Domain}}',
  tagTemplate: '{{.Tag}}-{{.Name}}',
  externalGateway: Gateways.EXTERNAL,
  localGateway: Gateways.LOCAL,
  localGatewayService: Gateways.LOCAL_SERVICE,
  ingress: Ingress.ISTIO,
  gatewayApi: DEFAULT_GATEWAY_API_CONFIG,
  runtimeImage: DEFAULT_RUNTIME_IMAGE,
  revisionTimeoutSeconds: RevisionDefaults.TIMEOUT_SECONDS,
  maxRevisionTimeoutSeconds: RevisionDefaults.MAX_TIMEOUT_SECONDS,
  revisionResponseStartTimeoutSeconds: RevisionDefaults.TIMEOUT_SECONDS,
  revisionIdleTimeoutSeconds: 0,
  containerConcurrency: RevisionDefaults.CONTAINER_CONCURRENCY,
  autoscaler: DEFAULT_AUTOSCALER_CONFIG,
  queueSidecarResources: DEFAULT_QUEUE_SIDECAR_RESOURCES,
  tagHeaderBasedRouting: false,
};

export function resolveServingConfig(props: ServingConfigProps = {}): ServingConfig {
  return {
    ...DEFAULT_SERVING_CONFIG,
    // Knative's config-defaults: the response-start default follows revision-timeout-seconds.
    revisionResponseStartTimeoutSeconds: props.revisionTimeoutSeconds ?? DEFAULT_SERVING_CONFIG.revisionTimeoutSeconds,
    ...dropUndefined(props),
    autoscaler: { ...DEFAULT_AUTOSCALER_CONFIG, ...dropUndefined(props.autoscaler ?? {}) },
    queueSidecarResources: { ...DEFAULT_QUEUE_SIDECAR_RESOURCES, ...dropUndefined(props.queueSidecarResources ?? {}) },
    gatewayApi: { ...DEFAULT_GATEWAY_API_CONFIG, ...dropUndefined(props.gatewayApi ?? {}) },
  } as ServingConfig;
}

/** A revision's three timeouts as written (undefined = not set). */
export interface RevisionTimeoutsGiven {
  readonly timeoutSeconds?: number;
  readonly responseStartTimeoutSeconds?: number;
  readonly idleTimeoutSeconds?: number;
}

/**
 * Knative's RevisionSpec.SetDefaults (knative/serving pkg/apis/serving/v1/revision_defaults.go):
 * timeoutSeconds unset or 0 → revision-timeout-seconds; the response-start and idle timeouts,
 * when unset, get their config default only if it is non-zero and below the revision's timeout
 * (otherwise none: 0).
 */
export function defaultRevisionTimeouts(
  config: ServingConfig,
  given: RevisionTimeoutsGiven,
): Required<RevisionTimeoutsGiven> {
  const timeoutSeconds = given.timeoutSeconds ? given.timeoutSeconds : config.revisionTimeoutSeconds;
  const belowTimeout = (d: number) => (d !== 0 && d < timeoutSeconds ? d : 0);
  return {
    timeoutSeconds,
    responseStartTimeoutSeconds: given.responseStartTimeoutSeconds ?? belowTimeout(config.revisionResponseStartTimeoutSeconds),
    idleTimeoutSeconds: given.idleTimeoutSeconds ?? belowTimeout(config.revisionIdleTimeoutSeconds),
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Renders Knative's Go-template host templates. Only field references (`{{.Name}}`) are
 * supported, which is all Knative's documented templates use; anything else is reported.
 */
export function renderHostTemplate(template: string, fields: Record<string, string>): string {
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (match, key: string) => {
    const value = fields[key];
    if (value === undefined) throw new Error(`unknown template field ${match}`);
    return value;
  });
}

/** Template fields a host template may use, by template. */
export const HOST_TEMPLATE_FIELDS = {
  domainTemplate: ['Name', 'Namespace', 'Domain', 'Annotations', 'Labels'],
  tagTemplate: ['Tag', 'Name'],
} as const;

/** A host template that uses a field Knative does not give that template. */
export function hostTemplateProblem(field: keyof typeof HOST_TEMPLATE_FIELDS, template: string): string | undefined {
  try {
    renderHostTemplate(template, Object.fromEntries(HOST_TEMPLATE_FIELDS[field].map((k) => [k, 'x'])));
    return undefined;
  } catch (error) {
    return `${(error as Error).message}; allowed: ${HOST_TEMPLATE_FIELDS[field].map((k) => `{{.${k}}}`).join(', ')}`;
  }
}

/**
 * The serving config, defaulted once, with the rules between config fields and the config values
 * the CLI's --config schema cannot state as a type. One place for both front ends: the model
 * parses KService `config` props with it (parse.ts), the CLI its --config file
 * (cli/config-file.ts). Paths are relative to the config (the props put them under `config`).
 */
export function parseServingConfig(props: ServingConfigProps | undefined): Parsed<ServingConfig> {
  const config = resolveServingConfig(props);
  let errors = checkIngress(props).also(hostTemplateErrors(props), queueSidecarErrors(props), checkConfigValues(props ?? {}));
  if (config.revisionTimeoutSeconds > config.maxRevisionTimeoutSeconds) {
    errors = errors.also(FieldErrors.of(`must be at most maxRevisionTimeoutSeconds (${config.maxRevisionTimeoutSeconds})`, 'revisionTimeoutSeconds'));
  }
  const a = config.autoscaler;
  if (a.maxScaleLimit > 0 && a.maxScale > a.maxScaleLimit) {
    errors = errors.also(FieldErrors.of(`must be at most maxScaleLimit (${a.maxScaleLimit})`, 'autoscaler', 'maxScale'));
  }
  if (a.maxScale > 0 && a.minScale > a.maxScale) errors = errors.also(FieldErrors.of(`must be at most maxScale (${a.maxScale})`, 'autoscaler', 'minScale'));
  return { value: config, errors };
}

/** The config's problems only (ServingSystem, the CLI's --config file). */
export function checkServingConfig(props: ServingConfigProps | undefined): FieldErrors {
  return parseServingConfig(props).errors;
}

function hostTemplateErrors(props: ServingConfigProps | undefined): FieldErrors {
  return FieldErrors.none.also(
    ...(['domainTemplate', 'tagTemplate'] as const).map((field) => {
      const template = props?.[field];
      const problem = typeof template === 'string' ? hostTemplateProblem(field, template) : undefined;
      return problem ? FieldErrors.of(problem, field) : undefined;
    }),
  );
}

function queueSidecarErrors(props: ServingConfigProps | undefined): FieldErrors {
  const sidecar: unknown = props?.queueSidecarResources;
  return FieldErrors.none.also(
    ...Object.entries(typeof sidecar === 'object' && sidecar !== null ? sidecar : {}).map(([field, value]) =>
      typeof value === 'string' && value !== '' && !isQuantity(value)
        ? FieldErrors.of(`must be a Kubernetes quantity such as 25m or 800Mi, or '' for none, got "${value}"`, 'queueSidecarResources', field)
        : undefined,
    ),
  );
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_NAME_HINT = 'must be a DNS name such as knative-local-gateway.istio-system.svc.cluster.local';

/** [path under config, lowest, highest, whole numbers only, lowest excluded]. */
type NumberRule = readonly [string, number, number, boolean, boolean?];

/** The number ranges of config-defaults and config-autoscaler (knative/serving pkg/apis/config/defaults.go, pkg/autoscaler/config/config.go validate). */
const NUMBER_RULES: readonly NumberRule[] = [
  ['revisionTimeoutSeconds', 1, Infinity, true],
  ['maxRevisionTimeoutSeconds', 1, Infinity, true],
  ['revisionResponseStartTimeoutSeconds', 0, Infinity, true],
  ['revisionIdleTimeoutSeconds', 0, Infinity, true],
  ['containerConcurrency', 0, RevisionDefaults.CONTAINER_CONCURRENCY_MAX, true],
  ['autoscaler.containerConcurrencyTargetPercentage', 0, 100, false, true],
  ['autoscaler.containerConcurrencyTargetDefault', 0.01, Infinity, false],
  ['autoscaler.requestsPerSecondTargetDefault', 0.01, Infinity, false],
  ['autoscaler.targetBurstCapacity', -1, Infinity, false],
  ['autoscaler.stableWindowSeconds', 6, 3600, true],
  ['autoscaler.panicWindowPercentage', 1, 100, false],
  ['autoscaler.panicThresholdPercentage', 110, 1000, false],
  ['autoscaler.maxScaleUpRate', 1, Infinity, false, true],
  ['autoscaler.maxScaleDownRate', 1, Infinity, false, true],
  ['autoscaler.scaleToZeroGracePeriodSeconds', 6, 3600, true],
  ['autoscaler.scaleToZeroPodRetentionPeriodSeconds', 0, 3600, true],
  ['autoscaler.scaleDownDelaySeconds', 0, 3600, true],
  ['autoscaler.activatorCapacity', 1, Infinity, false],
  ['autoscaler.initialScale', 0, Infinity, true],
  ['autoscaler.minScale', 0, Infinity, true],
  ['autoscaler.maxScale', 0, Infinity, true],
  ['autoscaler.maxScaleLimit', 0, Infinity, true],
];

/** What a number rule asks for, in words. */
function numberRuleText([, min, max, whole, excludeMin]: NumberRule): string {
  const kind = whole ? 'a whole number' : 'a number';
  if (excludeMin) return max === Infinity ? `${kind} above ${min}` : `${kind} above ${min} and at most ${max}`;
  return max === Infinity ? `${kind} of at least ${min}` : `${kind} from ${min} to ${max}`;
}

/**
 * Values of single config fields: names and references, and number ranges. The CLI's --config
 * schema states only their types, so a value is judged here once, for the file and the prop.
 */
function checkConfigValues(props: ServingConfigProps): FieldErrors {
  let errors = FieldErrors.none;
  const names: [string, unknown, RegExp | 'gateway', string][] = [
    ['domain', props.domain, DNS_SUBDOMAIN, 'must be a DNS domain such as example.com'],
    ['externalGateway', props.externalGateway, 'gateway', 'must be NAMESPACE/NAME of an Istio Gateway'],
    ['localGateway', props.localGateway, 'gateway', 'must be NAMESPACE/NAME of an Istio Gateway'],
    ['localGatewayService', props.localGatewayService, DNS_SUBDOMAIN, DNS_NAME_HINT],
    ['gatewayApi.localGatewayService', props.gatewayApi?.localGatewayService, DNS_SUBDOMAIN, DNS_NAME_HINT],
    ['gatewayApi.gatewayClassName', props.gatewayApi?.gatewayClassName, DNS_SUBDOMAIN, 'must be a GatewayClass name such as istio'],
  ];
  for (const [path, value, rule, hint] of names) {
    if (typeof value !== 'string') continue;
    const ok = rule === 'gateway' ? isGatewayRef(value) : rule.test(value);
    if (!ok) errors = errors.also(FieldErrors.of(hint, ...path.split('.')));
  }
  for (const rule of NUMBER_RULES) {
    const [path, min, max, whole, excludeMin] = rule;
    const value = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], props);
    if (typeof value !== 'number') continue;
    const ok = (!whole || Number.isInteger(value)) && (excludeMin ? value > min : value >= min) && value <= max;
    if (!ok) errors = errors.also(FieldErrors.of(`must be ${numberRuleText(rule)}, got ${value}`, ...path.split('.')));
  }
  return errors;
}

function isGatewayRef(ref: string): boolean {
  const [namespace, name, ...rest] = ref.split('/');
  return rest.length === 0 && isDns1123Label(namespace) && name !== undefined && isDns1123Label(name);
}
