/**
 * Knative Serving's fixed facts: ports, label and annotation keys, header names and defaults.
 * Values carry over from Knative's source (repository and path noted per group) so that the
 * compiled graph and Knative's own components agree on the wire.
 */

/** queue-proxy and activator ports (knative/serving pkg/networking/constants.go, pkg/reconciler/revision/resources/queue.go). */
export const Ports = {
  /** The port the app listens on when the user declares none. */
  DEFAULT_USER_PORT: 8080,
  QUEUE_HTTP: 8012,
  QUEUE_H2C: 8013,
  QUEUE_HTTPS: 8112,
  QUEUE_ADMIN: 8022,
  QUEUE_METRICS: 9090,
  QUEUE_USER_METRICS: 9091,
  PROFILING: 8008,
  /** Public Service port for HTTP/1 revisions. */
  SERVICE_HTTP: 80,
  /** Public Service port for h2c revisions. */
  SERVICE_H2C: 81,
  SERVICE_HTTPS: 443,
  /**
   * The autoscaler's HTTP port (the activator's pushed stats and `/poke`): the compiled
   * autoscaler container and Service expose it, the activator dials it, the autoscaler listens on
   * it unless AUTOSCALER_HTTP_PORT says otherwise.
   */
  AUTOSCALER_HTTP: 8080,
  /** Ports a user container may not use (knative/serving pkg/apis/serving/k8s_validation.go); 8112 is added because our queue-proxy binds it. */
  RESERVED: [8012, 8013, 8022, 9090, 9091, 8008, 8112] as readonly number[],
} as const;

/** Label keys (knative/serving pkg/apis/serving/register.go). */
export const Labels = {
  SERVICE: 'serving.knative.dev/service',
  CONFIGURATION: 'serving.knative.dev/configuration',
  CONFIGURATION_GENERATION: 'serving.knative.dev/configurationGeneration',
  REVISION: 'serving.knative.dev/revision',
  ROUTE: 'serving.knative.dev/route',
  ROUTE_NAMESPACE: 'serving.knative.dev/routeNamespace',
  ROUTING_STATE: 'serving.knative.dev/routingState',
  SERVERLESS_SERVICE: 'networking.internal.knative.dev/serverlessservice',
  SERVICE_TYPE: 'networking.internal.knative.dev/serviceType',
  INGRESS: 'networking.internal.knative.dev/ingress',
  VISIBILITY: 'networking.knative.dev/visibility',
  APP: 'app',
} as const;

export const Annotations = {
  ROUTES: 'serving.knative.dev/routes',
  DEFAULT_CONTAINER: 'kubectl.kubernetes.io/default-container',
  LAST_APPLIED: 'kubectl.kubernetes.io/last-applied-configuration',
  INGRESS_CLASS: 'networking.knative.dev/ingress.class',
  PROGRESS_DEADLINE: 'serving.knative.dev/progress-deadline',
  /** On the Service (knative/serving pkg/apis/serving/register.go RolloutDurationKey). */
  ROLLOUT_DURATION: 'serving.knative.dev/rollout-duration',
  /** On the revision template: Enabled or Disabled (knative/serving pkg/apis/serving/register.go). */
  HTTP_FULL_DUPLEX: 'features.knative.dev/http-full-duplex',
} as const;

export const VISIBILITY_CLUSTER_LOCAL = 'cluster-local';
export const ISTIO_INGRESS_CLASS = 'istio.ingress.networking.knative.dev';

/** Request headers the data plane reads or writes (knative.dev/networking pkg/http/header/header.go). */
export const Headers = {
  REVISION: 'Knative-Serving-Revision',
  NAMESPACE: 'Knative-Serving-Namespace',
  ORIGINAL_HOST: 'K-Original-Host',
  PROXY_REQUEST: 'K-Proxy-Request',
  NETWORK_PROBE: 'K-Network-Probe',
  NETWORK_HASH: 'K-Network-Hash',
  /** The tag a request asks for (tag-header-based routing) or was routed by (knative.dev/networking RouteTagKey). */
  ROUTE_TAG: 'Knative-Serving-Tag',
  /** Set to "true" on the default route when tag-header-based routing is on (knative.dev/networking DefaultRouteKey). */
  DEFAULT_ROUTE: 'Knative-Serving-Default-Route',
} as const;

