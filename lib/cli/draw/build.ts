/**
 * The request path of each Knative service, read back from its compiled objects (what
 * `kservice compile` writes or `cdk8s synth` of a KService synthesizes), never from the model, so
 * any synthesized output can be drawn: ExternalName Service -> gateway -> routes (weights, tags)
 * -> public Service -> Endpoints (the activator or the pods, as the runtime flips them) ->
 * private Service -> Deployment and its containers, one cluster per revision naming its
 * data-plane mode. The objects are found by Knative's labels (knative/serving
 * pkg/apis/serving/register.go; networking.internal.knative.dev/serviceType from
 * knative.dev/networking pkg/apis/networking/register.go).
 */
import { ACTIVATOR, Gateways, Labels, QUEUE_CONTAINER_NAME, SYSTEM_NAMESPACE } from '../../contract/constants';
import { DATA_PLANE_ANNOTATION, DataPlaneModes, isDataPlaneMode, selectsPods, type DataPlaneMode } from '../../contract/data-plane';
import type { Diagnostic } from '../diagnostics';
import { GraphBuilder, type DrawGraph } from './model';
import { ObjectReader, type SourcedObject } from './objects';

/** Knative's tag-header routing header (knative.dev/networking pkg/http/header/header.go RouteTagKey). */
const TAG_HEADER = 'Knative-Serving-Tag';
/** net-istio and net-gateway-api record each tag's hosts here (knative.dev/networking pkg/apis/networking/register.go TagToHostAnnotationKey). */
const TAG_TO_HOST = 'networking.internal.knative.dev/tag-to-host';
/** Istio's name for the sidecars of the mesh as a VirtualService gateway. */
const MESH = Gateways.MESH;

export interface DrawResult {
  readonly graph: DrawGraph;
  /** How many Knative services were found; 0 means there is nothing to draw. */
  readonly services: number;
  readonly problems: readonly Diagnostic[];
}

/** One weighted destination of one route rule. */
interface RouteTarget {
  readonly namespace: string;
  readonly revision: string;
  readonly label: string;
}

export function drawObjects(objects: readonly SourcedObject[]): DrawResult {
  const problems: Diagnostic[] = [];
  const readers = objects.filter((o) => o.value && typeof o.value === 'object' && !Array.isArray(o.value)).map((o) => new ObjectReader(o, problems));
  const index = new ObjectIndex(readers);
  const builder = new GraphBuilder();
  const services = index.serviceKeys();
  const entries: Entries = { gateways: new Set(), aliased: new Set(), aliases: [] };
  for (const key of services) drawService(builder, index, key, entries);
  drawClients(builder, entries);
  return { graph: builder.build(), services: services.length, problems };
}

/** Where requests come in: the gateways, which of them an ExternalName aliases, and those ExternalNames. */
interface Entries {
  readonly gateways: Set<string>;
  readonly aliased: Set<string>;
  readonly aliases: string[];
}

/**
 * In-cluster clients reach a service by its ExternalName (a DNS alias of the local gateway) or,
 * with a sidecar, through the mesh; a gateway no ExternalName aliases faces clients outside.
 */
function drawClients(builder: GraphBuilder, entries: Entries): void {
  const mesh = builder.idFor(`Gateway/${MESH}`);
  const outside = [...entries.gateways].filter((g) => g !== mesh && !entries.aliased.has(g));
  if (outside.length > 0) {
    const client = builder.node('Client/outside', ['client'], 'round');
    for (const gateway of outside) builder.edge(client, gateway);
  }
  if (entries.aliases.length === 0 && !entries.gateways.has(mesh)) return;
  const inner = builder.node('Client/in-cluster', ['in-cluster client'], 'round');
  for (const alias of entries.aliases) builder.edge(inner, alias);
  if (entries.gateways.has(mesh)) builder.edge(inner, mesh, 'with a sidecar', true);
}

/** The objects a picture needs, found by kind and Knative's labels. */
class ObjectIndex {
  constructor(private readonly objects: readonly ObjectReader[]) {}

