/**
 * The public props of the KService construct: a typed mirror of Knative's `serving.knative.dev/v1`
 * Service (`metadata` + `spec.template` + `spec.traffic`). Pod and container fields are typed with
 * kubernetes-models interfaces and pass through to the Deployment as plain JSON, so YAML in is
 * YAML out. The CLI maps Knative YAML onto exactly these props.
 */
import type { Duration } from 'cdk8s';
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { ITopologySpreadConstraint } from 'kubernetes-models/v1/TopologySpreadConstraint';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { ServingConfigProps } from '../contract/config';

/** Who may reach a service: everyone through the ingress gateway, or only the cluster. */
export enum Visibility {
  /** External host `NAME.NS.<domain>` on the ingress gateway plus the cluster-local hosts. */
  EXTERNAL = 'external',
  /** Only `NAME.NS.svc.cluster.local` (Knative's `networking.knative.dev/visibility: cluster-local`). */
  CLUSTER_LOCAL = 'cluster-local',
}

/**
 * What sits in a revision's request path (its data-plane mode), chosen per revision with
 * `RevisionTemplateProps.dataPlane` or, in Knative YAML, the revision template annotation
 * `kservice.cdk8s.io/data-plane` (values as below). The same names as `DataPlaneModes` in
 * lib/contract/data-plane.ts, which the runtime reads from the Deployment.
 */
export enum DataPlane {
  /**
   * Knative's model: the queue-proxy sidecar in every pod; the public Service has no selector and
   * the runtime (activator + autoscaler) flips its Endpoints between the activator (at low scale)
   * and the pods. Scale to zero, buffering, per-pod concurrency limits. Needs the ServingSystem.
   */
  FULL = 'full',
  /**
   * No queue-proxy sidecar: the activator stays in the path at every scale (the runtime keeps the
   * activator IPs in the public Endpoints) and does the sidecar's work: containerConcurrency, the
   * revision's timeouts, the app's readiness probe (httpGet with the HTTP scheme, or tcpSocket).
   * The Deployment carries those settings as `kservice.cdk8s.io/*` annotations; pods drain with a
   * native `preStop.sleep`. Saves a container (CPU, memory, a proxy hop) per pod and keeps scale to
   * zero, at the cost of an extra network hop through the activator for every request and the
   * activators' capacity. Needs the ServingSystem.
   */
  ACTIVATOR = 'activator',
  /**
   * No sidecar, no activator: the public Service selects the revision's pods (targetPort = the
   * app's port), so Kubernetes fills its Endpoints and the revision works without the runtime.
   * The leanest path (client → app), but no scale to zero, no buffering, no concurrency limit and
   * no request timeouts enforced by the platform. Needs min-scale >= 1; with the KPA class nothing
   * measures load, so replicas are fixed (min-scale = max-scale, pinned in the Deployment); the
   * HPA class scales it on CPU or memory.
   */
  DIRECT = 'direct',
  /**
   * Permanent "Serve" mode (the SKS mode of knative/serving pkg/reconciler/serverlessservice/serverlessservice.go):
   * the queue-proxy sidecar stays (concurrency limit, timeouts, drain), but the public Service
   * selects the revision's pods, so Kubernetes fills its Endpoints and the service works without
   * the runtime. Loses scale to zero and activator buffering, so it requires min-scale >= 1.
   */
  STATIC = 'static',
}

/** One HTTP header a probe sends (Kubernetes `HTTPHeader`). */
export interface ProbeHttpHeader {
  /** Header name; case-variant names are the same header. */
  readonly name: string;
  /** Header value. */
  readonly value: string;
}

/**
 * An HTTP GET probe (Kubernetes `HTTPGetAction`) whose `port` may be left out.
 */
export interface HttpGetProbeAction {
  /** @default the pod IP */
  readonly host?: string;
  /** Headers to send; HTTP allows repeated headers. @default none */
  readonly httpHeaders?: readonly ProbeHttpHeader[];
  /** @default '/' (Kubernetes) */
  readonly path?: string;
  /** Port number (1..65535) or IANA_SVC_NAME. @default the user port (Knative) */
  readonly port?: number | string;
  /** @default 'HTTP' */
  readonly scheme?: 'HTTP' | 'HTTPS';
}

