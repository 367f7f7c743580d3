/**
 * The route's Gateway API HTTPRoutes (gateway.networking.k8s.io/v1), as net-gateway-api builds
 * them from the KIngress that Knative's route controller would create
 * (knative-extensions/net-gateway-api pkg/reconciler/ingress/resources/httproute.go MakeHTTPRoute):
 * one HTTPRoute per KIngress rule, that is per traffic name ('' and each tag) and visibility,
 * named after the rule's longest host and attached to the external or the local Gateway.
 *
 * Like net-gateway-api, the revision and namespace headers are per-backend RequestHeaderModifier
 * filters (the activator needs them to tell split revisions apart). Unlike it, the runtime-only
 * headers are removed by a rule-level filter, as the Istio VirtualServices do (see
 * RUNTIME_ONLY_HEADERS), and a single-backend rule also sets the revision headers there
 * (ruleHeaderModifier says why). Not emitted: net-gateway-api's probe rules (`/.well-known/knative/...`
 * with K-Network-Hash), which only its readiness prober uses.
 */
import { Annotations, Headers, Labels, RUNTIME_ONLY_HEADERS } from '../contract/constants';
import { DEFAULT_GATEWAY_API_CONFIG, type ServingConfig } from '../contract/config';
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { sortedRecord } from '../model/json';
import { ingressAnnotations } from './meta';
import { splitGatewayRef } from './serving-system';
import type { RouteSpec, TrafficSplit } from '../model/spec';
import { ingressRules, type IngressRule, type IngressVisibility } from './virtual-service';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSION = `${GATEWAY_API_GROUP}/v1` as const;
/** net-gateway-api's KIngress class (knative-extensions/net-gateway-api pkg/reconciler/ingress/controller.go). */
export const GATEWAY_API_INGRESS_CLASS = 'gateway-api.ingress.networking.knative.dev';
/** Label net-gateway-api puts on a tag's HTTPRoutes (pkg/reconciler/ingress/resources/httproute.go TagLabelKey). */
export const TAG_LABEL = 'networking.knative.dev/tag';
const REQUEST_HEADER_MODIFIER = 'RequestHeaderModifier';

type HttpRouteRule = NonNullable<IHTTPRoute['spec']['rules']>[number];
type HttpRouteFilter = NonNullable<HttpRouteRule['filters']>[number];
type HttpBackendRef = NonNullable<HttpRouteRule['backendRefs']>[number];
type HttpHeader = NonNullable<NonNullable<HttpRouteFilter['requestHeaderModifier']>['set']>[number];
type HttpHeaderMatch = NonNullable<NonNullable<HttpRouteRule['matches']>[number]['headers']>[number];

export function buildHttpRoute(route: RouteSpec, rule: IngressRule): IHTTPRoute {
  const gatewayApi = route.gatewayApi ?? DEFAULT_GATEWAY_API_CONFIG;
  const local = rule.visibility === 'ClusterLocal';
  const gateway = splitGatewayRef(local ? gatewayApi.localGateway : gatewayApi.externalGateway);
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'HTTPRoute',
    metadata: {
      name: longestHost(rule.hosts),
      namespace: route.namespace,
      labels: httpRouteLabels(route, rule),
      annotations: sortedRecord({ ...ingressAnnotations(route), [Annotations.INGRESS_CLASS]: GATEWAY_API_INGRESS_CLASS }),
    },
    spec: {
      parentRefs: [{ group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gateway.namespace, name: gateway.name }],
      hostnames: [...rule.hosts],
      rules: httpRouteRules(route.namespace, rule, gatewayApi),
    },
  };
}

/** net-gateway-api's LongestHost: the last host in sort order, e.g. `NAME.NS.svc.cluster.local`. */
export function longestHost(hosts: readonly string[]): string {
  return [...hosts].sort()[hosts.length - 1];
}

/**
 * The KIngress labels (route labels plus route name and namespace), the ingress name, the rule's
 * visibility ('' for external, as net-gateway-api writes it) and, on a tag's routes, the tag.
 */
function httpRouteLabels(route: RouteSpec, rule: IngressRule): Record<string, string> {
  const tag = rule.tag;
  return sortedRecord({
    ...route.labels,
    [Labels.ROUTE]: route.name,
    [Labels.ROUTE_NAMESPACE]: route.namespace,
    [Labels.INGRESS]: route.name,
    [Labels.VISIBILITY]: rule.visibility === 'ClusterLocal' ? 'cluster-local' : '',
    ...(tag ? { [TAG_LABEL]: tag } : {}),
  });
}