  serviceKeys(): string[] {
    const keys = new Set<string>();
    for (const o of this.objects) {
      if (o.namespace === SYSTEM_NAMESPACE) continue;
      const service = o.label(Labels.SERVICE) ?? (isRoute(o) ? o.label(Labels.ROUTE) : undefined);
      if (service && (isRoute(o) || this.isPublic(o) || isExternalName(o))) keys.add(`${o.namespace}/${service}`);
    }
    return [...keys].sort(byCodeUnit);
  }

  ofService(key: string, test: (o: ObjectReader) => boolean): ObjectReader[] {
    const [namespace, name] = key.split('/');
    return this.objects
      .filter((o) => o.namespace === namespace && (o.label(Labels.SERVICE) ?? o.label(Labels.ROUTE)) === name && test(o))
      .sort((a, b) => byCodeUnit(a.name, b.name));
  }

  isPublic(o: ObjectReader): boolean {
    return o.kind === 'Service' && o.apiVersion === 'v1' && o.label(Labels.SERVICE_TYPE) === 'Public';
  }

  find(namespace: string, test: (o: ObjectReader) => boolean): ObjectReader | undefined {
    return this.objects.find((o) => o.namespace === namespace && test(o));
  }
}

function isRoute(o: ObjectReader): boolean {
  return isVirtualService(o) || isHttpRoute(o);
}

function isVirtualService(o: ObjectReader): boolean {
  return o.kind === 'VirtualService' && o.apiVersion.startsWith('networking.istio.io/');
}

function isHttpRoute(o: ObjectReader): boolean {
  return o.kind === 'HTTPRoute' && o.apiVersion.startsWith('gateway.networking.k8s.io/');
}

function isExternalName(o: ObjectReader): boolean {
  return o.kind === 'Service' && o.apiVersion === 'v1' && o.at(['spec', 'type']) === 'ExternalName';
}

function drawService(builder: GraphBuilder, index: ObjectIndex, key: string, entries: Entries): void {
  const cluster = builder.cluster(`service/${key}`, `service ${key}`);
  const routes = index.ofService(key, isRoute);
  const gatewayIds = new Map<string, string>();
  const targets: Array<{ route: string; target: RouteTarget }> = [];
  for (const route of routes) {
    const routeId = builder.node(`${route.kind}/${route.namespace}/${route.name}`, [`${route.kind} ${route.name}`], 'box', cluster);
    for (const gateway of gatewaysOf(route)) {
      const gatewayId = builder.node(`Gateway/${gateway.key}`, gateway.lines, 'round');
      gatewayIds.set(gateway.name, gatewayId);
      entries.gateways.add(gatewayId);
      builder.edge(gatewayId, routeId);
    }
    for (const target of targetsOf(route)) targets.push({ route: routeId, target });
  }
  for (const ext of index.ofService(key, isExternalName)) {
    const { alias, target } = drawExternalName(builder, ext, cluster, gatewayIds);
    entries.aliases.push(alias);
    entries.aliased.add(target);
  }
  const revisions = new Map<string, string>();
  for (const pub of index.ofService(key, (o) => index.isPublic(o))) revisions.set(`${pub.namespace}/${pub.name}`, pub.namespace);
  for (const { target } of targets) revisions.set(`${target.namespace}/${target.revision}`, target.namespace);
  // The routes' edges come first (the request path in reading order); the nodes they reach are declared in drawRevision.
  for (const { route, target } of targets) builder.edge(route, builder.idFor(publicKey(target.namespace, target.revision)), target.label);
  for (const revisionKey of [...revisions.keys()].sort(byCodeUnit)) {
    const [namespace, revision] = revisionKey.split('/');
    drawRevision(builder, index, namespace, revision, cluster);
  }
}

function publicKey(namespace: string, revision: string): string {
  return `Service/${namespace}/${revision}`;
}

