// The runtime's Kubernetes helpers (lib/runtime/kube) against a real API server: the resilient
// informer (list + watch, reconnect after a dropped connection), the scale-subresource patch and
// the public Endpoints writer under resourceNames-limited RBAC, and Lease leader election.
import { type ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, V1MicroTime, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { FieldManagers, loadKubeClients } from '../../lib/runtime/kube/client';
import { writeEndpointsSubsets } from '../../lib/runtime/kube/endpoints-writer';
import { ResilientInformer } from '../../lib/runtime/kube/informer';
import { LeaderElector } from '../../lib/runtime/kube/leader-election';
import { patchReplicas } from '../../lib/runtime/kube/scale';
import { createLogger } from '../../lib/runtime/shared/logger';
import { useControlPlane, waitFor } from './harness';
import { watchOutput } from '../support/child-output';
import { ensureRuntimeBundle } from './scenarios/support/runtime-bundle';

const NS = 'kube-helpers';
const logger = createLogger('test', { level: 'silent' });
const controlPlane = useControlPlane();
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function deployment(name: string, revision: string): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: { 'serving.knative.dev/revision': revision } },
    spec: {
      replicas: 0,
      selector: { matchLabels: { 'serving.knative.dev/revision': revision } },
      template: {
        metadata: { labels: { 'serving.knative.dev/revision': revision } },
        spec: { containers: [{ name: 'queue-proxy', image: 'registry.invalid/runtime:1' }] },
      },
    },
  } as KubernetesObject;
}

const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as KubernetesObject;

/**
 * A TCP forwarder to the API server whose connections the test can cut (a dropped watch) or
 * freeze (an API server that accepts connections and never answers).
 */
async function cuttableProxy(
  target: URL,
): Promise<{ url: string; cut: () => void; freeze: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const server = net.createServer((client) => {
    if (frozen) {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      client.on('error', () => undefined);
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    cut: () => sockets.forEach((s) => s.destroy()),
    freeze: () => {
      frozen = true;
      sockets.forEach((s) => s.destroy());
    },
    close: () => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

function withServer(kc: KubeConfig, server: string): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return copy;
}

describe('ResilientInformer', () => {
  it('lists, watches, and keeps watching after its connection is cut', async () => {
    const cp = controlPlane();
    await cp.applyObjects([namespace, deployment('first-deployment', 'first')], 'kube-helpers-test');
    const proxy = await cuttableProxy(new URL(cp.apiServerUrl));
    cleanups.push(proxy.close);
    const kc = withServer(cp.kubeConfig, proxy.url);
    const apps = kc.makeApiClient(AppsV1Api);
    const seen: string[] = [];
    const informer = new ResilientInformer<V1Deployment>({
      kubeConfig: kc,
      path: `/apis/apps/v1/namespaces/${NS}/deployments`,
      list: () => apps.listNamespacedDeployment({ namespace: NS, labelSelector: 'serving.knative.dev/revision' }),
      labelSelector: 'serving.knative.dev/revision',
      logger,
      initialBackoffMs: 100,
    });
    informer.on('add', (d) => seen.push(`add ${d.metadata?.name}`));
    informer.on('delete', (d) => seen.push(`delete ${d.metadata?.name}`));
    cleanups.push(() => informer.stop());
    await informer.start();
    expect(informer.synced).toBe(true);
    expect(seen).toContain('add first-deployment');

    await cp.applyObjects([deployment('second-deployment', 'second')], 'kube-helpers-test');
    await waitFor('watch event for second', async () => seen.includes('add second-deployment'));

    proxy.cut(); // the watch connection drops
    await cp.applyObjects([deployment('third-deployment', 'third')], 'kube-helpers-test');
    await cp.kubeConfig.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: 'first-deployment', namespace: NS });
    await waitFor('events after reconnecting', async () => seen.includes('add third-deployment') && seen.includes('delete first-deployment'));
    expect(informer.list(NS).map((d) => d.metadata?.name).sort()).toEqual(['second-deployment', 'third-deployment']);
  });
});

describe('scale patch and Endpoints writer with resourceNames-limited RBAC', () => {
  it('writes only the named objects, through the scale subresource and get+update', async () => {
    const cp = controlPlane();
    await cp.applyObjects(
      [
        namespace,
        deployment('mine-deployment', 'mine'),
        deployment('other-deployment', 'other'),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mine', namespace: NS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
        { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'mine', namespace: NS } },
        { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'other', namespace: NS } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'autoscaler', namespace: NS } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'autoscaler-writes', namespace: NS },
          rules: [
            { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'], resourceNames: ['mine-deployment'] },
            { apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'update', 'patch'], resourceNames: ['mine'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'autoscaler-writes', namespace: NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'autoscaler-writes' },
          subjects: [{ kind: 'ServiceAccount', name: 'autoscaler', namespace: NS }],
        },
      ] as KubernetesObject[],
      'kube-helpers-test',
    );
    const sa = loadKubeClients((await cp.serviceAccountKubeConfig(NS, 'autoscaler')).kubeConfig);
    const admin = cp.kubeConfig.makeApiClient(AppsV1Api);

    await waitFor('RBAC in effect', async () => {
      try {
        await patchReplicas(sa.apps, NS, 'mine-deployment', 3, FieldManagers.AUTOSCALER);
        return true;
      } catch {
        return false;
      }
    });
    const scaled = await admin.readNamespacedDeployment({ name: 'mine-deployment', namespace: NS });
    expect(scaled.spec?.replicas).toBe(3);
    // The write is named after the runtime, not the HTTP client ("node-fetch").
    const replicasOwners = (scaled.metadata?.managedFields ?? [])
      .filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('"f:replicas"'))
      .map((f) => `${f.manager}/${f.subresource ?? ''}`);
    expect(replicasOwners).toEqual([`${FieldManagers.AUTOSCALER}/scale`]);
    await expect(patchReplicas(sa.apps, NS, 'other-deployment', 3, FieldManagers.AUTOSCALER)).rejects.toMatchObject({ code: 403 });

    const subsets = [{ addresses: [{ ip: '10.200.0.5' }], ports: [{ name: 'http', port: 8012 }, { name: 'https', port: 8112 }] }];
    await writeEndpointsSubsets(sa.core, NS, 'mine', subsets, FieldManagers.AUTOSCALER);
    const written = await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespacedEndpoints({ name: 'mine', namespace: NS });
    expect(written.subsets?.[0].addresses?.map((a) => a.ip)).toEqual(['10.200.0.5']);
    expect(written.subsets?.[0].ports?.map((p) => p.port).sort()).toEqual([8012, 8112]);
    await writeEndpointsSubsets(sa.core, NS, 'mine', [], FieldManagers.AUTOSCALER);
    expect((await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespacedEndpoints({ name: 'mine', namespace: NS })).subsets ?? []).toEqual([]);
    await expect(writeEndpointsSubsets(sa.core, NS, 'other', subsets, FieldManagers.AUTOSCALER)).rejects.toMatchObject({ code: 403 });
  });
});

