/**
 * Just enough of the Kubernetes API for the autoscaler (lib/runtime/autoscaler/kube-cluster.ts,
 * lib/runtime/kube/{informer,leader-election,endpoints-writer,scale}.ts), over plain HTTP on
 * 127.0.0.1, with every request counted:
 *
 * - list and watch (`?watch=true`, newline-delimited JSON events on a held-open chunked response,
 *   one resourceVersion counter for the whole store) of Deployments, Endpoints and ConfigMaps,
 *   with label selectors (`key` or `key=value`) and `metadata.name=` field selectors;
 * - GET, PUT (optimistic concurrency on resourceVersion: 409 on a stale one), server-side apply
 *   PATCH (create or merge) of Endpoints; GET/POST/PUT of Leases;
 * - JSON patch of `deployments/{name}/scale`.
 *
 * Cluster-wide list and watch (`/apis/apps/v1/deployments?labelSelector=…`,
 * `/api/v1/endpoints?labelSelector=…`) are what the runtime asks for when KSERVICE_NAMESPACES is
 * unset (lib/runtime/kube/informer.ts SelectedInformer). Writes are also counted per client, by
 * the bearer token of the kubeconfig (the bench gives each autoscaler replica its own).
 *
 * Not a conformance fake: no bookmarks (`allowWatchBookmarks` is accepted and ignored), no 410 Gone, no admission. Writes may be held a fixed
 * time (`writeLatencyMs`). Watches are not counted as API
 * requests (they are long-lived streams); every other request is, with the peak number in flight.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; generation?: number; [k: string]: unknown };
  [k: string]: unknown;
}

/** The resources served, by their URL segment. */
const RESOURCES = {
  deployments: { group: '/apis/apps/v1', kind: 'Deployment', listKind: 'DeploymentList', apiVersion: 'apps/v1' },
  endpoints: { group: '/api/v1', kind: 'Endpoints', listKind: 'EndpointsList', apiVersion: 'v1' },
  configmaps: { group: '/api/v1', kind: 'ConfigMap', listKind: 'ConfigMapList', apiVersion: 'v1' },
  leases: { group: '/apis/coordination.k8s.io/v1', kind: 'Lease', listKind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1' },
} as const;
export type Resource = keyof typeof RESOURCES;

/** `{group}/namespaces/{ns}/{resource}[/{name}[/scale]]`, or `{group}/{resource}` (all namespaces: list and watch only). */
const PATH = /^(\/api\/v1|\/apis\/apps\/v1|\/apis\/coordination\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/(scale))?$/;
const ALL_NAMESPACES = '';

interface Watcher {
  readonly resource: Resource;
  readonly namespace: string;
  readonly matches: (o: KubeObject) => boolean;
  readonly res: http.ServerResponse;
}

/** Requests counted: per second (wall-clock second since start), in flight, and writes per object. */
export class ApiCounters {
  inFlight = 0;
  peakInFlight = 0;
  /** The same, without Lease requests (leader election runs beside the write queue, not through it). */
  inFlightWithoutLeases = 0;
  peakInFlightWithoutLeases = 0;
  /** Request start times, ms since the epoch (watches excluded). */
  readonly requestTimes: number[] = [];
  /** `verb resource ns/name` → count, for the writes (PUT, PATCH, POST). */
  readonly writesPerObject = new Map<string, number>();
  /** verb → count. */
  readonly byVerb = new Map<string, number>();
  /** Writes answered 409 Conflict (a stale resourceVersion, or a create of an existing object). */
  conflicts = 0;
  /** Bearer token → writes (PUT, PATCH, POST) other than Lease requests. */
  readonly writesByClient = new Map<string, number>();

  reset(): void {
    this.peakInFlight = this.inFlight;
    this.peakInFlightWithoutLeases = this.inFlightWithoutLeases;
    this.requestTimes.length = 0;
    this.writesPerObject.clear();
    this.byVerb.clear();
    this.writesByClient.clear();
    this.conflicts = 0;
  }
}

export class FakeApiServer {
  readonly counters = new ApiCounters();
  /**
   * @param writeLatencyMs how long each write (any request but a GET) is held before it is
   * answered, as an API server's round trip to etcd: without it every request is answered before
   * the next one starts, and a bound on requests in flight would never be reached.
   */
  constructor(private readonly writeLatencyMs = 0) {}

  private readonly store = new Map<string, KubeObject>();
  private readonly watchers = new Set<Watcher>();
  private resourceVersion = 1;
  private uid = 1;
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  /** Called after every successful write of an object (the bench watches convergence with it). */
  onWrite: (resource: Resource, obj: KubeObject) => void = () => undefined;

  async start(): Promise<string> {
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', 4096, resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Puts an object as if created by someone else (no request counted); watchers see it. */
  put(resource: Resource, obj: KubeObject): KubeObject {
    const key = keyOf(resource, obj.metadata.namespace, obj.metadata.name);
    const existed = this.store.has(key);
    const stored = this.stamp(resource, obj, this.store.get(key));
    this.store.set(key, stored);
    this.notify(resource, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  /** Removes an object without telling watchers (the bench clears a dead replica's Lease with it). */
  remove(resource: Resource, namespace: string, name: string): void {
    this.store.delete(keyOf(resource, namespace, name));
  }

  get(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    return this.store.get(keyOf(resource, namespace, name));
  }

  /** Open watch streams. */
  get watchCount(): number {
    return this.watchers.size;
  }

  private stamp(resource: Resource, obj: KubeObject, previous: KubeObject | undefined): KubeObject {
    const r = RESOURCES[resource];
    return {
      ...obj,
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: { ...obj.metadata, uid: previous?.metadata.uid ?? `uid-${this.uid++}`, resourceVersion: String(++this.resourceVersion) },
    };
  }

  private notify(resource: Resource, type: 'ADDED' | 'MODIFIED', obj: KubeObject): void {
    const line = `${JSON.stringify({ type, object: obj })}\n`;
    for (const w of this.watchers) {
      if (w.resource === resource && (w.namespace === ALL_NAMESPACES || w.namespace === obj.metadata.namespace) && w.matches(obj)) w.res.write(line);
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = PATH.exec(url.pathname);
    const resource = m?.[3] as Resource | undefined;
    if (!m || !resource || !(resource in RESOURCES) || RESOURCES[resource].group !== m[1]) return void send(res, 404, status(404, `no route for ${req.method} ${url.pathname}`));
    const [, , namespace = ALL_NAMESPACES, , name, sub] = m;
    if (namespace === ALL_NAMESPACES && (name || req.method !== 'GET')) return void send(res, 404, status(404, `no route for ${req.method} ${url.pathname}`));
    if (req.method === 'GET' && !name && url.searchParams.get('watch') === 'true') return this.watch(resource, namespace, url, res);
    this.count(req, res, `${resource}${sub ? `/${sub}` : ''}`, namespace, name);
    void readBody(req).then(async (body) => {
      if (req.method !== 'GET' && this.writeLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.writeLatencyMs));
      try {
        this.route(req.method ?? 'GET', resource, namespace, name, sub, url, req.headers['content-type'] ?? '', body, res);
      } catch (err) {
        send(res, 400, status(400, (err as Error).message));
      }
    });
  }

  private count(req: http.IncomingMessage, res: http.ServerResponse, what: string, namespace: string, name: string | undefined): void {
    const c = this.counters;
    c.inFlight++;
    c.peakInFlight = Math.max(c.peakInFlight, c.inFlight);
    c.requestTimes.push(Date.now());
    const verb = req.method === 'GET' ? (name ? 'get' : 'list') : (req.method ?? '').toLowerCase();
    c.byVerb.set(verb, (c.byVerb.get(verb) ?? 0) + 1);
    if (verb !== 'get' && verb !== 'list') {
      const k = `${what} ${namespace}/${name ?? ''}`;
      c.writesPerObject.set(k, (c.writesPerObject.get(k) ?? 0) + 1);
      if (!what.startsWith('leases')) {
        const client = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        c.writesByClient.set(client, (c.writesByClient.get(client) ?? 0) + 1);
      }
    }
    res.once('close', () => c.inFlight--);
    if (!what.startsWith('leases')) {
      c.inFlightWithoutLeases++;
      c.peakInFlightWithoutLeases = Math.max(c.peakInFlightWithoutLeases, c.inFlightWithoutLeases);
      res.once('close', () => c.inFlightWithoutLeases--);
    }
    res.once('finish', () => {
      if (res.statusCode === 409) c.conflicts++;
    });
  }

  private route(method: string, resource: Resource, namespace: string, name: string | undefined, sub: string | undefined, url: URL, contentType: string, body: string, res: http.ServerResponse): void {
    const existing = name ? this.get(resource, namespace, name) : undefined;
    if (method === 'GET' && !name) return send(res, 200, this.list(resource, namespace, url));
    if (method === 'POST' && !name) return this.create(resource, namespace, JSON.parse(body) as KubeObject, res);
    if (!name) return send(res, 405, status(405, `${method} on a collection`));
    if (method === 'GET') return existing ? send(res, 200, existing) : send(res, 404, status(404, `${resource} ${name} not found`));
    if (sub === 'scale') return this.patchScale(resource, namespace, name, body, res);
    if (method === 'PATCH' && contentType.includes('apply-patch') && !existing) return this.create(resource, namespace, JSON.parse(body) as KubeObject, res);
    if (!existing) return send(res, 404, status(404, `${resource} ${name} not found`));
    if (method === 'PUT') {
      const obj = JSON.parse(body) as KubeObject;
      if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== existing.metadata.resourceVersion) {
        return send(res, 409, status(409, `${resource} ${name}: the object has been modified`));
      }
      return send(res, 200, this.write(resource, obj));
    }
    if (method === 'PATCH') {
      const patch = JSON.parse(body) as KubeObject;
      return send(res, 200, this.write(resource, { ...existing, ...patch, metadata: { ...existing.metadata, ...patch.metadata } }));
    }
    send(res, 405, status(405, `${method} not served`));
  }

  private create(resource: Resource, namespace: string, obj: KubeObject, res: http.ServerResponse): void {
    const name = obj.metadata?.name;
    if (!name) return send(res, 422, status(422, 'metadata.name is required'));
    if (this.get(resource, namespace, name)) return send(res, 409, status(409, `${resource} ${name} already exists`));
    send(res, 201, this.write(resource, { ...obj, metadata: { ...obj.metadata, namespace } }));
  }

  private write(resource: Resource, obj: KubeObject): KubeObject {
    const stored = this.put(resource, obj);
    this.onWrite(resource, stored);
    return stored;
  }

  /** `add /spec/replicas` (lib/runtime/kube/scale.ts), answered with the Scale. */
  private patchScale(resource: Resource, namespace: string, name: string, body: string, res: http.ServerResponse): void {
    const d = this.get(resource, namespace, name);
    if (resource !== 'deployments' || !d) return send(res, 404, status(404, `${resource} ${name} not found`));
    const ops = JSON.parse(body) as Array<{ op: string; path: string; value: number }>;
    const replicas = ops.find((o) => o.path === '/spec/replicas')?.value;
    if (typeof replicas !== 'number') return send(res, 422, status(422, 'expected add /spec/replicas'));
    const spec = { ...(d.spec as object), replicas };
    const written = this.write('deployments', { ...d, spec, metadata: { ...d.metadata, generation: (d.metadata.generation ?? 1) + 1 } });
    send(res, 200, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace, resourceVersion: written.metadata.resourceVersion }, spec: { replicas }, status: { replicas } });
  }

  private list(resource: Resource, namespace: string, url: URL): object {
    const matches = selectorOf(url);
    const prefix = namespace === ALL_NAMESPACES ? `${resource}/` : keyOf(resource, namespace, '');
    const items = [...this.store.entries()].filter(([k, o]) => k.startsWith(prefix) && matches(o)).map(([, o]) => o);
    const r = RESOURCES[resource];
    return { apiVersion: r.apiVersion, kind: r.listKind, metadata: { resourceVersion: String(this.resourceVersion) }, items };
  }

  /** Events after the list: the store is never compacted here, so a watch from any version just starts now. */
  private watch(resource: Resource, namespace: string, url: URL, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { resource, namespace, matches: selectorOf(url), res };
    this.watchers.add(w);
    res.once('close', () => this.watchers.delete(w));
  }
}

function keyOf(resource: Resource, namespace: string, name: string): string {
  return `${resource}/${namespace}/${name}`;
}

/** labelSelector `key` / `key=value` (comma-separated) and fieldSelector `metadata.name=…`. */
function selectorOf(url: URL): (o: KubeObject) => boolean {
  const labels = (url.searchParams.get('labelSelector') ?? '').split(',').filter(Boolean).map((term) => term.split('='));
  const name = /^metadata\.name=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
  return (o) =>
    (name === undefined || o.metadata.name === name) &&
    labels.every(([k, v]) => (v === undefined ? o.metadata.labels?.[k] !== undefined : o.metadata.labels?.[k] === v));
}

function status(code: number, message: string): object {
  return { apiVersion: 'v1', kind: 'Status', status: 'Failure', code, message };
}

function send(res: http.ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