/** An ExternalName Service is a DNS alias of the local gateway's Service (knative/serving pkg/reconciler/route/resources/service.go). */
function drawExternalName(builder: GraphBuilder, ext: ObjectReader, cluster: string, gatewayIds: ReadonlyMap<string, string>): { alias: string; target: string } {
  const host = ext.optionalString(['spec', 'externalName']) ?? '';
  const alias = builder.node(`Service/${ext.namespace}/${ext.name}`, [`Service ${ext.name}`, 'type ExternalName', `→ ${host}`], 'box', cluster);
  // The gateway's Service carries the gateway's name (knative-local-gateway.istio-system...).
  const target = gatewayIds.get(host.split('.')[0]) ?? builder.node(`Host/${host}`, [host], 'round');
  builder.edge(alias, target);
  return { alias, target };
}

interface GatewayRef {
  readonly key: string;
  readonly name: string;
  readonly lines: readonly string[];
}

function gatewaysOf(route: ObjectReader): GatewayRef[] {
  if (isVirtualService(route)) {
    return route.list(['spec', 'gateways']).map((_, i) => route.optionalString(['spec', 'gateways', i]) ?? '').filter(Boolean).map((g) => ({
      key: g,
      name: g.split('/').pop()!,
      lines: g === MESH ? [MESH, 'Istio sidecars'] : ['Istio Gateway', g],
    }));
  }
  return route.list(['spec', 'parentRefs']).flatMap((_, i) => {
    const name = route.requiredString(['spec', 'parentRefs', i, 'name']);
    if (name === undefined) return [];
    const namespace = route.optionalString(['spec', 'parentRefs', i, 'namespace']) ?? route.namespace;
    return [{ key: `${namespace}/${name}`, name, lines: ['Gateway', `${namespace}/${name}`] }];
  });
}

function targetsOf(route: ObjectReader): RouteTarget[] {
  const tagOfHost = tagsByHost(route);
  return isVirtualService(route) ? virtualServiceTargets(route, tagOfHost) : httpRouteTargets(route, tagOfHost);
}

/** net-istio: one http rule per host (authority prefix) and, with tag-header routing, per header match. */
function virtualServiceTargets(route: ObjectReader, tagOfHost: (host: string) => string | undefined): RouteTarget[] {
  return route.list(['spec', 'http']).flatMap((_, i) => {
    const matches = route.list(['spec', 'http', i, 'match']).map((__, j) => ({
      host: route.optionalString(['spec', 'http', i, 'match', j, 'authority', 'prefix']) ?? route.optionalString(['spec', 'http', i, 'match', j, 'authority', 'exact']),
      header: headerValue(route.at(['spec', 'http', i, 'match', j, 'headers'])),
    }));
    const via = routeVia(matches, tagOfHost);
    const destinations = route.list(['spec', 'http', i, 'route']);
    return destinations.flatMap((__, k) => {
      const weight = route.optionalNumber(['spec', 'http', i, 'route', k, 'weight']) ?? (destinations.length === 1 ? 100 : 0);
      const host = route.requiredString(['spec', 'http', i, 'route', k, 'destination', 'host']);
      if (host === undefined) return [];
      const [revision, namespace] = host.split('.');
      return [{ revision, namespace: namespace ?? route.namespace, label: `${via}${weight}%` }];
    });
  });
}

/** net-gateway-api: the route's hostnames, one rule per tag header match and the default rule. */
function httpRouteTargets(route: ObjectReader, tagOfHost: (host: string) => string | undefined): RouteTarget[] {
  const hosts = route.list(['spec', 'hostnames']).map((_, i) => route.optionalString(['spec', 'hostnames', i]));
  return route.list(['spec', 'rules']).flatMap((_, i) => {
    const matches = route.list(['spec', 'rules', i, 'matches']).map((__, j) => ({ host: hosts[0], header: headerValue(route.at(['spec', 'rules', i, 'matches', j, 'headers'])) }));
    const via = routeVia(matches.length > 0 ? matches : [{ host: hosts[0], header: undefined }], tagOfHost);
    const refs = route.list(['spec', 'rules', i, 'backendRefs']);
    return refs.flatMap((__, k) => {
      const weight = route.optionalNumber(['spec', 'rules', i, 'backendRefs', k, 'weight']) ?? (refs.length === 1 ? 100 : 1);
      const name = route.requiredString(['spec', 'rules', i, 'backendRefs', k, 'name']);
      if (name === undefined) return [];
      const namespace = route.optionalString(['spec', 'rules', i, 'backendRefs', k, 'namespace']) ?? route.namespace;
      return [{ revision: name, namespace, label: `${via}${weight}%` }];
    });
  });
}

