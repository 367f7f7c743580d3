// The runtime's write queue (lib/runtime/kube/work-queue.ts) against a real API server, as the
// autoscaler wires it (main.ts): KubeCluster's writers (Endpoints replaced from the informer
// cache, scale patched) run through one WorkQueue with Knative's defaults. Every API request of
// the runtime passes a counting HTTP proxy on 127.0.0.1, so what is counted is what the API server
// was sent: requests in flight, their rate, and which object each wrote.
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, type KubernetesObject, type V1EndpointSubset, type V1Endpoints } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Labels } from '../../lib/contract/constants';
import { KubeCluster } from '../../lib/runtime/autoscaler/kube-cluster';
import { FieldManagers, loadKubeClients } from '../../lib/runtime/kube/client';
import { writeEndpointsSubsets } from '../../lib/runtime/kube/endpoints-writer';
import { ResilientInformer } from '../../lib/runtime/kube/informer';
import { WorkQueue, WriteQueueDefaults } from '../../lib/runtime/kube/work-queue';
import { createLogger } from '../../lib/runtime/shared/logger';
import { useControlPlane, waitFor } from './harness';

const NS = 'write-queue';
const ENDPOINTS = 400;
const DEPLOYMENTS = 100;
/** These Endpoints get a 429 with Retry-After on their first write. */
const THROTTLED = ['ep-010', 'ep-020', 'ep-030', 'ep-040', 'ep-050'];
const RETRY_AFTER_S = 2;

const logger = createLogger('test', { level: 'warn' });
const controlPlane = useControlPlane();
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  method: string;
  path: string;
  status: number;
  startMs: number;
  endMs: number;
}

/**
 * A reverse proxy to the API server (HTTPS with the API server's own serving certificate, which
 * names 127.0.0.1, so the runtime's client verifies it as usual) that counts the requests it passes (watches
 * aside: they stay open by design and are not writes), and answers the first write of each
 * THROTTLED object itself with 429 and Retry-After, as the API server's priority and fairness does.
 */
async function countingProxy(apiServerUrl: string, caPem: string, pkiDir: string) {
  const upstream = new URL(apiServerUrl);
  const agent = new https.Agent({ keepAlive: true, ca: caPem });
  const seen: Seen[] = [];
  const throttled = new Set<string>();
  let inFlight = 0;
  let peak = 0;
  const tls = { cert: readFileSync(join(pkiDir, 'apiserver.crt')), key: readFileSync(join(pkiDir, 'apiserver.key')) };
  const server = https.createServer(tls, (req, res) => {
    const path = req.url ?? '/';
    const watch = /[?&]watch=(true|1)\b/.test(path);
    const entry: Seen = { method: req.method ?? 'GET', path: path.split('?')[0], status: 0, startMs: Date.now(), endMs: 0 };
    if (!watch) {
      inFlight++;
      peak = Math.max(peak, inFlight);
      res.on('close', () => {
        inFlight--;
        entry.endMs = Date.now();
        entry.status = res.statusCode;
        seen.push(entry);
      });
    }
    const name = entry.path.split('/').at(-1) ?? '';
    if (entry.method === 'PUT' && THROTTLED.includes(name) && !throttled.has(name)) {
      throttled.add(name);
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(RETRY_AFTER_S) });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'TooManyRequests', code: 429, message: 'too many requests, please try again later' }));
      return;
    }
    const out = https.request(
      { host: upstream.hostname, port: upstream.port, path, method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        // A watch's headers go out at once (its body may stay empty for a while).
        res.flushHeaders();
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    seen,
    peak: () => peak,
    /** Forget what the informers' lists did: count from now on. */
    reset(): void {
      seen.length = 0;
      peak = inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

function endpointsName(i: number): string {
  return `ep-${String(i).padStart(3, '0')}`;
}
function deploymentName(i: number): string {
  return `dep-${String(i).padStart(3, '0')}`;
}
/** Version v of object i's subsets: one address unique to both. */
function subsetsOf(i: number, v: number): V1EndpointSubset[] {
  return [{ addresses: [{ ip: `10.${100 + v}.${Math.floor(i / 250)}.${i % 250}` }], ports: [{ name: 'http', port: 8012 }] }];
}

function objects(): KubernetesObject[] {
  // Each Endpoints with its selector-less Service, as a revision's public pair (without the Service
  // kube-controller-manager's endpoints controller deletes the Endpoints as leftovers).
  const eps = Array.from({ length: ENDPOINTS }, (_, i) => [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: endpointsName(i), namespace: NS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
    // Labelled as the compiled public Endpoints are: the runtime's informer selects by it.
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: endpointsName(i), namespace: NS, labels: { [Labels.SERVERLESS_SERVICE]: endpointsName(i) } } },
  ]).flat();
  const deps = Array.from({ length: DEPLOYMENTS }, (_, i) => {
    const labels = { [Labels.REVISION]: deploymentName(i) };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: deploymentName(i), namespace: NS, labels },
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
      },
    };
  });
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'writer', namespace: NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'writer', namespace: NS },
      rules: [
        { apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'list', 'watch', 'update'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'writer', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'writer' },
      subjects: [{ kind: 'ServiceAccount', name: 'writer', namespace: NS }],
    },
  ];
  return [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, ...rbac, ...eps, ...deps] as KubernetesObject[];
}