/**
 * Request headers only the runtime may set, so every route removes them from client requests
 * (Istio `headers.request.remove` in lib/builders/virtual-service.ts; any other route output
 * should strip the same list). What each would let a client do:
 * - K-Proxy-Request: the queue-proxy counts the request as the activator's (proxied), hiding
 *   the client's load from the autoscaler;
 * - K-Original-Host: the activator keeps it and the queue-proxy turns it into the Host the app sees;
 * - K-Network-Probe: the queue-proxy and activator answer the request as a probe (runs the
 *   readiness check, skips the concurrency limit and the request stats) instead of serving it;
 * - K-Network-Hash: belongs to net-istio's ingress probe, whose routes are not emitted here.
 * Knative-Serving-Revision/-Namespace are not listed: each route destination sets them, so a
 * client's values are overwritten.
 */
export const RUNTIME_ONLY_HEADERS: readonly string[] = [
  Headers.PROXY_REQUEST,
  Headers.ORIGINAL_HOST,
  Headers.NETWORK_PROBE,
  Headers.NETWORK_HASH,
];

/**
 * The user container's preStop hook calls the queue-proxy's admin port at WAIT_FOR_DRAIN_PATH
 * with DRAIN_TOKEN_HEADER; the queue-proxy gets the same token in DRAIN_TOKEN_ENV and answers
 * 403 to a call without it (lib/builders/drain-token.ts says how the token is derived).
 */
export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';
export const DRAIN_TOKEN_HEADER = 'K-Drain-Token';
export const DRAIN_TOKEN_ENV = 'QUEUE_DRAIN_TOKEN';

export const SYSTEM_NAMESPACE = 'knative-serving';

/**
 * Env vars the platform sets on every serving container (knative/serving
 * pkg/reconciler/revision/resources/env_var.go and deploy.go): lib/builders/user-container.ts sets
 * them, and lib/model/parse-revision.ts refuses them as user env (they are reserved).
 */
export const UserContainerEnv = {
  PORT: 'PORT',
  REVISION: 'K_REVISION',
  CONFIGURATION: 'K_CONFIGURATION',
  SERVICE: 'K_SERVICE',
} as const;

/**
 * Env var names of the queue-proxy container: Knative's contract, in the order Knative sets them
 * (knative/serving pkg/reconciler/revision/resources/queue.go). lib/builders/queue-proxy-container.ts
 * sets them, lib/runtime/queue-proxy/config.ts reads (or knowingly ignores) them. Our own
 * DRAIN_TOKEN_ENV comes after them.
 */
export const QueueEnv = {
  SERVING_NAMESPACE: 'SERVING_NAMESPACE',
  SERVING_SERVICE: 'SERVING_SERVICE',
  SERVING_CONFIGURATION: 'SERVING_CONFIGURATION',
  SERVING_REVISION: 'SERVING_REVISION',
  QUEUE_SERVING_PORT: 'QUEUE_SERVING_PORT',
  QUEUE_SERVING_TLS_PORT: 'QUEUE_SERVING_TLS_PORT',
  CONTAINER_CONCURRENCY: 'CONTAINER_CONCURRENCY',
  REVISION_TIMEOUT_SECONDS: 'REVISION_TIMEOUT_SECONDS',
  REVISION_RESPONSE_START_TIMEOUT_SECONDS: 'REVISION_RESPONSE_START_TIMEOUT_SECONDS',
  REVISION_IDLE_TIMEOUT_SECONDS: 'REVISION_IDLE_TIMEOUT_SECONDS',
  SERVING_POD: 'SERVING_POD',
  SERVING_POD_IP: 'SERVING_POD_IP',
  SERVING_LOGGING_CONFIG: 'SERVING_LOGGING_CONFIG',
  SERVING_LOGGING_LEVEL: 'SERVING_LOGGING_LEVEL',
  USER_PORT: 'USER_PORT',
  SYSTEM_NAMESPACE: 'SYSTEM_NAMESPACE',
  SERVING_READINESS_PROBE: 'SERVING_READINESS_PROBE',
  HOST_IP: 'HOST_IP',
  ENABLE_HTTP2_AUTO_DETECTION: 'ENABLE_HTTP2_AUTO_DETECTION',
  ENABLE_HTTP_FULL_DUPLEX: 'ENABLE_HTTP_FULL_DUPLEX',
  ROOT_CA: 'ROOT_CA',
  QUEUE_PROXY_TLS_MIN_VERSION: 'QUEUE_PROXY_TLS_MIN_VERSION',
  QUEUE_PROXY_TLS_MAX_VERSION: 'QUEUE_PROXY_TLS_MAX_VERSION',
  QUEUE_PROXY_TLS_CIPHER_SUITES: 'QUEUE_PROXY_TLS_CIPHER_SUITES',
  QUEUE_PROXY_TLS_CURVE_PREFERENCES: 'QUEUE_PROXY_TLS_CURVE_PREFERENCES',
  ENABLE_MULTI_CONTAINER_PROBES: 'ENABLE_MULTI_CONTAINER_PROBES',
  OBSERVABILITY_CONFIG: 'OBSERVABILITY_CONFIG',
} as const;