/** What picks a rule: a Knative-Serving-Tag header, a tag's own host, or neither (the main route). */
function routeVia(matches: ReadonlyArray<{ host?: string; header?: string }>, tagOfHost: (host: string) => string | undefined): string {
  const header = matches.find((m) => m.header)?.header;
  if (header) return `${TAG_HEADER}: ${header} → `;
  const tag = matches.map((m) => (m.host ? tagOfHost(m.host) : undefined)).find(Boolean);
  return tag ? `tag ${tag}: ` : '';
}

/** The Knative-Serving-Tag value of an Istio `headers` map or a Gateway API `headers` list. */
function headerValue(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    const match = headers.find((h) => typeof h?.name === 'string' && h.name.toLowerCase() === TAG_HEADER.toLowerCase());
    return typeof match?.value === 'string' ? match.value : undefined;
  }
  if (headers && typeof headers === 'object') {
    const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === TAG_HEADER.toLowerCase());
    const exact = (entry?.[1] as { exact?: unknown } | undefined)?.exact;
    return typeof exact === 'string' ? exact : undefined;
  }
  return undefined;
}

/** Which tag a rule's host belongs to, from the route's tag-to-host annotation (a host or a prefix of one). */
function tagsByHost(route: ObjectReader): (host: string) => string | undefined {
  const text = route.annotation(TAG_TO_HOST);
  if (text === undefined) return () => undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    route.problem(['metadata', 'annotations', TAG_TO_HOST], 'must be JSON: {"TAG": ["HOST", ...]}');
    return () => undefined;
  }
  const entries = parsed && typeof parsed === 'object' ? Object.entries(parsed as Record<string, unknown>) : [];
  return (host) => entries.find(([, hosts]) => Array.isArray(hosts) && hosts.some((h) => h === host || (typeof h === 'string' && h.startsWith(`${host}.`))))?.[0];
}

/** One revision's cluster, from its public Service (the routes' target) to its containers. */
function drawRevision(builder: GraphBuilder, index: ObjectIndex, namespace: string, revision: string, parent: string): void {
  const deployment = index.find(namespace, (o) => o.kind === 'Deployment' && o.label(Labels.REVISION) === revision);
  const mode = deployment ? modeOf(deployment) : DataPlaneModes.FULL;
  const cluster = builder.cluster(`revision/${namespace}/${revision}`, `revision ${revision} · data plane ${mode}`, parent);
  const pub = index.find(namespace, (o) => index.isPublic(o) && o.name === revision);
  const selects = pub?.at(['spec', 'selector']) !== undefined;
  const publicId = builder.node(publicKey(namespace, revision), [`Service ${revision}`, pub ? `public, ${selects ? 'selects the pods' : 'no selector'}` : 'not in the input'], 'box', cluster);
  const priv = index.find(namespace, (o) => o.kind === 'Service' && o.label(Labels.SERVICE_TYPE) === 'Private' && o.label(Labels.SERVERLESS_SERVICE) === revision);
  const privateId = priv ? builder.node(`Service/${namespace}/${priv.name}`, [`Service ${priv.name}`, 'private, selects the pods'], 'box', cluster) : undefined;
  // Declared before its edges so the request path reads in order: Service, Endpoints, Deployment, containers.
  const deploymentId = deployment ? builder.node(`Deployment/${namespace}/${deployment.name}`, [`Deployment ${deployment.name}`], 'box', cluster) : undefined;
  const endpoints = index.find(namespace, (o) => o.kind === 'Endpoints' && o.name === revision);
  if (endpoints && !selects) drawFlippedEndpoints(builder, { namespace, revision, mode, publicId, privateId, cluster });
  else if (deploymentId && (selects || selectsPods(mode))) builder.edge(publicId, deploymentId, 'selector');
  if (privateId && deploymentId) builder.edge(privateId, deploymentId, 'selector');
  if (deployment && deploymentId) drawContainers(builder, deployment, deploymentId, cluster);
}

