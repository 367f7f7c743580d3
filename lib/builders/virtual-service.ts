/**
 * The route's Istio VirtualServices (knative-extensions/net-istio pkg/reconciler/ingress/resources/virtual_service.go): `NAME-ingress` (bound to the ingress
 * and local gateways) and `NAME-mesh` (sidecar traffic), as net-istio builds them from the KIngress
 * that Knative's route controller would create.
 *
 * Not emitted: the probe routes net-istio prepends for its readiness prober (`K-Network-Hash`),
 * which only matter to net-istio's controller; traffic is routed the same without them.
 */
import { Gateways, Headers, RUNTIME_ONLY_HEADERS } from '../contract/constants';
import { Names } from '../contract/naming';
import type { IVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { sortedUnique } from '../model/json';
import { ingressAnnotations, virtualServiceLabels } from './meta';
import type { RouteSpec, TrafficSplit } from '../model/spec';

const ISTIO_API_VERSION = 'networking.istio.io/v1beta1';
const CLUSTER_LOCAL_SUFFIX = '.svc.cluster.local';

type VirtualServiceSpec = NonNullable<IVirtualService['spec']>;
type VirtualServiceHttpRoute = NonNullable<VirtualServiceSpec['http']>[number];
type HttpRouteDestination = NonNullable<VirtualServiceHttpRoute['route']>[number];

export type IngressVisibility = 'ClusterLocal' | 'ExternalIP';

/** A path tried before the rule's own: requests with `Knative-Serving-Tag: TAG` go to that tag's splits. */
export interface TagHeaderPath {
  readonly tag: string;
  readonly splits: readonly TrafficSplit[];
}

/** One KIngress rule: hosts of one visibility for one traffic name, and its weighted splits. */
export interface IngressRule {
  readonly visibility: IngressVisibility;
  /** The traffic name ('' or a tag) whose hosts the rule serves. */
  readonly tag: string;
  readonly hosts: readonly string[];
  readonly splits: readonly TrafficSplit[];
  /** Header-matched paths before the rule's own (tag-header-based routing, default rule only). */
  readonly tagHeaderPaths: readonly TagHeaderPath[];
  /** Headers the rule's own path sets on the request (tag-header-based routing). */
  readonly appendHeaders: Readonly<Record<string, string>>;
}

/** Knative's KIngress rules: per traffic name (sorted), a ClusterLocal rule, then ExternalIP unless cluster-local. */
export function ingressRules(route: RouteSpec): IngressRule[] {
  return route.names.flatMap((name) => {
    const splits = positive(name.splits);
    const tagRouting = tagHeaderRouting(route, name.tag);
    const local: IngressRule = {
      visibility: 'ClusterLocal',
      tag: name.tag,
      hosts: expandedHosts(`${name.hostName}.${route.namespace}${CLUSTER_LOCAL_SUFFIX}`),
      splits,
      ...tagRouting,
    };
    if (route.clusterLocal || !name.externalHost) return [local];
    return [local, { ...local, visibility: 'ExternalIP', hosts: [name.externalHost] }];
  });
}

function positive(splits: readonly TrafficSplit[]): TrafficSplit[] {
  return splits.filter((s) => s.percent > 0);
}

/**
 * Tag-header-based routing (knative.dev/serving pkg/reconciler/route/resources/ingress.go
 * MakeIngressSpec, config-features `tag-header-based-routing`): the default rule gets, first, one
 * path per tag matching `Knative-Serving-Tag: TAG` exactly, and its own path sets
 * `Knative-Serving-Default-Route: true`; a tag's rule sets `Knative-Serving-Tag: TAG`, so a
 * request reaching a tag by its host carries the header as one routed by it.
 */
function tagHeaderRouting(route: RouteSpec, tag: string): Pick<IngressRule, 'tagHeaderPaths' | 'appendHeaders'> {
  if (!route.tagHeaderBasedRouting) return { tagHeaderPaths: [], appendHeaders: {} };
  if (tag !== '') return { tagHeaderPaths: [], appendHeaders: { [Headers.ROUTE_TAG]: tag } };
  return {
    tagHeaderPaths: route.names.filter((n) => n.tag !== '').map((n) => ({ tag: n.tag, splits: positive(n.splits) })),
    appendHeaders: { [Headers.DEFAULT_ROUTE]: 'true' },
  };
}

/** `h.ns.svc.cluster.local` → `[h.ns, h.ns.svc, h.ns.svc.cluster.local]`; other hosts stay as they are. */
export function expandedHosts(host: string): string[] {
  if (!host.endsWith(CLUSTER_LOCAL_SUFFIX)) return [host];
  const short = host.slice(0, -CLUSTER_LOCAL_SUFFIX.length);
  return [short, `${short}.svc`, host];
}

export function buildIngressVirtualService(route: RouteSpec): IVirtualService {
  const rules = ingressRules(route);
  const gatewaysOf = (r: IngressRule) => [r.visibility === 'ClusterLocal' ? route.localGateway : route.externalGateway];
  return virtualService(route, Names.ingressVirtualService(route.name), {
    hosts: sortedUnique(rules.flatMap((r) => r.hosts)),
    gateways: sortedUnique(rules.flatMap(gatewaysOf)),
    http: rules.flatMap((r) => httpRoutes(route, r, gatewaysOf(r))),
  });
}

export function buildMeshVirtualService(route: RouteSpec): IVirtualService {
  const rules = ingressRules(route).filter((r) => r.visibility === 'ClusterLocal');
  return virtualService(route, Names.meshVirtualService(route.name), {
    hosts: sortedUnique(rules.flatMap((r) => r.hosts)),
    gateways: [Gateways.MESH],
    http: rules.flatMap((r) => httpRoutes(route, r, [Gateways.MESH])),
  });
}

function virtualService(route: RouteSpec, name: string, spec: VirtualServiceSpec): IVirtualService {
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: 'VirtualService',
    metadata: {
      name,
      namespace: route.namespace,
      labels: virtualServiceLabels(route),
      annotations: ingressAnnotations(route),
    },
    spec,
  };
}