/**
 * Env var names the compiled activator and autoscaler containers get (systemEnv in
 * lib/builders/serving-system.ts) and lib/runtime/{activator,autoscaler}/config.ts read.
 */
export const SystemEnv = {
  SYSTEM_NAMESPACE: 'SYSTEM_NAMESPACE',
  POD_NAME: 'POD_NAME',
  POD_IP: 'POD_IP',
  /**
   * Optional, comma-separated: restricts the runtime to these namespaces (one watch per namespace
   * and resource, namespaced Roles suffice). The compiled runtime leaves it unset and watches all
   * namespaces by label, so a new namespace needs no change to the runtime.
   */
  KSERVICE_NAMESPACES: 'KSERVICE_NAMESPACES',
  /** The autoscaler's bucket count when not AUTOSCALER_BUCKETS (set with the Role's Lease names, at synth time). */
  AUTOSCALER_BUCKETS: 'AUTOSCALER_BUCKETS',
} as const;

/**
 * Objects in SYSTEM_NAMESPACE that the compiler emits (lib/builders/serving-system.ts, rbac.ts)
 * and the runtime finds by name (lib/runtime/**); declared here so the two cannot drift. The
 * Deployment, Service, ServiceAccount and Endpoints of each component share its name, as in
 * Knative (knative/serving config/core/deployments/activator.yaml, autoscaler.yaml).
 */
export const ACTIVATOR = 'activator';
/** The activator Service whose Endpoints list the ready activators (knative/serving config/core/deployments/activator.yaml). */
export const ACTIVATOR_SERVICE = 'activator-service';
export const AUTOSCALER = 'autoscaler';
/** knative/serving config/core/configmaps/autoscaler.yaml. */
export const CONFIG_AUTOSCALER = 'config-autoscaler';
/** The Lease the autoscaler replicas elect a leader with (the Role names it in resourceNames). */
export const AUTOSCALER_LEASE = 'kservice-autoscaler';
/**
 * How many buckets the autoscaler's revisions are hashed into, one Lease each; a replica scrapes,
 * decides and writes only for the revisions of the buckets it holds (naming.ts
 * autoscalerBucketLeases; lib/runtime/autoscaler/buckets.ts). Knative's default, `buckets: 1` in
 * config-leader-election: one replica works, the others stand by without scraping. More buckets
 * let the replicas split the work: ServingSystem `autoscalerBuckets` sets the count, in the
 * Role's Lease names and the autoscaler's env (SystemEnv.AUTOSCALER_BUCKETS) together.
 */
export const AUTOSCALER_BUCKETS = 1;
/** Bucket Leases are named `PREFIX-NN-of-MM` (knative/serving pkg/autoscaler/bucket/bucket.go: `autoscaler-bucket-00-of-01`). */
export const AUTOSCALER_BUCKET_PREFIX = 'kservice-autoscaler-bucket';
/**
 * The `fieldManager` the autoscaler's writes carry (lib/runtime/kube/client.ts says why). The
 * same text as AUTOSCALER_LEASE, but a different fact: one can change without the other.
 */
export const AUTOSCALER_FIELD_MANAGER = 'kservice-autoscaler';

/**
 * K-Network-Probe values: the kubelet's (and the activator's) probe of the queue-proxy carries
 * `queue`, the kubelet's probe of the activator carries `activator`; each answers with its value.
 * K-Proxy-Request's value is `activator` too: the activator marks what it forwards, as Knative's does.
 */
export const ProbeValues = {
  QUEUE: 'queue',
  ACTIVATOR,
} as const;
export const PROXY_REQUEST_ACTIVATOR = ACTIVATOR;

/**
 * User-Agent values of probes (knative.dev/networking pkg/http/header/header.go): the kubelet's
 * prefix, and what the activator's, the queue-proxy's and an autoscaler's probes send. The
 * queue-proxy answers the kubelet's and the activator's/autoscaler's as health checks
 * (knative/serving pkg/queue/sharedmain/handlers.go).
 */
