// The runtime's Kubernetes helpers (lib/runtime/kube) against a real API server: the resilient
// informer (list + watch, reconnect after a dropped connection), the scale-subresource patch and
// the public Endpoints writer under resourceNames-limited RBAC, and Lease leader election.
import * as net from 'node:net';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, V1MicroTime, type KubernetesObject, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKubeClients } from '../../lib/runtime/kube/client';
import { writeEndpointsSubsets } from '../../lib/runtime/kube/endpoints-writer';
import { ResilientInformer } from '../../lib/runtime/kube/informer';
import { LeaderElector } from '../../lib/runtime/kube/leader-election';
import { patchReplicas } from '../../lib/runtime/kube/scale';
import { createLogger } from '../../lib/runtime/shared/logger';
import { useControlPlane, waitFor } from './harness';

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

/** A TCP forwarder to the API server whose connections the test can cut (a dropped watch). */
async function cuttableProxy(target: URL): Promise<{ url: string; cut: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
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
        await patchReplicas(sa.apps, NS, 'mine-deployment', 3);
        return true;
      } catch {
        return false;
      }
    });
    expect((await admin.readNamespacedDeployment({ name: 'mine-deployment', namespace: NS })).spec?.replicas).toBe(3);
    await expect(patchReplicas(sa.apps, NS, 'other-deployment', 3)).rejects.toMatchObject({ code: 403 });

    const subsets = [{ addresses: [{ ip: '10.200.0.5' }], ports: [{ name: 'http', port: 8012 }, { name: 'https', port: 8112 }] }];
    await writeEndpointsSubsets(sa.core, NS, 'mine', subsets);
    const written = await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespacedEndpoints({ name: 'mine', namespace: NS });
    expect(written.subsets?.[0].addresses?.map((a) => a.ip)).toEqual(['10.200.0.5']);
    expect(written.subsets?.[0].ports?.map((p) => p.port).sort()).toEqual([8012, 8112]);
    await writeEndpointsSubsets(sa.core, NS, 'mine', []);
    expect((await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespacedEndpoints({ name: 'mine', namespace: NS })).subsets ?? []).toEqual([]);
    await expect(writeEndpointsSubsets(sa.core, NS, 'other', subsets)).rejects.toMatchObject({ code: 403 });
  });
});

describe('LeaderElector on a coordination.k8s.io Lease', () => {
  function elector(kc: KubeConfig, identity: string, lease: string, events: string[]) {
    return new LeaderElector({
      coordination: kc.makeApiClient(CoordinationV1Api),
      namespace: NS,
      name: lease,
      identity,
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