/**
 * The rule's HTTP routes: its tag-header paths, then its own path. Each route has authority-prefix
 * matches, weighted destinations, no retries, no timeout, and the headers only the runtime may
 * set removed from the client's request. net-istio does not remove them; here the route is the
 * one place every client request passes (the activator and the probes reach pods without it), so
 * it is where they are stripped.
 */
function httpRoutes(route: RouteSpec, rule: IngressRule, gateways: readonly string[]): VirtualServiceHttpRoute[] {
  return [
    ...rule.tagHeaderPaths.map((p) => httpRoute(route, rule.hosts, gateways, p.splits, {}, { [Headers.ROUTE_TAG]: { exact: p.tag } })),
    httpRoute(route, rule.hosts, gateways, rule.splits, rule.appendHeaders),
  ];
}

function httpRoute(
  route: RouteSpec,
  hosts: readonly string[],
  gateways: readonly string[],
  splits: readonly TrafficSplit[],
  appendHeaders: Readonly<Record<string, string>>,
  matchHeaders?: Record<string, { exact: string }>,
): VirtualServiceHttpRoute {
  const set = Object.keys(appendHeaders).length > 0 ? { set: { ...appendHeaders } } : {};
  return {
    match: hostPrefixes(hosts).map((prefix) => ({ authority: { prefix }, gateways: [...gateways], ...(matchHeaders ? { headers: matchHeaders } : {}) })),
    route: splits.map((s) => weightedDestination(route.namespace, s)),
    headers: { request: { ...set, remove: [...RUNTIME_ONLY_HEADERS] } },
    retries: {},
  };
}

function weightedDestination(namespace: string, split: TrafficSplit): HttpRouteDestination {
  return {
    destination: {
      host: `${split.revisionName}.${namespace}${CLUSTER_LOCAL_SUFFIX}`,
      port: { number: split.servicePort },
    },
    weight: split.percent,
    headers: {
      request: { set: { [Headers.NAMESPACE]: namespace, [Headers.REVISION]: split.revisionName } },
    },
  };
}

/**
 * net-istio matches on host prefixes: the `.svc.cluster.local` suffix is trimmed and hosts that
 * start with an already-kept prefix are dropped, so `h.ns`, `h.ns.svc`, `h.ns.svc.cluster.local`
 * become one match on `h.ns` (which also covers `h.ns:80`).
 */
export function hostPrefixes(hosts: readonly string[]): string[] {
  const trimmed = sortedUnique(hosts.map((h) => (h.endsWith(CLUSTER_LOCAL_SUFFIX) ? h.slice(0, -CLUSTER_LOCAL_SUFFIX.length) : h)));
  const kept: string[] = [];
  for (const h of trimmed) if (!kept.some((k) => h.startsWith(k))) kept.push(h);
  return kept;
}