/** A TCP probe (Kubernetes `TCPSocketAction`) whose `port` may be left out. */
export interface TcpSocketProbeAction {
  /** @default the pod IP */
  readonly host?: string;
  /** Port number (1..65535) or IANA_SVC_NAME. @default the user port (Knative) */
  readonly port?: number | string;
}

/** A gRPC health probe (Kubernetes `GRPCAction`) whose `port` may be left out. */
export interface GrpcProbeAction {
  /** Port number, 1..65535. @default the user port (Knative) */
  readonly port?: number;
  /** The service named in the gRPC HealthCheckRequest. @default gRPC's default (the server) */
  readonly service?: string;
}

/** A command run in the container (Kubernetes `ExecAction`); exit status 0 is healthy. */
export interface ExecProbeAction {
  /** The command line, exec'd without a shell. @default none */
  readonly command?: readonly string[];
}

/**
 * A Kubernetes probe whose httpGet/tcpSocket/grpc `port` may be left out: Knative defaults it to
 * the user port (knative/serving pkg/apis/serving/v1/revision_defaults.go), so
 * `{ httpGet: { path: '/healthz' } }` is a complete probe. The fields are Kubernetes' `Probe`
 * (k8s.io/api core/v1 types.go), written out rather than derived so the type has no mapped types.
 */
export interface Probe {
  /** @default none */
  readonly exec?: ExecProbeAction;
  /** @default none */
  readonly httpGet?: HttpGetProbeAction;
  /** @default none */
  readonly tcpSocket?: TcpSocketProbeAction;
  /** @default none */
  readonly grpc?: GrpcProbeAction;
  /** Seconds after the container started before the first probe. @default 0 */
  readonly initialDelaySeconds?: number;
  /** Seconds between probes, >= 1. @default 10 (Kubernetes) */
  readonly periodSeconds?: number;
  /** Seconds after which a probe times out, >= 1. @default 1 (Kubernetes) */
  readonly timeoutSeconds?: number;
  /** Consecutive successes to count as healthy after a failure; 1 for liveness and startup. @default 1 */
  readonly successThreshold?: number;
  /** Consecutive failures to count as failed. @default 3 (Kubernetes) */
  readonly failureThreshold?: number;
  /** Grace period on probe failure (liveness, startup). @default the pod's terminationGracePeriodSeconds */
  readonly terminationGracePeriodSeconds?: number;
}

/** A ConfigMap or Secret by name (Kubernetes `ConfigMapEnvSource`, `SecretEnvSource`). */
export interface EnvSourceReference {
  /** The ConfigMap's or Secret's name. */
  readonly name?: string;
  /** Start the container even when it does not exist. @default false */
  readonly optional?: boolean;
}

/** Environment variables from every key of a ConfigMap or Secret (Kubernetes `EnvFromSource`). */
export interface EnvFromSource {
  /** @default none */
  readonly configMapRef?: EnvSourceReference;
  /** @default none */
  readonly secretRef?: EnvSourceReference;
  /** Prepended to each variable name (a C_IDENTIFIER). @default none */
  readonly prefix?: string;
}

/** An object in the pod's namespace by name (Kubernetes `LocalObjectReference`), e.g. a pull secret. */
export interface LocalObjectReference {
  /** The object's name. */
  readonly name?: string;
}

/** A taint the pods tolerate (Kubernetes `Toleration`). */
export interface Toleration {
  /** The taint key; empty matches every key (with operator Exists). @default all keys */
  readonly key?: string;
  /** @default 'Equal' */
  readonly operator?: 'Equal' | 'Exists';
  /** The taint value (empty with Exists). @default none */
  readonly value?: string;
  /** @default all effects */
  readonly effect?: 'NoExecute' | 'NoSchedule' | 'PreferNoSchedule';
  /** With effect NoExecute: how long the pod stays after the taint appears. @default forever */
  readonly tolerationSeconds?: number;
}

