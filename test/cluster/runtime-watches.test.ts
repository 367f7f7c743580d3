// The runtime's watches at namespace scale (issue 18), with a real autoscaler and activator (the
// runtime bundle) on a real API server, under the compiled RBAC: one label-selected watch per
// resource across all namespaces, whatever the number of namespaces; a namespace created after
// the process started is served without a restart; when the API server ends a watch (its
// timeoutSeconds) the informer resumes from the last bookmark instead of relisting.
//
// The autoscaler talks to the API server through a pass-through HTTPS proxy on 127.0.0.1 (the API
// server's own serving certificate) that records every request it forwards, so what is counted is
// what the API server was sent by this process alone (the controller manager's watches are not in
// the count). The proxy shortens each watch's `timeoutSeconds` so the API server ends watches
// every few seconds instead of every 5-10 minutes.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRbac } from '../../lib/builders/rbac';
import { ACTIVATOR, ACTIVATOR_SERVICE, AUTOSCALER, AUTOSCALER_LEASE, Labels, SYSTEM_NAMESPACE } from '../../lib/contract/constants';
import { watchOutput } from '../support/child-output';
import { useControlPlane, waitFor } from './harness';
import { ensureRuntimeBundle } from './scenarios/support/runtime-bundle';

/** The API server ends each watch after this long (it sends a bookmark 2 s before). */
const WATCH_TIMEOUT_S = 6;
const MORE_NAMESPACES = 20;
const ACTIVATOR_IPS = ['10.200.0.1', '10.200.0.2'];
const POD_NAME = 'autoscaler-watches';

const controlPlane = useControlPlane();
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Forwarded {
  method: string;
  path: string;
  query: URLSearchParams;
  watch: boolean;
}

