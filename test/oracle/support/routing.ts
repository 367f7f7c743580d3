/**
 * Routing compared by meaning: kservice's Istio VirtualServices (NAME-ingress, NAME-mesh) and the
 * KIngress Knative's route reconciler builds (knative.dev/serving pkg/reconciler/route/resources
 * MakeIngress) are both translated into one form, what a client gets, and the forms are diffed.
 *
 * The oracle stops at the KIngress: the networking plugin that turns it into VirtualServices,
 * net-istio, is not served by the Go module proxy (see oracle/README.md). The facts of that
 * translation used here are from knative-extensions/net-istio
 * pkg/reconciler/ingress/resources/virtual_service.go (MakeIngressVirtualService,
 * MakeMeshVirtualService, makeVirtualServiceRoute, getDistinctHostPrefixes):
 *   - ExternalIP rules are served on the ingress gateway, ClusterLocal rules on the local gateway;
 *     the mesh VirtualService (sidecars) serves every rule's `.svc.cluster.local` hosts;
 *   - hosts are expanded (`h.ns.svc.cluster.local` also as `h.ns.svc` and `h.ns`: knative.dev/networking
 *     pkg/ingress ExpandedHosts) and matched by authority prefix with `.svc.cluster.local` trimmed;
 *   - a split becomes a weighted destination `NAME.NAMESPACE.svc.cluster.local:PORT` setting the
 *     split's appendHeaders; a path's appendHeaders are set on the route; every route gets an
 *     empty `retries` (no retries, overriding Istio's default of two) and no timeout;
 *   - the VirtualServices carry the KIngress' annotations and, of its labels, the route and
 *     route-namespace ones plus `networking.internal.knative.dev/ingress: NAME`.
 * The translation code is this file's own.
 */
import { Gateways, Labels } from '../../../lib/contract/constants';
import { diffValues, type Change, type Difference, type FieldCount } from './compare';

type Json = Record<string, unknown>;

/** Where a request comes in: the ingress gateway, the cluster-local gateway, or a sidecar. */
export type View = 'external' | 'cluster-local' | 'mesh';

export interface Split {
  readonly service: string;
  readonly namespace: string;
  readonly port: number;
  readonly percent: number;
  readonly appendHeaders?: Record<string, string>;
  /** Anything else a destination does (kservice side only: a KIngress split has no more). */
  readonly other?: Json;
}

/** One HTTP route as a client meets it: its extra match conditions and what it does. */
export interface Action {
  readonly match?: { readonly path?: unknown; readonly headers?: Json };
  readonly splits: Split[];
  readonly appendHeaders?: Record<string, string>;
  readonly rewriteHost?: string;
  /** Request headers removed (VirtualService only: a KIngress cannot remove headers). */
  readonly removeHeaders?: string[];
  readonly retries: unknown;
  readonly timeout: unknown;
  /** Any other VirtualService route field (mirror, fault, ...), so it cannot go unnoticed. */
  readonly other?: Json;
}

/** The VirtualService objects' own fields that are not routing. */
export interface VirtualServiceMeta {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly gateways: string[];
}

export interface RoutingForm {
  /** Per view, per request host: the routes tried in order. */
  readonly views: Partial<Record<View | string, Record<string, Action[]>>>;
  /** Per VirtualService name. */
  readonly virtualServices: Record<string, VirtualServiceMeta>;
  /** Hosts a VirtualService lists that none of its routes matches (always empty for Knative). */
  readonly unroutedHosts: string[];
  readonly httpOption: string;
  readonly tls: unknown[];
}

const CLUSTER_LOCAL_SUFFIX = '.svc.cluster.local';
const RETRIES_NONE = 'none';
const TIMEOUT_NONE = 'none';

/** net-istio's gateways per view (its config-istio defaults; kservice declares them in lib/contract/constants.ts). */
const VIEW_OF_GATEWAY: Record<string, View> = {
  [Gateways.EXTERNAL]: 'external',
  [Gateways.LOCAL]: 'cluster-local',
  [Gateways.MESH]: 'mesh',
};
const GATEWAY_OF_VIEW: Record<View, string> = { external: Gateways.EXTERNAL, 'cluster-local': Gateways.LOCAL, mesh: Gateways.MESH };

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/** `h.ns.svc.cluster.local` → itself, `h.ns.svc`, `h.ns`; other hosts → themselves. */
function expandedHosts(host: string): string[] {
  if (!host.endsWith(CLUSTER_LOCAL_SUFFIX)) return [host];
  const short = host.slice(0, -CLUSTER_LOCAL_SUFFIX.length);
  return [short, `${short}.svc`, host];
}