/** An /etc/hosts entry of the pods (Kubernetes `HostAlias`). */
export interface HostAlias {
  readonly ip: string;
  /** @default none */
  readonly hostnames?: readonly string[];
}

/** One resolver option of `PodDnsConfig` (Kubernetes `PodDNSConfigOption`). */
export interface PodDnsConfigOption {
  readonly name?: string;
  /** @default none */
  readonly value?: string;
}

/** DNS settings merged with those of `dnsPolicy` (Kubernetes `PodDNSConfig`). */
export interface PodDnsConfig {
  /** @default none */
  readonly nameservers?: readonly string[];
  /** @default none */
  readonly searches?: readonly string[];
  /** @default none */
  readonly options?: readonly PodDnsConfigOption[];
}

/** The HTTP protocol the user container speaks on its port (knative/serving pkg/reconciler/revision/resources/queue.go). */
export type PortName = 'http1' | 'h2c';

/** One user container: the subset of a Kubernetes container that Knative allows. */
export interface ContainerProps {
  /**
   * Container name.
   * @default 'user-container' (with several unnamed containers: 'user-container-0', '-1', ...)
   */
  readonly name?: string;
  /** Image reference. Passed through unchanged (no digest resolution in a static graph). */
  readonly image: string;
  /**
   * The port the container serves on (Knative allows at most one per pod). Only the serving
   * container may set it.
   * @default 8080 for the serving container
   */
  readonly port?: number;
  /**
   * Protocol of `port`: 'h2c' moves queue-proxy to 8013 and the public Service to port 81.
   * @default 'http1'
   */
  readonly portName?: PortName;
  /**
   * Environment. A record keeps declaration order; a list passes through as written
   * (valueFrom allowed).
   * @default none
   */
  readonly env?: { readonly [key: string]: string } | readonly IEnvVar[];
  /** @default none */
  readonly envFrom?: readonly EnvFromSource[];
  /** @default the image's entrypoint */
  readonly command?: readonly string[];
  /** @default the image's cmd */
  readonly args?: readonly string[];
  /** @default the image's working directory */
  readonly workingDir?: string;
  /** @default none (config-defaults revision-* resources are not modelled) */
  readonly resources?: IResourceRequirements;
  /**
   * Readiness probe. HTTP/TCP/gRPC probes move to queue-proxy (SERVING_READINESS_PROBE); exec
   * probes stay on the container.
   * @default TCP on the user port, run by queue-proxy
   */
  readonly readinessProbe?: Probe;
  /** Liveness probe; its HTTP/TCP port is rewritten to the user port. @default none */
  readonly livenessProbe?: Probe;
  /** @default none */
  readonly startupProbe?: Probe;
  /** Mounts; mounts of non-emptyDir volumes are forced readOnly, as in Knative. @default none */
  readonly volumeMounts?: readonly IVolumeMount[];
  /** Passed through as written. @default none */
  readonly securityContext?: ISecurityContext;
  /** @default Kubernetes' default for the tag */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** @default '/dev/termination-log' (Kubernetes) */
  readonly terminationMessagePath?: string;
  /** @default 'FallbackToLogsOnError' */
  readonly terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
}

/** Autoscaler implementation: `autoscaling.knative.dev/class`. */
export class AutoscalingClass {
  /** Knative Pod Autoscaler, served by this project's runtime. Supports scale to zero. */
  public static readonly KPA = new AutoscalingClass('kpa.autoscaling.knative.dev');
  /** Kubernetes HorizontalPodAutoscaler (`autoscaling/v2`). No scale to zero. */
  public static readonly HPA = new AutoscalingClass('hpa.autoscaling.knative.dev');
  /** Any other class name (validated like Knative: `*.knative.dev` classes must be KPA/HPA). */
  public static of(value: string): AutoscalingClass {
    return new AutoscalingClass(value);
  }
  private constructor(public readonly value: string) {}
}