describe('LeaderElector on a coordination.k8s.io Lease', () => {
  function elector(kc: KubeConfig, identity: string, lease: string, events: string[]) {
    return new LeaderElector({
      coordination: kc.makeApiClient(CoordinationV1Api),
      namespace: NS,
      name: lease,
      identity,
      fieldManager: FieldManagers.AUTOSCALER,
      logger,
      leaseDurationSeconds: 2,
      retryPeriodMs: 100,
      renewDeadlineMs: 1500,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stops`),
    });
  }

  it('elects exactly one of two candidates, and the other takes over when the leader releases', async () => {
    const cp = controlPlane();
    await cp.applyObjects([namespace], 'kube-helpers-test');
    const events: string[] = [];
    const a = elector(cp.kubeConfig, 'a', 'two-candidates', events);
    const b = elector(cp.kubeConfig, 'b', 'two-candidates', events);
    cleanups.push(() => a.stop(), () => b.stop());
    a.start();
    b.start();
    await waitFor('a leader', async () => a.isLeader || b.isLeader);
    // Several renewals later there is still exactly one.
    await new Promise((r) => setTimeout(r, 1000));
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];
    const lease = await cp.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'two-candidates', namespace: NS });
    expect(lease.spec?.holderIdentity).toBe(leader === a ? 'a' : 'b');

    await leader.stop();
    await waitFor('the follower takes over', async () => follower.isLeader);
    expect(events.at(-2)).toMatch(/ stops$/);
    expect(events.at(-1)).toMatch(/ leads$/);
  });

  it('a leader whose API requests stop answering steps down within its renew deadline', async () => {
    const cp = controlPlane();
    await cp.applyObjects([namespace], 'kube-helpers-test');
    const proxy = await cuttableProxy(new URL(cp.apiServerUrl));
    cleanups.push(proxy.close);
    const events: string[] = [];
    const leader = elector(withServer(cp.kubeConfig, proxy.url), 'stuck', 'unanswered', events);
    cleanups.push(() => leader.stop());
    leader.start();
    await waitFor('stuck leads', async () => leader.isLeader);

    proxy.freeze(); // connections are accepted but nothing is ever answered
    await waitFor('stuck steps down', async () => !leader.isLeader, { timeoutMs: 10_000 });
    expect(events).toEqual(['stuck leads', 'stuck stops']);
    await leader.stop(); // and stopping does not hang on the unanswered request
  });

  it('takes over a Lease whose holder stopped renewing, only after the lease duration', async () => {
    const cp = controlPlane();
    await cp.applyObjects([namespace], 'kube-helpers-test');
    const coordination = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    await coordination.createNamespacedLease({
      namespace: NS,
      body: {
        metadata: { name: 'frozen', namespace: NS },
        spec: { holderIdentity: 'frozen-pod', leaseDurationSeconds: 2, renewTime: new V1MicroTime(Date.now()), leaseTransitions: 0 },
      },
    });
    const events: string[] = [];
    const c = elector(cp.kubeConfig, 'c', 'frozen', events);
    cleanups.push(() => c.stop());
    // Just observed: held by someone else, not expired yet from c's point of view.
    expect(await c.tryAcquireOrRenew()).toBe(false);
    c.start();
    await waitFor('c takes the expired lease', async () => c.isLeader);
    const lease = await coordination.readNamespacedLease({ name: 'frozen', namespace: NS });
    expect(lease.spec?.holderIdentity).toBe('c');
    expect(lease.spec?.leaseTransitions).toBe(1);
  });
});

describe('autoscaler process (bundled) against the API server', () => {
  const SYS = 'kservice-system-test';
  const APP_NS = 'kservice-app-test';
  const REV = 'hello-00001';

  function revisionObjects(): KubernetesObject[] {
    const labels = { 'serving.knative.dev/revision': REV };
    return [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYS } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: APP_NS } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'activator-service', namespace: SYS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'activator-service', namespace: SYS },
        // Never contacted: scraping is switched off below; they only have to be valid pod IPs.
        subsets: [{ addresses: [{ ip: '10.200.0.1' }, { ip: '10.200.0.2' }], ports: [{ name: 'http', port: 8012 }] }],
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `${REV}-deployment`, namespace: APP_NS, labels, annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev' } },
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
                    { name: 'REVISION_TIMEOUT_SECONDS', value: '300' },
                  ],
                },
              ],
            },
          },
        },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: `${REV}-private`, namespace: APP_NS }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: REV, namespace: APP_NS }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] } },
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: REV, namespace: APP_NS } },
    ] as KubernetesObject[];
  }

  async function startAutoscaler(kubeconfigPath: string, name: string): Promise<{ proc: ChildProcess; httpPort: number; lines: string[] }> {
    const proc = spawn(process.execPath, [ensureRuntimeBundle(), 'autoscaler'], {
      env: {
        PATH: process.env.PATH ?? '',
        KUBECONFIG: kubeconfigPath,
        KSERVICE_NAMESPACES: APP_NS,
        SYSTEM_NAMESPACE: SYS,
        POD_NAME: name,
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
      `autoscaler ${name}`,
    );
    return { proc, httpPort: await output.ready, lines: output.lines };
  }

  function poke(port: number, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/poke', agent: false }, (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      req.end(body);
    });
  }

  it('two replicas elect one leader; a poke scales the revision from zero and puts the activators in its Endpoints', async () => {
    const cp = controlPlane();
    await cp.applyObjects(revisionObjects(), 'kube-helpers-test');
    const first = await startAutoscaler(cp.kubeconfigPath, 'autoscaler-a');
    const second = await startAutoscaler(cp.kubeconfigPath, 'autoscaler-b');
    const coordination = cp.kubeConfig.makeApiClient(CoordinationV1Api);
    const holder = await waitFor('a lease holder', async () => (await coordination.readNamespacedLease({ name: 'kservice-autoscaler', namespace: SYS })).spec?.holderIdentity);
    expect(['autoscaler-a', 'autoscaler-b']).toContain(holder);
    const leader = holder === 'autoscaler-a' ? first : second;
    const follower = leader === first ? second : first;

    expect(await poke(follower.httpPort, '{"namespace":"kservice-app-test","revision":"nope"}')).toBe(404);
    expect(await poke(follower.httpPort, 'not json')).toBe(400);
    expect(await poke(leader.httpPort, JSON.stringify({ namespace: APP_NS, revision: REV }))).toBe(200);

    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor('replicas 1', async () => (await apps.readNamespacedDeployment({ name: `${REV}-deployment`, namespace: APP_NS })).spec?.replicas === 1);
    const ep = await core.readNamespacedEndpoints({ name: REV, namespace: APP_NS });
    expect(ep.subsets?.[0].addresses?.map((a) => a.ip)).toEqual(['10.200.0.1', '10.200.0.2']);
    expect(ep.subsets?.[0].ports?.map((p) => `${p.name}:${p.port}`).sort()).toEqual(['http:8012', 'https:8112']);
    // Only the leader wrote.
    expect(leader.lines.some((l) => l.includes('"msg":"scaled"'))).toBe(true);
    expect(follower.lines.some((l) => l.includes('"msg":"scaled"') || l.includes('"msg":"public Endpoints written"'))).toBe(false);

    // The leader dies without releasing: the follower takes the Lease once it has expired.
    leader.proc.kill('SIGKILL');
    const next = leader === first ? 'autoscaler-b' : 'autoscaler-a';
    await waitFor('the follower takes over', async () => (await coordination.readNamespacedLease({ name: 'kservice-autoscaler', namespace: SYS })).spec?.holderIdentity === next);
    await waitFor('the new leader logs it', async () => follower.lines.some((l) => l.includes('"msg":"became leader"')));
  });
});