/**
 * The Endpoints the runtime writes (no subsets in the manifest): the activators while the revision
 * is at zero or low scale (SKS Proxy mode), the pods once they can take the load (Serve mode);
 * always the activators in data-plane mode `activator` (lib/contract/data-plane.ts).
 */
function drawFlippedEndpoints(
  builder: GraphBuilder,
  r: { namespace: string; revision: string; mode: DataPlaneMode; publicId: string; privateId?: string; cluster: string },
): void {
  const id = builder.node(`Endpoints/${r.namespace}/${r.revision}`, [`Endpoints ${r.revision}`, 'written by the autoscaler'], 'diamond', r.cluster);
  builder.edge(r.publicId, id);
  const activator = builder.node(`Activator/${SYSTEM_NAMESPACE}`, [ACTIVATOR, SYSTEM_NAMESPACE], 'round');
  const always = r.mode === DataPlaneModes.ACTIVATOR;
  builder.edge(id, activator, always ? 'always (mode activator)' : 'Proxy: at zero / low scale');
  if (!r.privateId) return;
  builder.edge(activator, r.privateId, 'pod addresses');
  if (!always) builder.edge(id, r.privateId, 'Serve: pods ready');
}

function modeOf(deployment: ObjectReader): DataPlaneMode {
  const path = ['metadata', 'annotations', DATA_PLANE_ANNOTATION];
  const value = deployment.optionalString(path);
  if (value === undefined) return DataPlaneModes.FULL;
  if (isDataPlaneMode(value)) return value;
  deployment.problem(path, `must be one of ${Object.values(DataPlaneModes).join(', ')}, got "${value}"`);
  return DataPlaneModes.FULL;
}

/** A Deployment's containers: the queue-proxy first when there is one, then the containers that take requests (those with ports). */
function drawContainers(builder: GraphBuilder, deployment: ObjectReader, id: string, cluster: string): void {
  const containersPath = ['spec', 'template', 'spec', 'containers'];
  const containers = deployment.list(containersPath).map((_, i) => ({
    name: deployment.requiredString([...containersPath, i, 'name']) ?? `#${i}`,
    image: deployment.optionalString([...containersPath, i, 'image']),
    ports: deployment.list([...containersPath, i, 'ports']).map((__, j) => deployment.optionalNumber([...containersPath, i, 'ports', j, 'containerPort'])).filter((p) => p !== undefined),
  }));
  const queue = containers.find((c) => c.name === QUEUE_CONTAINER_NAME);
  const apps = containers.filter((c) => c !== queue);
  const serving = apps.filter((c) => c.ports.length > 0).length > 0 ? apps.filter((c) => c.ports.length > 0) : apps.slice(0, 1);
  const nodeOf = (c: (typeof containers)[number]) => {
    const lines = [`container ${c.name}`, ...(c === queue ? [] : c.image ? [c.image] : []), ...(c.ports.length ? [`port ${c.ports.join(', ')}`] : [])];
    return builder.node(`Container/${deployment.namespace}/${deployment.name}/${c.name}`, lines, 'round', cluster);
  };
  const first = queue ? nodeOf(queue) : undefined;
  if (first) builder.edge(id, first);
  for (const c of apps) {
    const cid = nodeOf(c);
    if (serving.includes(c)) builder.edge(first ?? id, cid);
    else builder.edge(id, cid, 'sidecar', true);
  }
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