/** Scaling metric: `autoscaling.knative.dev/metric`. */
export class AutoscalingMetric {
  /** In-flight requests per pod (KPA default). */
  public static readonly CONCURRENCY = new AutoscalingMetric('concurrency');
  /** Requests per second per pod (KPA). */
  public static readonly RPS = new AutoscalingMetric('rps');
  /** CPU utilization percent (HPA default). */
  public static readonly CPU = new AutoscalingMetric('cpu');
  /** Memory MiB per pod (HPA). */
  public static readonly MEMORY = new AutoscalingMetric('memory');
  /** A custom (Pods) metric for the HPA class. */
  public static custom(name: string): AutoscalingMetric {
    return new AutoscalingMetric(name);
  }
  private constructor(public readonly value: string) {}
}

/**
 * Typed autoscaling settings, written onto the template as Knative's canonical
 * `autoscaling.knative.dev/*` annotations (knative/serving pkg/apis/autoscaling/register.go). Unset fields fall back to
 * config-autoscaler. Raw annotations in `templateAnnotations` are accepted too; a typed field
 * wins over the same raw annotation.
 */
export interface AutoscalingProps {
  /** @default AutoscalingClass.KPA (config `pod-autoscaler-class`) */
  readonly class?: AutoscalingClass;
  /** @default CONCURRENCY for KPA, CPU for HPA */
  readonly metric?: AutoscalingMetric;
  /** Per-pod target (concurrency, RPS, CPU percent or memory MiB). @default from config */
  readonly target?: number;
  /** 1..100. @default 70 (config container-concurrency-target-percentage) */
  readonly targetUtilizationPercentage?: number;
  /** @default 0 (scale to zero) */
  readonly minScale?: number;
  /** @default 0 (unlimited) */
  readonly maxScale?: number;
  /** Replicas at creation; the Deployment's `replicas`. @default 1 */
  readonly initialScale?: number;
  /** Minimum replicas when scaling up from zero (>= 2 when set). @default 1 */
  readonly activationScale?: number;
  /** Stable window, 6s..1h, whole seconds. @default 60s */
  readonly window?: Duration;
  /** Panic window as a percentage of the stable window, 1..100. @default 10 */
  readonly panicWindowPercentage?: number;
  /** 110..1000. @default 200 */
  readonly panicThresholdPercentage?: number;
  /** 0..1h. @default 0s */
  readonly scaleDownDelay?: Duration;
  /** 0..1h. @default 0s */
  readonly scaleToZeroPodRetentionPeriod?: Duration;
  /** Requests of spare capacity before the activator leaves the path; -1 = always. @default 211 */
  readonly targetBurstCapacity?: number;
}

/** Everything under a Knative `spec.template`: one revision's pod and serving settings. */
export interface RevisionTemplateProps {
  /** At least one container; with several, exactly one sets `port` (the serving container). */
  readonly containers: readonly ContainerProps[];
  /** Hard limit of in-flight requests per pod, 0..1000; 0 = unlimited. @default 0 (config) */
  readonly containerConcurrency?: number;
  /** Request timeout, at most 600s; also the pod's terminationGracePeriodSeconds. @default 300s */
  readonly timeout?: Duration;
  /** Time to the first response byte; must be <= timeout. @default none (0) */
  readonly responseStartTimeout?: Duration;
  /** Longest gap between response writes; must be <= timeout. @default none (0) */
  readonly idleTimeout?: Duration;
  /** Typed autoscaling annotations. @default config-autoscaler defaults */
  readonly autoscaling?: AutoscalingProps;
  /**
   * What sits in this revision's request path (see `DataPlane`). Wins over a
   * `kservice.cdk8s.io/data-plane` entry in `templateAnnotations`.
   * @default the annotation, else the service's `dataPlane`, else DataPlane.FULL
   */
  readonly dataPlane?: DataPlane;
  /** `spec.template.metadata.labels`. @default none */
  readonly templateLabels?: { readonly [key: string]: string };
  /**
   * `spec.template.metadata.annotations`, raw; autoscaling annotations and their camelCase
   * aliases are accepted here as in Knative.
   * @default none
   */
  readonly templateAnnotations?: { readonly [key: string]: string };
  /** @default the namespace's default ServiceAccount */
  readonly serviceAccountName?: string;
  /** @default none */
  readonly imagePullSecrets?: readonly LocalObjectReference[];
  /** @default none */
  readonly volumes?: readonly IVolume[];
  /** @default none */
  readonly nodeSelector?: { readonly [key: string]: string };
  /** @default none */
  readonly tolerations?: readonly Toleration[];
  /** @default preferred anti-affinity spreading the revision's pods over nodes */
  readonly affinity?: IAffinity;
  /** @default none */
  readonly securityContext?: IPodSecurityContext;
  /** @default none */
  readonly runtimeClassName?: string;
  /** @default none */
  readonly priorityClassName?: string;
  /** @default false (config-defaults enable-service-links) */
  readonly enableServiceLinks?: boolean;
  /** @default Kubernetes' default */
  readonly automountServiceAccountToken?: boolean;
  /** @default none */
  readonly hostAliases?: readonly HostAlias[];
  /** @default Kubernetes' default (ClusterFirst) */
  readonly dnsPolicy?: string;
  /** @default none */
  readonly dnsConfig?: PodDnsConfig;
  /** Passed through as written. @default none */
  readonly initContainers?: readonly IContainer[];
  /** @default none */
  readonly topologySpreadConstraints?: readonly ITopologySpreadConstraint[];
  /** @default Kubernetes' default scheduler */
  readonly schedulerName?: string;
}