/** Splits in a fixed order: the order of weighted destinations does not change where requests go. */
function sortedSplits(splits: Split[]): Split[] {
  return [...splits].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

function withoutUndefined<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function addAction(views: RoutingForm['views'], view: string, host: string, action: Action): void {
  const byHost = (views[view] ??= {});
  const actions = (byHost[host] ??= []);
  if (!actions.some((a) => JSON.stringify(a) === JSON.stringify(action))) actions.push(action);
}

function sortedViews(views: RoutingForm['views']): RoutingForm['views'] {
  return Object.fromEntries(Object.entries(views).sort(([a], [b]) => a.localeCompare(b)).map(([v, hosts]) => [v, sortedRecord(hosts!)]));
}

// ---------------------------------------------------------------------------------------------
// Knative's side: the KIngress.

interface IngressPath {
  path?: string;
  headers?: Json;
  rewriteHost?: string;
  appendHeaders?: Record<string, string>;
  splits?: { serviceName: string; serviceNamespace: string; servicePort: number | string; percent?: number; appendHeaders?: Record<string, string> }[];
}
interface IngressRule {
  hosts?: string[];
  visibility?: string;
  http?: { paths?: IngressPath[] };
}

function actionOfIngressPath(p: IngressPath): Action {
  const match = p.path !== undefined || p.headers !== undefined ? withoutUndefined({ path: p.path, headers: p.headers }) : undefined;
  return withoutUndefined({
    match,
    splits: sortedSplits((p.splits ?? []).map((s) => withoutUndefined({
      service: s.serviceName,
      namespace: s.serviceNamespace,
      port: Number(s.servicePort),
      percent: s.percent ?? 0, // omitempty: 0 is left out
      appendHeaders: s.appendHeaders && sortedRecord(s.appendHeaders),
    }))),
    appendHeaders: p.appendHeaders && sortedRecord(p.appendHeaders),
    rewriteHost: p.rewriteHost,
    retries: RETRIES_NONE,
    timeout: TIMEOUT_NONE,
  });
}

/** Which views a KIngress rule's host is served on (see the header comment). */
function viewsOfRuleHost(visibility: string | undefined, host: string): string[] {
  const views: string[] = [visibility === 'ClusterLocal' ? 'cluster-local' : visibility === 'ExternalIP' ? 'external' : `visibility ${visibility}`];
  if (host.endsWith(CLUSTER_LOCAL_SUFFIX)) views.push('mesh');
  return views;
}

export function formOfIngress(ingress: Json): RoutingForm {
  const meta = (ingress.metadata ?? {}) as { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  const spec = (ingress.spec ?? {}) as { rules?: IngressRule[]; httpOption?: string; tls?: unknown[] };
  const views: RoutingForm['views'] = {};
  for (const rule of spec.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      const action = actionOfIngressPath(path);
      for (const host of rule.hosts ?? []) {
        for (const view of viewsOfRuleHost(rule.visibility, host)) {
          // The mesh serves the expanded forms of cluster-local names only.
          for (const h of view === 'mesh' || view === 'cluster-local' ? expandedHosts(host) : [host]) addAction(views, view, h, action);
        }
      }
    }
  }
  const labels = sortedRecord({
    [Labels.INGRESS]: meta.name,
    ...Object.fromEntries(Object.entries(meta.labels ?? {}).filter(([k]) => k === Labels.ROUTE || k === Labels.ROUTE_NAMESPACE)),
  });
  const annotations = sortedRecord(meta.annotations ?? {});
  const ingressGateways = (['external', 'cluster-local'] as const).filter((v) => views[v]).map((v) => GATEWAY_OF_VIEW[v]).sort();
  const virtualServices: Record<string, VirtualServiceMeta> = {};
  if (ingressGateways.length > 0) virtualServices[`${meta.name}-ingress`] = { labels, annotations, gateways: ingressGateways };
  if (views.mesh) virtualServices[`${meta.name}-mesh`] = { labels, annotations, gateways: [Gateways.MESH] };
  return { views: sortedViews(views), virtualServices: sortedRecord(virtualServices), unroutedHosts: [], httpOption: spec.httpOption ?? 'Enabled', tls: spec.tls ?? [] };
}

// ---------------------------------------------------------------------------------------------
// kservice's side: the VirtualServices.

interface HttpRoute {
  match?: { authority?: { prefix?: string; exact?: string }; gateways?: string[]; headers?: Json; uri?: unknown }[];
  route?: { destination?: { host?: string; port?: { number?: number } }; weight?: number; headers?: Json }[];
  headers?: { request?: { set?: Record<string, string>; remove?: string[] } & Json } & Json;
  rewrite?: { authority?: string } & Json;
  retries?: Json;
  timeout?: unknown;
  [field: string]: unknown;
}

/** The hosts of `hosts` an authority match stands for: the inverse of net-istio's prefix trimming. */
function coveredHosts(authority: { prefix?: string; exact?: string } | undefined, hosts: string[]): string[] {
  if (!authority) return hosts;
  if (authority.exact !== undefined) return hosts.filter((h) => h === authority.exact);
  const p = authority.prefix ?? '';
  return hosts.filter((h) => h === p || h === `${p}.svc` || h === `${p}${CLUSTER_LOCAL_SUFFIX}`);
}

function splitOfDestination(d: NonNullable<HttpRoute['route']>[number]): Split {
  const host = d.destination?.host ?? '';
  const short = host.endsWith(CLUSTER_LOCAL_SUFFIX) ? host.slice(0, -CLUSTER_LOCAL_SUFFIX.length) : host;
  const dot = short.lastIndexOf('.');
  const { set, ...otherRequestOps } = (isObject(d.headers?.request) ? d.headers.request : {}) as { set?: Record<string, string> } & Json;
  const { request: _r, ...otherHeaderOps } = (d.headers ?? {}) as Json;
  const other = { ...otherRequestOps, ...otherHeaderOps };
  return withoutUndefined({
    service: dot < 0 ? short : short.slice(0, dot),
    namespace: dot < 0 ? '' : short.slice(dot + 1),
    port: d.destination?.port?.number ?? 0,
    percent: d.weight ?? 0,
    appendHeaders: set && sortedRecord(set),
    other: Object.keys(other).length > 0 ? other : undefined,
  });
}

/** Istio retries: an empty policy (or zero attempts) is none; no policy at all is Istio's default. */
function retriesOf(retries: Json | undefined): unknown {
  if (retries === undefined) return 'istio default (2 attempts)';
  if (Object.keys(retries).length === 0 || retries.attempts === 0) return RETRIES_NONE;
  return retries;
}

/** A KIngress path is a prefix match (net-istio: `uri: {prefix: PATH}`); any other URI match stays as written. */
function pathOfUri(uri: unknown): unknown {
  if (isObject(uri) && Object.keys(uri).length === 1 && typeof uri.prefix === 'string') return uri.prefix;
  return uri;
}

function actionOfHttpRoute(r: HttpRoute, matchHeaders: Json | undefined, uri: unknown): Action {
  const { match: _m, route: _d, headers, rewrite, retries, timeout, ...rest } = r;
  const { set, remove, ...otherRequestOps } = (headers?.request ?? {}) as { set?: Record<string, string>; remove?: string[] } & Json;
  const { request: _q, ...otherHeaderOps } = headers ?? {};
  const { authority: rewriteHost, ...otherRewrite } = rewrite ?? {};
  const other = { ...rest, ...otherRequestOps, ...otherHeaderOps, ...(Object.keys(otherRewrite).length > 0 ? { rewrite: otherRewrite } : {}) };
  const match = matchHeaders !== undefined || uri !== undefined ? withoutUndefined({ path: pathOfUri(uri), headers: matchHeaders }) : undefined;
  return withoutUndefined({
    match,
    splits: sortedSplits((r.route ?? []).map(splitOfDestination)),
    appendHeaders: set && sortedRecord(set),
    rewriteHost,
    removeHeaders: remove && [...remove],
    retries: retriesOf(retries),
    timeout: timeout ?? TIMEOUT_NONE,
    other: Object.keys(other).length > 0 ? other : undefined,
  });
}

export function formOfVirtualServices(virtualServices: Json[]): RoutingForm {
  const views: RoutingForm['views'] = {};
  const metas: Record<string, VirtualServiceMeta> = {};
  const unrouted: string[] = [];
  for (const vs of virtualServices) {
    const meta = (vs.metadata ?? {}) as { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    const spec = (vs.spec ?? {}) as { hosts?: string[]; gateways?: string[]; http?: HttpRoute[] };
    const hosts = spec.hosts ?? [];
    const routed = new Set<string>();
    for (const route of spec.http ?? []) {
      for (const m of route.match ?? [{}]) {
        const action = actionOfHttpRoute(route, m.headers, m.uri);
        for (const gateway of m.gateways ?? spec.gateways ?? []) {
          const view = VIEW_OF_GATEWAY[gateway] ?? `gateway ${gateway}`;
          for (const host of coveredHosts(m.authority, hosts)) {
            addAction(views, view, host, action);
            routed.add(host);
          }
        }
      }
    }
    unrouted.push(...hosts.filter((h) => !routed.has(h)));
    metas[meta.name] = {
      labels: sortedRecord(meta.labels ?? {}),
      annotations: sortedRecord(meta.annotations ?? {}),
      gateways: [...(spec.gateways ?? [])].sort(),
    };
  }
  // A VirtualService cannot redirect HTTP to HTTPS or terminate TLS (net-istio does both in its
  // Gateway servers) and kservice emits no Gateway per route: plain HTTP, no TLS.
  return { views: sortedViews(views), virtualServices: sortedRecord(metas), unroutedHosts: unrouted.sort(), httpOption: 'Enabled', tls: [] };
}

// ---------------------------------------------------------------------------------------------

export interface RoutingComparison {
  readonly differences: Difference[];
  readonly routesCompared: number;
  readonly routesOnlyKservice: number;
  readonly routesOnlyKnative: number;
}

/**
 * The KIngress (named after the route) a VirtualService stands for: net-istio names them
 * NAME-ingress and NAME-mesh (pkg/reconciler/ingress/resources/names). By name, not by label, so
 * a wrong label is a difference in the form rather than a VirtualService of another route.
 */
function routeOf(vs: Json): string {
  const meta = (vs.metadata ?? {}) as { namespace?: string; name?: string };
  return `${meta.namespace ?? ''}/${(meta.name ?? '').replace(/-(ingress|mesh)$/, '')}`;
}

/**
 * Diffs kservice's VirtualServices with Knative's KIngresses, route by route, in the routing form.
 * Differences are reported as kind `VirtualService`, name namespace/route, path into the form
 * (e.g. `/views/external/HOST/0/splits/0/percent`); `fields` counts compared leaves.
 */
export function compareRouting(caseName: string, virtualServices: Json[], ingresses: Json[], fields: FieldCount): RoutingComparison {
  const differences: Difference[] = [];
  const ours = new Map<string, Json[]>();
  for (const vs of virtualServices) ours.set(routeOf(vs), [...(ours.get(routeOf(vs)) ?? []), vs]);
  const theirs = new Map(ingresses.map((i) => [`${(i.metadata as Json).namespace}/${(i.metadata as Json).name}`, i]));
  const push = (name: string, d: { path: string; change: Change; kservice?: unknown; knative?: unknown }) =>
    differences.push({ case: caseName, kind: 'VirtualService', name, ...d });
  let routesCompared = 0;
  for (const [name, vses] of ours) {
    const ingress = theirs.get(name);
    if (!ingress) {
      push(name, { path: '/', change: 'only-kservice' });
      continue;
    }
    routesCompared++;
    const out: { path: string; change: Change; kservice?: unknown; knative?: unknown }[] = [];
    diffValues(formOfVirtualServices(vses), formOfIngress(ingress), '', fields, out);
    out.forEach((d) => push(name, d));
  }
  const onlyKnative = [...theirs.keys()].filter((k) => !ours.has(k));
  onlyKnative.forEach((name) => push(name, { path: '/', change: 'only-knative' }));
  return { differences, routesCompared, routesOnlyKservice: ours.size - routesCompared, routesOnlyKnative: onlyKnative.length };
}