/**
 * One HTTPRoute rule per KIngress path (net-gateway-api makeHTTPRouteRule): the tag-header paths
 * (tag-header-based routing) with an exact `Knative-Serving-Tag` header match, then the rule's own.
 */
function httpRouteRules(namespace: string, rule: IngressRule, gatewayApi: ServingConfig['gatewayApi']): HttpRouteRule[] {
  return [
    ...rule.tagHeaderPaths.map((p) =>
      httpRouteRule(namespace, p.splits, {}, gatewayApi, [{ type: 'Exact', name: Headers.ROUTE_TAG, value: p.tag }]),
    ),
    httpRouteRule(namespace, rule.splits, rule.appendHeaders, gatewayApi),
  ];
}

/** One rule: every path (`/`), the runtime-only headers removed, the weighted revisions. */
function httpRouteRule(
  namespace: string,
  splits: readonly TrafficSplit[],
  appendHeaders: Readonly<Record<string, string>>,
  gatewayApi: ServingConfig['gatewayApi'],
  headers?: HttpHeaderMatch[],
): HttpRouteRule {
  return {
    matches: [{ path: { type: 'PathPrefix', value: '/' }, ...(headers ? { headers } : {}) }],
    filters: [{ type: REQUEST_HEADER_MODIFIER, requestHeaderModifier: ruleHeaderModifier(namespace, splits, appendHeaders) }],
    backendRefs: splits.map((s) => weightedBackend(namespace, s)),
    // net-gateway-api: `request: 0s` (no gateway timeout) when the Gateway supports HTTPRouteRequestTimeout.
    ...(gatewayApi.requestTimeoutSupported ? { timeouts: { request: '0s' } } : {}),
  };
}

/**
 * The rule-level header filter: the runtime-only headers removed and, when the rule has exactly
 * one backend, that backend's revision headers set here too. net-gateway-api sets them per backend
 * only; we differ because some Gateway implementations ignore backendRef-level filters (Traefik
 * v3.6.12 loads only routeRule.Filters, traefik/traefik pkg/provider/kubernetes/gateway/httproute.go),
 * and without the headers the activator answers 404. With one backend the rule's headers are that
 * backend's, so setting them twice is the same request; a split keeps them per backend only.
 */
function ruleHeaderModifier(
  namespace: string,
  splits: readonly TrafficSplit[],
  appendHeaders: Readonly<Record<string, string>>,
): HttpRouteFilter['requestHeaderModifier'] {
  const only = splits.length === 1 ? splits[0] : undefined;
  // The path's appendHeaders are net-gateway-api's rule-level `set` (sorted by name, as it sorts them).
  const appended = Object.entries(appendHeaders).map(([name, value]) => ({ name, value }));
  const set = [...appended, ...(only ? revisionHeaders(namespace, only) : [])].sort((a, b) => a.name.localeCompare(b.name));
  return {
    ...(set.length > 0 ? { set } : {}),
    remove: [...RUNTIME_ONLY_HEADERS],
  };
}

/** The headers the activator and queue-proxy read to find the revision (sorted by name). */
function revisionHeaders(namespace: string, split: TrafficSplit): HttpHeader[] {
  return [
    { name: Headers.NAMESPACE, value: namespace },
    { name: Headers.REVISION, value: split.revisionName },
  ];
}

/** The revision's public Service, with the revision headers as a per-backend filter (as net-gateway-api). */
function weightedBackend(namespace: string, split: TrafficSplit): HttpBackendRef {
  return {
    group: '',
    kind: 'Service',
    name: split.revisionName,
    port: split.servicePort,
    weight: split.percent,
    filters: [{ type: REQUEST_HEADER_MODIFIER, requestHeaderModifier: { set: revisionHeaders(namespace, split) } }],
  };
}

/**
 * The HTTPRoute of one traffic name ('' or a tag) and visibility, for a Route construct that adds
 * a name's objects when the name appears.
 */
export function buildHttpRouteFor(route: RouteSpec, tag: string, visibility: IngressVisibility): IHTTPRoute {
  const rule = ingressRules(route).find((r) => r.tag === tag && r.visibility === visibility);
  if (!rule) throw new Error(`route "${route.name}" has no ${visibility} rule for traffic name "${tag}"`);
  return buildHttpRoute(route, rule);
}

/** The visibilities a traffic name gets a rule (so an HTTPRoute) for, as ingressRules decides. */
export function visibilitiesOf(route: RouteSpec, tag: string): IngressVisibility[] {
  return ingressRules(route).filter((r) => r.tag === tag).map((r) => r.visibility);
}