/** An earlier revision of the service, kept because traffic still routes to it (or `retain`). */
export interface RevisionProps extends RevisionTemplateProps {
  /** The revision's name, e.g. `NAME-00001`. Must start with `NAME-`. */
  readonly name: string;
  /**
   * Synthesize this revision even when no traffic target names it (Knative's `reserve` state).
   * @default false (unrouted earlier revisions are not synthesized)
   */
  readonly retain?: boolean;
}

/** One entry of `spec.traffic` (knative/serving pkg/apis/serving/v1/route_types.go). */
export interface TrafficTargetProps {
  /** A pinned revision (the current template's revision or one of `revisions`). XOR latestRevision. */
  readonly revisionName?: string;
  /** Route to the current template's revision. @default true when revisionName is unset */
  readonly latestRevision?: boolean;
  /** Share of traffic, 0..100; all targets sum to 100. @default 0 */
  readonly percent?: number;
  /** Also reachable at `TAG-NAME.NS.<domain>` at 100%. DNS-1035 label, unique. @default none */
  readonly tag?: string;
}

/** A Knative Service: metadata, the current revision template, earlier revisions and traffic. */
export interface KServiceProps extends RevisionTemplateProps {
  /** Service name (DNS-1035 label). @default the construct id */
  readonly name?: string;
  /** @default 'default' */
  readonly namespace?: string;
  /** Service labels, copied onto the graph as Knative copies them. @default none */
  readonly labels?: { readonly [key: string]: string };
  /** Service annotations. @default none */
  readonly annotations?: { readonly [key: string]: string };
  /**
   * @default Visibility.EXTERNAL, or CLUSTER_LOCAL when `labels` carry
   * `networking.knative.dev/visibility: cluster-local`
   */
  readonly visibility?: Visibility;
  /** @default [{ latestRevision: true, percent: 100 }] */
  readonly traffic?: readonly TrafficTargetProps[];
  /** Name of the current template's revision (`spec.template.metadata.name`); must start with `NAME-`. @default NAME-0000G */
  readonly revisionName?: string;
  /** The Configuration's generation, which numbers the current revision. @default 1 */
  readonly generation?: number;
  /** Earlier revisions (synthesized when routed or retained). @default none */
  readonly revisions?: readonly RevisionProps[];
  /** Serving config (domain, templates, gateways, runtime image, autoscaler defaults). @default Knative defaults */
  readonly config?: ServingConfigProps;
  /**
   * The current template's data-plane mode, and the default of every entry of `revisions` that
   * chooses none itself (see `DataPlane`).
   * @default the template's `kservice.cdk8s.io/data-plane` annotation, else DataPlane.FULL
   */
  readonly dataPlane?: DataPlane;
}
