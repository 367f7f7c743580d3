/**
 * The resolved model: what Knative's webhook defaulting and controllers would know about a
 * service once its Configuration, Revisions and Route exist. Builders turn these specs into
 * objects; they never look at props. Everything here is plain data (no cdk8s), so the runtime can
 * import it too.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { ResolvedAutoscaling } from '../contract/autoscaling';
import type { ServingConfig } from '../contract/config';
import { Ports } from '../contract/constants';
import type { PathSegments } from '../problems';
import type { Json } from './json';

/** HTTP protocol of a revision's serving port (knative/serving pkg/reconciler/revision/resources/queue.go). */
export type Protocol = 'http1' | 'h2c';

/** What sits in a revision's request path; mirrors `DataPlane` of the public props. */
import type { DataPlaneMode } from '../contract/data-plane';

export type { DataPlaneMode };

/** One revision, defaulted as Knative's webhook would leave the Revision object. */
export interface RevisionSpec {
  readonly name: string;
  readonly namespace: string;
  /** Label `serving.knative.dev/service`. */
  readonly serviceName: string;
  /** Label `serving.knative.dev/configuration` (= the service name inside a KService). */
  readonly configurationName: string;
  /** Label `serving.knative.dev/configurationGeneration`, when known. */
  readonly configurationGeneration?: number;
  /** `spec.template.metadata.labels` as written. */
  readonly templateLabels: Readonly<Record<string, string>>;
  /** Template annotations except `autoscaling.knative.dev/*`. */
  readonly templateAnnotations: Readonly<Record<string, string>>;
  /** Canonical `autoscaling.knative.dev/*` annotations, `class` and `metric` defaulted. */
  readonly autoscalingAnnotations: Readonly<Record<string, string>>;
  readonly autoscaling: ResolvedAutoscaling;
  /** Containers as in the defaulted Revision: names filled, serving readiness probe defaulted. */
  readonly containers: readonly IContainer[];
  /** Index in `containers` of the container that receives traffic (the one with a port, or the only one). */
  readonly servingContainerIndex: number;
  /** Its name (`containers[servingContainerIndex].name`, or the default name when there is none). */
  readonly servingContainerName: string;
  readonly userPort: number;
  readonly protocol: Protocol;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  /** 0 = none. */
  readonly responseStartTimeoutSeconds: number;
  /** 0 = none. */
  readonly idleTimeoutSeconds: number;
  readonly progressDeadlineSeconds: number;
  /** Pod-level fields passed through as written (volumes, serviceAccountName, affinity...). */
  readonly pod: Readonly<Json>;
  readonly runtimeImage: string;
  readonly dataPlane: DataPlaneMode;
  /** The props path that chose the mode (`['dataPlane']` when the service's default applies). */
  readonly dataPlaneSource: PathSegments;
  /** The queue-proxy sidecar's resources: config-deployment's, then the revision's annotations (queue-sidecar.ts). */
  readonly queueSidecarResources: IResourceRequirements;
}

/** A traffic target with defaults applied and latestRevision resolved to a revision name. */
export interface TrafficTarget {
  /** '' when untagged. */
  readonly tag: string;
  readonly revisionName: string;
  readonly percent: number;
  readonly latestRevision: boolean;
}

/** One revision's share of a traffic name. */
export interface TrafficSplit {
  readonly revisionName: string;
  readonly percent: number;
  readonly latestRevision: boolean;
  /** Public Service port of the revision: 80, or 81 for h2c (knative/serving pkg/reconciler/serverlessservice/resources/services.go). */
  readonly servicePort: number;
}

/** One traffic name: '' (the route itself) or a tag. */
export interface TrafficName {
  /** '' for the default target. */
  readonly tag: string;
  /** Host name (= route k8s Service name): `NAME`, or the tag template's `TAG-NAME`. */
  readonly hostName: string;
  /** External host, e.g. `NAME.NS.example.com`; undefined when cluster-local. */
  readonly externalHost?: string;
  /** In first-appearance order, consolidated by revision; tag lists hold one revision at 100%. */
  readonly splits: readonly TrafficSplit[];
}

export interface RouteSpec {
  readonly name: string;
  readonly namespace: string;
  readonly clusterLocal: boolean;
  /** Route labels: KService labels + `serving.knative.dev/service`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Route annotations: KService annotations minus last-applied-configuration. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `spec.traffic` with defaults applied and latestRevision resolved, in the order written. */
  readonly targets: readonly TrafficTarget[];
  /** '' first, then tags sorted. */
  readonly names: readonly TrafficName[];
  readonly externalGateway: string;
  readonly localGateway: string;
  /** The Service the route's ExternalName points at (Istio's or the Gateway API local gateway's). */
  readonly localGatewayService: string;
  /** Istio VirtualServices or Gateway API HTTPRoutes (config `ingress`). @default istio when absent */
  readonly ingress?: ServingConfig['ingress'];
  /** config `gatewayApi`, resolved; read only when `ingress` is gateway-api. */
  readonly gatewayApi?: ServingConfig['gatewayApi'];
  /** config `tagHeaderBasedRouting`: the tags' header-matched paths on the default hosts. @default false when absent */
  readonly tagHeaderBasedRouting?: boolean;
}

/** A whole KService: its synthesized revisions (current one first) and its route. */
export interface ServiceSpec {
  readonly name: string;
  readonly namespace: string;
  readonly revisions: readonly RevisionSpec[];
  readonly route: RouteSpec;
  readonly config: ServingConfig;
}

/** queue-proxy's main port: 8012, or 8013 for h2c. */
export function queueServingPort(rev: Pick<RevisionSpec, 'protocol'>): number {
  return rev.protocol === 'h2c' ? Ports.QUEUE_H2C : Ports.QUEUE_HTTP;
}

/** Public Service port: 80, or 81 for h2c. */
export function publicServicePort(rev: Pick<RevisionSpec, 'protocol'>): number {
  return rev.protocol === 'h2c' ? Ports.SERVICE_H2C : Ports.SERVICE_HTTP;
}

/** Service port name: `http`, or `http2` for h2c. */
export function servicePortName(rev: Pick<RevisionSpec, 'protocol'>): string {
  return rev.protocol === 'h2c' ? 'http2' : 'http';
}

export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';