/** Forwards everything to the API server, records it, and the most watches open at once per path. */
async function recordingProxy(apiServerUrl: string, caPem: string, pkiDir: string) {
  const upstream = new URL(apiServerUrl);
  const agent = new https.Agent({ keepAlive: true, ca: caPem });
  const forwarded: Forwarded[] = [];
  const openWatches = new Map<string, number>();
  const peakWatches = new Map<string, number>();
  const tls = { cert: readFileSync(join(pkiDir, 'apiserver.crt')), key: readFileSync(join(pkiDir, 'apiserver.key')) };
  const server = https.createServer(tls, (req, res) => {
    // Counted closed when the API server ends it, before the client can see the end and reconnect.
    let closed = () => undefined as void;
    const url = new URL(req.url ?? '/', 'https://proxy');
    const watch = url.searchParams.get('watch') === 'true';
    forwarded.push({ method: req.method ?? 'GET', path: url.pathname, query: new URLSearchParams(url.searchParams), watch });
    if (watch) {
      if (url.searchParams.has('timeoutSeconds')) url.searchParams.set('timeoutSeconds', String(WATCH_TIMEOUT_S));
      const open = (openWatches.get(url.pathname) ?? 0) + 1;
      openWatches.set(url.pathname, open);
      peakWatches.set(url.pathname, Math.max(open, peakWatches.get(url.pathname) ?? 0));
      closed = () => {
        closed = () => undefined;
        openWatches.set(url.pathname, (openWatches.get(url.pathname) ?? 1) - 1);
      };
      res.on('close', () => closed());
    }
    const out = https.request(
      { host: upstream.hostname, port: upstream.port, path: url.pathname + url.search, method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
      (up) => {
        up.on('end', () => closed());
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.flushHeaders(); // a watch's headers go out at once; its body may stay empty a while
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
    forwarded,
    /** Every path watched, with the most watches that were open on it at once. */
    peaks: () => Object.fromEntries([...peakWatches].sort(([a], [b]) => a.localeCompare(b))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

/** What a compiled revision has that the autoscaler reads, and the compiled write Role for it. */
function revisionObjects(namespace: string, revision: string): KubernetesObject[] {
  const labels = { [Labels.REVISION]: revision };
  const serverless = (type: string) => ({ ...labels, [Labels.SERVERLESS_SERVICE]: revision, [Labels.SERVICE_TYPE]: type });
  const port = [{ name: 'http', port: 80, targetPort: 8012 }];
  const rbac = buildRbac([{ name: revision, namespace, autoscalingClass: 'kpa.autoscaling.knative.dev', dataPlane: 'full' }]) as KubernetesObject[];
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    ...rbac.filter((o) => o.metadata?.namespace === namespace),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${revision}-deployment`, namespace, labels, annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              { name: 'user-container', image: 'registry.invalid/app:1' },
              {
                name: 'queue-proxy',
                image: 'registry.invalid/runtime:1',
                env: [
                  { name: 'QUEUE_SERVING_PORT', value: '8012' },
                  { name: 'CONTAINER_CONCURRENCY', value: '0' },
                  // Short: the activator answers a request it cannot place at once (no pod runs here) with a 503 after it.
                  { name: 'REVISION_TIMEOUT_SECONDS', value: '1' },
                ],
              },
            ],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: `${revision}-private`, namespace, labels: serverless('Private') }, spec: { selector: labels, ports: port } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: revision, namespace, labels: serverless('Public') }, spec: { ports: port } },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: revision, namespace, labels: serverless('Public') } },
  ] as KubernetesObject[];
}

function systemObjects(): KubernetesObject[] {
  const cluster = (buildRbac([]) as KubernetesObject[]).filter((o) => o.kind?.startsWith('Cluster') || o.metadata?.namespace === SYSTEM_NAMESPACE);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM_NAMESPACE } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: AUTOSCALER, namespace: SYSTEM_NAMESPACE } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: ACTIVATOR, namespace: SYSTEM_NAMESPACE } },
    ...cluster,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: ACTIVATOR_SERVICE, namespace: SYSTEM_NAMESPACE }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: ACTIVATOR_SERVICE, namespace: SYSTEM_NAMESPACE },
      // Never contacted: scraping is switched off below; they only have to be valid pod IPs.
      subsets: [{ addresses: ACTIVATOR_IPS.map((ip) => ({ ip })), ports: [{ name: 'http', port: 8012 }] }],
    },
  ] as KubernetesObject[];
}

function startAutoscaler(kubeconfigPath: string): { proc: ChildProcess; ready: Promise<number>; lines: string[] } {
  const proc = spawn(process.execPath, [ensureRuntimeBundle(), 'autoscaler'], {
    env: {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: kubeconfigPath,
      SYSTEM_NAMESPACE,
      POD_NAME,
      AUTOSCALER_HTTP_PORT: '0',
      AUTOSCALER_METRICS_PORT: '0',
      AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
      AUTOSCALER_TICK_MS: '500',
      AUTOSCALER_SCRAPE_MS: '3600000', // no scraping: the addresses above are not reachable
      AUTOSCALER_LEASE_DURATION_SECONDS: '2',
      AUTOSCALER_LEASE_RETRY_MS: '200',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  cleanups.push(() => (proc.kill('SIGKILL'), exited));
  const output = watchOutput(
    proc,
    (line) => (line.includes('"msg":"autoscaler listening"') ? (JSON.parse(line) as { httpPort: number }).httpPort : undefined),
    'autoscaler',
  );
  return { proc, ready: output.ready, lines: output.lines };
}

/** The activator, straight to the API server under the compiled RBAC (its ServiceAccount's token). */
function startActivator(kubeconfigPath: string): { proc: ChildProcess; ready: Promise<number>; lines: string[] } {
  const proc = spawn(process.execPath, [ensureRuntimeBundle(), 'activator'], {
    env: {
      PATH: process.env.PATH ?? '',
      KUBECONFIG: kubeconfigPath,
      SYSTEM_NAMESPACE,
      ACTIVATOR_HTTP_PORT: '0',
      ACTIVATOR_H2C_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_DRAIN_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  cleanups.push(() => (proc.kill('SIGKILL'), exited));
  const output = watchOutput(
    proc,
    (line) => (line.includes('"msg":"activator listening"') ? (JSON.parse(line) as { httpPort: number }).httpPort : undefined),
    'activator',
  );
  return { proc, ready: output.ready, lines: output.lines };
}

/** The activator's status for a request to the revision: 404 while it does not know it. */
function requestThroughActivator(port: number, namespace: string, revision: string): Promise<number> {
  const headers = { 'Knative-Serving-Namespace': namespace, 'Knative-Serving-Revision': revision };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => (res.resume(), resolve(res.statusCode!)));
    req.on('error', reject);
    req.end();
  });
}

function poke(port: number, namespace: string, revision: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/poke', agent: false }, (res) => (res.resume(), resolve(res.statusCode!)));
    req.on('error', reject);
    req.end(JSON.stringify({ namespace, revision }));
  });
}

/** resourceVersions are opaque by contract; on a real etcd they are its revision numbers, which order writes. */
const rv = (v: string | null | undefined) => Number(v ?? NaN);

describe('runtime watches across namespaces', () => {
  it(
    'one label-selected watch per resource whatever the namespaces; a late namespace is served by the autoscaler and the activator without a restart; watches resume from bookmarks, never relisting',
    async () => {
      const cp = controlPlane();
      await cp.applyObjects([...systemObjects(), ...revisionObjects('watch-first', 'first-00001')], 'watches-test');
      const { token } = await cp.serviceAccountKubeConfig(SYSTEM_NAMESPACE, AUTOSCALER);
      const proxy = await recordingProxy(cp.apiServerUrl, cp.caPem, join(cp.dir, 'pki'));
      cleanups.push(() => proxy.close());
      const kubeconfigPath = join(cp.dir, 'autoscaler-via-proxy.kubeconfig');
      writeFileSync(
        kubeconfigPath,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'proxy', cluster: { server: proxy.url, 'certificate-authority': cp.caFile } }],
          users: [{ name: AUTOSCALER, user: { token } }],
          contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: AUTOSCALER } }],
          'current-context': 'proxy',
        }),
      );

      const autoscaler = startAutoscaler(kubeconfigPath);
      const activator = startActivator((await cp.serviceAccountKubeConfig(SYSTEM_NAMESPACE, ACTIVATOR)).kubeconfigPath);
      try {
        await scenario(autoscaler, proxy, await activator.ready);
      } catch (err) {
        process.stderr.write(`autoscaler log (last 60 lines):\n${autoscaler.lines.slice(-60).join('\n')}\n`);
        process.stderr.write(`activator log (last 30 lines):\n${activator.lines.slice(-30).join('\n')}\n`);
        throw err;
      }
    },
    300_000,
  );

  async function scenario(autoscaler: ReturnType<typeof startAutoscaler>, proxy: Awaited<ReturnType<typeof recordingProxy>>, activatorPort: number): Promise<void> {
      const cp = controlPlane();
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const port = await autoscaler.ready;
      const alive = () => {
        if (autoscaler.proc.exitCode !== null) throw new Error(`autoscaler exited:\n${autoscaler.lines.slice(-20).join('\n')}`);
      };
      // Only the leader scales; a single replica takes the Lease.
      const coordination = cp.kubeConfig.makeApiClient(CoordinationV1Api);
      await waitFor('the autoscaler leads', async () => (await coordination.readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE })).spec?.holderIdentity === POD_NAME, { abortIf: alive });
      await waitFor('the first revision served (poke scales it)', async () => (await poke(port, 'watch-first', 'first-00001')) === 200, { abortIf: alive });

      // One watch per resource, cluster-wide for the revisions' objects, by name in knative-serving.
      const fixedWatches = {
        '/api/v1/endpoints': 1,
        '/api/v1/namespaces/knative-serving/configmaps': 1,
        '/api/v1/namespaces/knative-serving/endpoints': 1,
        '/apis/apps/v1/deployments': 1,
      };
      expect(proxy.peaks()).toEqual(fixedWatches);
      const revisionWatches = proxy.forwarded.filter((f) => f.watch && (f.path === '/apis/apps/v1/deployments' || f.path === '/api/v1/endpoints'));
      for (const w of revisionWatches) {
        expect(w.query.get('allowWatchBookmarks'), w.path).toBe('true');
        expect(w.query.get('labelSelector'), w.path).toBe(w.path.endsWith('deployments') ? Labels.REVISION : Labels.SERVERLESS_SERVICE);
      }

      // A namespace created after the processes started: served as soon as its objects exist.
      expect(await requestThroughActivator(activatorPort, 'watch-late', 'late-00001')).toBe(404);
      await cp.applyObjects(revisionObjects('watch-late', 'late-00001'), 'watches-test');
      await waitFor('the late revision served', async () => (await poke(port, 'watch-late', 'late-00001')) === 200, { abortIf: alive });
      await waitFor('the late revision scaled from zero', async () => (await apps.readNamespacedDeployment({ name: 'late-00001-deployment', namespace: 'watch-late' })).spec?.replicas === 1, { abortIf: alive });
      // The activator knows it too: it holds the request for a pod, and none comes within the revision's timeout.
      await waitFor('the activator serves the late revision', async () => (await requestThroughActivator(activatorPort, 'watch-late', 'late-00001')) !== 404);
      expect(await requestThroughActivator(activatorPort, 'watch-late', 'late-00001')).toBe(503);
      await waitFor('its public Endpoints on the activators', async () => {
        const ep = await core.readNamespacedEndpoints({ name: 'late-00001', namespace: 'watch-late' });
        return JSON.stringify(ep.subsets?.[0]?.addresses?.map((a) => a.ip)) === JSON.stringify(ACTIVATOR_IPS);
      });

      // Twenty more namespaces: every revision served, no watch added.
      const more = Array.from({ length: MORE_NAMESPACES }, (_, i) => ({ namespace: `watch-more-${i}`, revision: `more${i}-00001` }));
      await cp.applyObjects(
        more.flatMap((m) => revisionObjects(m.namespace, m.revision)),
        'watches-test',
      );
      for (const m of more) {
        await waitFor(`${m.namespace}/${m.revision} served`, async () => (await poke(port, m.namespace, m.revision)) === 200, { abortIf: alive });
      }
      expect(proxy.peaks()).toEqual(fixedWatches);
      expect(autoscaler.lines.filter((l) => l.includes('"msg":"autoscaler listening"')).length).toBe(1);
      await waitFor('every revision scaled', async () => {
        const list = await apps.listDeploymentForAllNamespaces({ labelSelector: Labels.REVISION });
        // ... and the controller manager done with their status, so no revision Deployment changes below.
        const settled = (d: (typeof list.items)[number]) => d.spec?.replicas === 1 && d.status?.replicas === 1 && d.status.observedGeneration === d.metadata?.generation;
        return list.items.length === MORE_NAMESPACES + 2 && list.items.every(settled);
      });

      // Bookmarks: a change no selected object sees (a Deployment without the revision label)
      // moves the resourceVersion the informer resumes from, which only a bookmark can carry.
      const unrelated = await apps.createNamespacedDeployment({
        namespace: 'watch-first',
        body: {
          metadata: { name: 'not-a-revision' },
          spec: { replicas: 0, selector: { matchLabels: { app: 'other' } }, template: { metadata: { labels: { app: 'other' } }, spec: { containers: [{ name: 'c', image: 'registry.invalid/other:1' }] } } },
        },
      });
      const unrelatedRv = rv(unrelated.metadata?.resourceVersion);
      const deploymentWatchesBefore = proxy.forwarded.filter((f) => f.watch && f.path === '/apis/apps/v1/deployments').length;
      const resumed = await waitFor(
        'a deployments watch resumed at or after the unrelated change',
        () => proxy.forwarded.find((f) => f.watch && f.path === '/apis/apps/v1/deployments' && rv(f.query.get('resourceVersion')) >= unrelatedRv),
        // The API server sends a bookmark only when its watch cache has moved past the watcher's
        // version; under load that can take more than one watch period, so allow several.
        { abortIf: alive, timeoutMs: 120_000 },
      );
      // Not from an event: no revision Deployment changed since the unrelated one was created.
      const selected = await apps.listDeploymentForAllNamespaces({ labelSelector: Labels.REVISION });
      expect(Math.max(...selected.items.map((d) => rv(d.metadata?.resourceVersion)))).toBeLessThan(unrelatedRv);
      expect(rv(resumed.query.get('resourceVersion'))).toBeGreaterThanOrEqual(unrelatedRv);

      // The API server ended the watch several times (timeoutSeconds); each resumed, none relisted.
      await waitFor(
        'three more deployments watches (the API server ended the earlier ones)',
        () => proxy.forwarded.filter((f) => f.watch && f.path === '/apis/apps/v1/deployments').length >= deploymentWatchesBefore + 3,
        { abortIf: alive, timeoutMs: 60_000 },
      );
      const lists = (path: string) => proxy.forwarded.filter((f) => !f.watch && f.method === 'GET' && f.path === path).length;
      expect(lists('/apis/apps/v1/deployments')).toBe(1);
      expect(lists('/api/v1/endpoints')).toBe(1);
      expect(proxy.peaks()).toEqual(fixedWatches);
  }
});
