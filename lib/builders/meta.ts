/**
 * Labels and annotations of every object in the graph, as Knative's (knative/serving)
 * pkg/reconciler/revision/resources/meta.go, autoscaling/resources and route/resources compute them.
 * Keys are sorted so the output is deterministic.
 */
import { serverlessServiceMetadata, type ObjectLabelsAndAnnotations } from '../contract/autoscaling';
import { Annotations, ISTIO_INGRESS_CLASS, Labels } from '../contract/constants';
import { sortedRecord } from '../model/json';
import type { RevisionSpec, RouteSpec } from '../model/spec';

/** Revision annotations Knative keeps off the Deployment and the PodAutoscaler. */
const REVISION_ONLY_ANNOTATIONS = new Set([
  'serving.knative.dev/lastPinned',
  'serving.knative.dev/no-gc',
  'serving.knative.dev/routingStateModified',
  Annotations.ROUTES,
]);

/**
 * The Revision's own labels: template labels plus the configuration/service labels.
 * The `*UID` labels and `routingState` are left out: a static graph has no UIDs and no labeler.
 */
export function revisionLabels(rev: RevisionSpec): Record<string, string> {
  const labels: Record<string, string> = { ...rev.templateLabels };
  labels[Labels.CONFIGURATION] = rev.configurationName;
  if (rev.configurationGeneration !== undefined) {
    labels[Labels.CONFIGURATION_GENERATION] = String(rev.configurationGeneration);
  }
  labels[Labels.SERVICE] = rev.serviceName;
  return labels;
}

/** Knative's `makeLabels(rev)`: Deployment, pod template, PodAutoscaler and SKS labels. */
export function revisionWorkloadLabels(rev: RevisionSpec): Record<string, string> {
  const labels = revisionLabels(rev);
  delete labels[Labels.ROUTE];
  delete labels[Labels.ROUTING_STATE];
  labels[Labels.REVISION] = rev.name;
  if (!(Labels.APP in labels)) labels[Labels.APP] = rev.name;
  return sortedRecord(labels);
}

/** What the Deployment and pod template select on (the static stand-in for revisionUID). */
export function revisionSelector(rev: Pick<RevisionSpec, 'name'>): Record<string, string> {
  return { [Labels.REVISION]: rev.name };
}

function withoutRevisionOnly(annotations: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).filter(([k]) => !REVISION_ONLY_ANNOTATIONS.has(k)));
}

/**
 * Deployment annotations. Knative strips every `autoscaling.knative.dev/*` key here and keeps them
 * on the PodAutoscaler; a static graph has no PodAutoscaler, so (deliberately) the Deployment
 * carries the canonical autoscaling annotations, class and metric defaulted, for our runtime
 * autoscaler to read.
 */
export function deploymentAnnotations(rev: RevisionSpec): Record<string, string> {
  return sortedRecord({ ...withoutRevisionOnly(rev.templateAnnotations), ...rev.autoscalingAnnotations });
}

/** Pod template annotations: the Deployment's plus the default container for kubectl. */
export function podAnnotations(rev: RevisionSpec): Record<string, string> {
  return sortedRecord({ ...deploymentAnnotations(rev), [Annotations.DEFAULT_CONTAINER]: rev.servingContainerName });
}

export type ServiceType = 'Public' | 'Private';

/**
 * Labels and annotations of the public/private Service and the public Endpoints: the contract's
 * rule (serverlessServiceMetadata) applied to the pod template this revision's Deployment gets,
 * the same rule the runtime applies to the live Deployment when it creates a missing public
 * Endpoints object.
 */
export function serverlessServiceMeta(rev: RevisionSpec, type: ServiceType): ObjectLabelsAndAnnotations {
  return serverlessServiceMetadata(rev.name, type, { labels: revisionWorkloadLabels(rev), annotations: podAnnotations(rev) });
}

/** Labels of the route's k8s Services: route labels minus visibility, plus the route name. */
export function routeServiceLabels(route: RouteSpec): Record<string, string> {
  const labels: Record<string, string> = { ...route.labels };
  delete labels[Labels.VISIBILITY];
  labels[Labels.ROUTE] = route.name;
  return sortedRecord(labels);
}

/** VirtualService labels: exactly the three keys net-istio's FilterMap keeps (knative-extensions/net-istio pkg/reconciler/ingress/resources/virtual_service.go). */
export function virtualServiceLabels(route: RouteSpec): Record<string, string> {
  return sortedRecord({
    [Labels.INGRESS]: route.name,
    [Labels.ROUTE]: route.name,
    [Labels.ROUTE_NAMESPACE]: route.namespace,
  });
}

/** Route annotations net-istio does not copy onto the KIngress. */
const NOT_COPIED_TO_INGRESS = new Set([
  Annotations.LAST_APPLIED,
  'networking.knative.dev/ingressClass',
  'networking.knative.dev/certificateClass',
]);

/**
 * KIngress annotations, which net-istio copies onto both VirtualServices: ingress class, rollout
 * JSON, route annotations and (with tags) tag-to-host JSON.
 */
export function ingressAnnotations(route: RouteSpec): Record<string, string> {
  const copied = Object.fromEntries(Object.entries(route.annotations).filter(([k]) => !NOT_COPIED_TO_INGRESS.has(k)));
  const annotations: Record<string, string> = {
    [Annotations.INGRESS_CLASS]: ISTIO_INGRESS_CLASS,
    ...copied,
    'networking.internal.knative.dev/rollout': JSON.stringify(rolloutOf(route)),
  };
  const tagToHost = tagToHostOf(route);
  if (tagToHost) annotations['networking.internal.knative.dev/tag-to-host'] = JSON.stringify(tagToHost);
  return sortedRecord(annotations);
}

/**
 * Knative's rollout state without gradual rollout (rollout-duration 0): one entry per traffic name
 * with a latestRevision target, at that name's percent, all on the current revision. Knative's
 * traffic.Rollout omits an empty list (`configurations,omitempty`: knative.dev/serving
 * pkg/reconciler/route/traffic/rollout.go), so a route without latestRevision targets has `{}`.
 */
function rolloutOf(route: RouteSpec): { configurations?: unknown[] } {
  const configurations = route.names.flatMap((name) =>
    name.splits
      // Knative skips 0% targets (only the default name can have one): traffic.go buildRolloutForTag.
      .filter((s) => s.latestRevision && s.percent > 0)
      .map((s) => ({
        configurationName: route.name,
        ...(name.tag ? { tag: name.tag } : {}),
        percent: s.percent,
        revisions: [{ revisionName: s.revisionName, percent: s.percent }],
        stepParams: {},
      })),
  );
  return configurations.length > 0 ? { configurations } : {};
}

function tagToHostOf(route: RouteSpec): Record<string, string[]> | undefined {
  const tags = route.names.filter((n) => n.tag !== '');
  if (tags.length === 0) return undefined;
  // Knative's order, not sorted: the cluster-local host, then the external one (knative.dev/serving
  // pkg/reconciler/route/resources/ingress.go makeIngressSpec appends per visibility in that order).
  const hostsOf = (n: (typeof tags)[number]) =>
    [`${n.hostName}.${route.namespace}.svc.cluster.local`, ...(n.externalHost ? [n.externalHost] : [])];
  return Object.fromEntries(tags.map((n) => [n.tag, hostsOf(n)]));
}