/** The runtime's clients, talking to the API server through the proxy with the ServiceAccount's token. */
function proxiedKubeConfig(proxyUrl: string, caFile: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'proxy', server: proxyUrl, caFile, skipTLSVerify: false }],
    users: [{ name: 'writer', token }],
    contexts: [{ name: 'proxy', cluster: 'proxy', user: 'writer' }],
    currentContext: 'proxy',
  });
  return kc;
}

describe('the write queue against kube-apiserver', () => {
  it(
    '500 objects, 3 desired states each, added at once: in flight <= workers, rate <= burst + qps x T, one write per object (no GET), Retry-After kept, final states right',
    async () => {
      const cp = controlPlane();
      const t0 = Date.now();
      const progress = (what: string) => process.stderr.write(`[write-queue test +${Date.now() - t0} ms] ${what}\n`);
      await cp.applyObjects(objects(), 'write-queue-test');
      progress('objects applied');
      const { token } = await cp.serviceAccountKubeConfig(NS, 'writer');
      const proxy = await countingProxy(cp.apiServerUrl, cp.caPem, join(cp.dir, 'pki'));
      cleanups.push(() => proxy.close());
      const kube = loadKubeClients(proxiedKubeConfig(proxy.url, cp.caFile, token));
      const cluster = new KubeCluster(kube, [NS], NS, logger);
      cleanups.push(() => cluster.stop());
      await waitFor('RBAC in effect and informers synced', async () => {
        await kube.core.listNamespacedEndpoints({ namespace: NS, limit: 1 });
        return true;
      });
      const noop = () => undefined;
      await cluster.start({ onDeployment: noop, onDeploymentDeleted: noop, onEndpoints: noop, onActivators: noop, onConfigAutoscaler: noop });
      await waitFor('every object in the informer caches', () => cluster.publicSubsets(NS, endpointsName(ENDPOINTS - 1)) !== undefined);
      progress('informers synced');

      const { workers, qps, burst } = WriteQueueDefaults;
      const failures: Array<{ key: string; status: unknown; retryInMs: number | undefined }> = [];
      // As main.ts wires it: the works take their tokens from the client's one limiter.
      const queue = new WorkQueue({
        ...WriteQueueDefaults,
        tokens: kube.limiter,
        backoff: { baseMs: WriteQueueDefaults.backoffBaseMs, maxMs: WriteQueueDefaults.backoffMaxMs },
        onFailure: (key, err, retryInMs) => failures.push({ key, status: (err as { code?: unknown }).code, retryInMs }),
      });
      proxy.reset();
      const startedMs = Date.now();
      // Three desired states per object, added back to back as a burst of reconciles would.
      for (let v = 1; v <= 3; v++) {
        for (let i = 0; i < ENDPOINTS; i++) {
          void queue.add(`endpoints/${NS}/${endpointsName(i)}`, () => cluster.writePublicSubsets(NS, endpointsName(i), subsetsOf(i, v))).catch(noop);
        }
        for (let i = 0; i < DEPLOYMENTS; i++) {
          void queue.add(`scale/${NS}/${deploymentName(i)}`, () => cluster.setReplicas(NS, deploymentName(i), 4 - v)).catch(noop);
        }
        expect(queue.length).toBeLessThanOrEqual(ENDPOINTS + DEPLOYMENTS);
      }
      await queue.whenIdle();
      const tookMs = Date.now() - startedMs;

      // Final states: the last desired state of every object.
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
      const eps = new Map((await core.listNamespacedEndpoints({ namespace: NS })).items.map((e) => [e.metadata?.name, e.subsets?.[0]?.addresses?.map((a) => a.ip)]));
      for (let i = 0; i < ENDPOINTS; i++) expect(eps.get(endpointsName(i))).toEqual([subsetsOf(i, 3)[0].addresses![0].ip]);
      const deps = (await apps.listNamespacedDeployment({ namespace: NS })).items;
      expect(deps.map((d) => d.spec?.replicas)).toEqual(Array(DEPLOYMENTS).fill(1));

      const requests = proxy.seen;
      // No GET before a write: every request was a write (PUT from the cache, PATCH of the scale).
      expect(requests.filter((r) => r.method !== 'PUT' && r.method !== 'PATCH')).toEqual([]);
      // In flight: never more than the workers.
      expect(proxy.peak()).toBeLessThanOrEqual(workers);
      // Rate: any window [a, b] between two request arrivals holds at most burst + qps x (b - a)
      // requests whose token was taken in it, plus those whose token was taken before a and were
      // still on their way to the proxy at a: in flight, so at most `workers` of them.
      const starts = requests.map((r) => r.startMs).sort((a, b) => a - b);
      let worst = -Infinity;
      for (let i = 0; i < starts.length; i++) {
        for (let j = i; j < starts.length && starts[j] - starts[i] <= 10_000; j++) {
          worst = Math.max(worst, j - i + 1 - (burst + (qps * (starts[j] - starts[i])) / 1000 + workers));
        }
      }
      expect(worst).toBeLessThanOrEqual(0);
      // One write per object: the last state; a second only where a worker had already taken the
      // first state when the later ones came in (at most one per worker).
      const okWrites = new Map<string, number>();
      for (const r of requests.filter((r) => r.status < 300)) okWrites.set(r.path, (okWrites.get(r.path) ?? 0) + 1);
      expect(okWrites.size).toBe(ENDPOINTS + DEPLOYMENTS);
      const twice = [...okWrites].filter(([, n]) => n === 2);
      expect(twice.length).toBeLessThanOrEqual(workers);
      expect([...okWrites.values()].every((n) => n === 1 || n === 2)).toBe(true);
      // Failures: the injected 429s (each retried after its Retry-After) and 409s (a write from a
      // cache not yet showing our previous write), nothing else.
      expect(new Set(failures.map((f) => f.status))).toEqual(new Set(failures.some((f) => f.status === 409) ? [409, 429] : [429]));
      for (const name of THROTTLED) {
        const mine = requests.filter((r) => r.path.endsWith(`/endpoints/${name}`)).sort((a, b) => a.startMs - b.startMs);
        expect(mine.map((r) => r.status)).toEqual([429, 200]);
        expect(mine[1].startMs - mine[0].endMs).toBeGreaterThanOrEqual(RETRY_AFTER_S * 1000);
      }
      const total = requests.length;
      process.stdout.write(
        `write queue: ${total} requests (${twice.length} second writes, ${failures.length} failures) for ${ENDPOINTS + DEPLOYMENTS} objects x 3 states in ${tookMs} ms; peak in flight ${proxy.peak()}\n`,
      );
    },
    300_000,
  );

  it('a write from a cache behind the API server gets 409 and is written again from the cache once it caught up', async () => {
    const cp = controlPlane();
    const name = 'conflict';
    await cp.applyObjects(
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
        { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
        { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: NS, labels: { [Labels.SERVERLESS_SERVICE]: name } } },
      ] as KubernetesObject[],
      'write-queue-test',
    );
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const informer = () =>
      new ResilientInformer<V1Endpoints>({
        kubeConfig: cp.kubeConfig,
        logger,
        path: `/api/v1/namespaces/${NS}/endpoints`,
        list: () => core.listNamespacedEndpoints({ namespace: NS, fieldSelector: `metadata.name=${name}` }),
        fieldSelector: `metadata.name=${name}`,
      });
    // The cache: read, then stopped, so it keeps the version it read while another writer moves on.
    let cache = informer();
    await cache.start();
    await cache.stop();
    await core.replaceNamespacedEndpoints({ name, namespace: NS, body: { ...(await core.readNamespacedEndpoints({ name, namespace: NS })), subsets: subsetsOf(1, 1) } });

    const statuses: unknown[] = [];
    const queue = new WorkQueue({ workers: 1, qps: 100, burst: 10, backoff: { baseMs: 50, maxMs: 2000 }, onFailure: (_k, err) => statuses.push((err as { code?: unknown }).code) });
    const write = async () => void (await writeEndpointsSubsets(core, NS, name, subsetsOf(2, 2), FieldManagers.AUTOSCALER, { fromCache: { object: cache.get(name, NS) } }));
    await expect(queue.add(`endpoints/${NS}/${name}`, write)).rejects.toMatchObject({ code: 409 });
    // The cache catches up (a new informer lists the current version); the queue's retry writes.
    const fresh = informer();
    cleanups.push(() => fresh.stop());
    await fresh.start();
    cache = fresh;
    await queue.whenIdle();
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(new Set(statuses)).toEqual(new Set([409]));
    const written = await core.readNamespacedEndpoints({ name, namespace: NS });
    expect(written.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual([subsetsOf(2, 2)[0].addresses![0].ip]);
  });
});