export const ProbeUserAgents = {
  KUBELET_PREFIX: 'kube-probe/',
  ACTIVATOR: 'Knative-Activator-Probe',
  QUEUE_PROXY: 'Knative-Queue-Proxy-Probe',
  AUTOSCALING: 'Knative-Autoscaling-Probe',
} as const;
export const USER_CONTAINER_NAME = 'user-container';
export const QUEUE_CONTAINER_NAME = 'queue-proxy';

/** Revision-level defaults from config-defaults (knative/serving pkg/apis/config/defaults.go). */
/**
 * Kubernetes' int32 fields (replicas, HPA min/maxReplicas, averageUtilization): the largest value
 * a scale or target annotation may carry and still become a valid object.
 */
export const MAX_INT32 = 2147483647;

export const RevisionDefaults = {
  TIMEOUT_SECONDS: 300,
  MAX_TIMEOUT_SECONDS: 600,
  CONTAINER_CONCURRENCY: 0,
  CONTAINER_CONCURRENCY_MAX: 1000,
  PROGRESS_DEADLINE_SECONDS: 600,
} as const;

/**
 * Where a sidecar-less revision (data-plane mode `activator`) keeps what the queue-proxy's env
 * carries in mode `full` (CONTAINER_CONCURRENCY, REVISION_TIMEOUT_SECONDS,
 * REVISION_RESPONSE_START_TIMEOUT_SECONDS, REVISION_IDLE_TIMEOUT_SECONDS): annotations on the
 * revision's Deployment, written by the compiler and read by the activator, which enforces them.
 * The app's port and readiness probe are read from the serving container itself.
 */
export const RevisionAnnotations = {
  CONTAINER_CONCURRENCY: 'kservice.cdk8s.io/container-concurrency',
  TIMEOUT_SECONDS: 'kservice.cdk8s.io/timeout-seconds',
  RESPONSE_START_TIMEOUT_SECONDS: 'kservice.cdk8s.io/response-start-timeout-seconds',
  IDLE_TIMEOUT_SECONDS: 'kservice.cdk8s.io/idle-timeout-seconds',
} as const;

/**
 * Seconds every container of a sidecar-less revision (data-plane modes `activator` and `direct`)
 * sleeps in its preStop hook, Kubernetes' native `lifecycle.preStop.sleep` action (KEP-3960, on by
 * default since Kubernetes 1.30), before it gets SIGTERM. Without a queue-proxy nothing drains the
 * pod; once the pod is terminating the private Endpoints (activator mode) or the public Service's
 * Endpoints (direct mode) drop it, and the sleep covers the time until the activator or kube-proxy
 * has seen that, so no new request reaches a pod that is shutting down. Requests already in flight
 * then have the rest of the grace period (sleep + revision timeout). Informers and kube-proxy see an
 * Endpoints change within about a second on a healthy cluster; 5 s leaves room for a busy one.
 */
export const PRE_STOP_SLEEP_SECONDS = 5;

/** Gateways and their Services (knative-extensions/net-istio config/202-gateway.yaml, 203-local-gateway.yaml). */
export const Gateways = {
  EXTERNAL: 'knative-serving/knative-ingress-gateway',
  LOCAL: 'knative-serving/knative-local-gateway',
  EXTERNAL_SERVICE: 'istio-ingressgateway.istio-system.svc.cluster.local',
  LOCAL_SERVICE: 'knative-local-gateway.istio-system.svc.cluster.local',
  MESH: 'mesh',
} as const;

/**
 * The runtime image every revision's queue-proxy and the system Deployments use unless told
 * otherwise. Built from this repository's Dockerfile.
 */
export const DEFAULT_RUNTIME_IMAGE = 'ghcr.io/cdk8s-kservice/runtime:0.1.0';

/**
 * config-logging's default `zap-logger-config`, which Knative hands its queue-proxy as
 * SERVING_LOGGING_CONFIG. Our queue-proxy logs with pino and ignores it; it is emitted so that the
 * compiled Deployment also runs Knative's own queue image unchanged.
 */
export const KNATIVE_ZAP_LOGGER_CONFIG = JSON.stringify({
  level: 'info',
  development: false,
  outputPaths: ['stdout'],
  errorOutputPaths: ['stderr'],
  encoding: 'json',
  encoderConfig: {
    timeKey: 'timestamp',
    levelKey: 'severity',
    nameKey: 'logger',
    callerKey: 'caller',
    messageKey: 'message',
    stacktraceKey: 'stacktrace',
    lineEnding: '',
    levelEncoder: '',
    timeEncoder: 'iso8601',
    durationEncoder: '',
    callerEncoder: '',
    nameEncoder: '',
  },
});
