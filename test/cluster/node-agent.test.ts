// The node agent against a real control plane, with plain test-app pods (no Knative objects):
// pods are bound, run in their own network namespaces, get addresses, become Ready through their
// readiness probes, fill Endpoints, answer at their pod IP, restart when they crash, and go away
// cleanly when deleted.
import { existsSync, readFileSync } from 'node:fs';
import {
  AppsV1Api, AuthenticationV1Api, CoreV1Api, KubeConfig, type KubernetesObject, type V1Pod,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { waitFor } from './harness';
import { stopNodeCluster, useNodeCluster } from './node-agent/cluster';
import { testAppImage } from './node-agent/images';
import { httpGet } from './scenarios/support/http';

const NS = 'agent';
const IMAGE = 'registry.test/test-app:1';
const cluster = useNodeCluster({ images: [testAppImage(IMAGE)] });

function deployment(name: string, replicas: number, extra: { probePort?: number; port?: number } = {}): KubernetesObject {
  const port = extra.port ?? 8080;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          serviceAccountName: 'web',
          terminationGracePeriodSeconds: 5,
          containers: [{
            name: 'app',
            image: IMAGE,
            ports: [{ name: 'http', containerPort: port }],
            env: [
              { name: 'BASE_PORT', value: String(port) },
              { name: 'PORT', value: '$(BASE_PORT)' },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            ],
            readinessProbe: { httpGet: { path: '/healthz', port: extra.probePort ?? 'http' }, periodSeconds: 1 },
          }],
        },
      },
    },
  } as KubernetesObject;
}

const base: KubernetesObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: NS } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8081 }] } } as KubernetesObject,
];

function core(): CoreV1Api {
  return cluster().controlPlane.kubeConfig.makeApiClient(CoreV1Api);
}

async function readyPods(app: string, count: number): Promise<V1Pod[]> {
  return waitFor(`${count} ready pods of ${app}`, async () => {
    const pods = (await core().listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items
      .filter((p) => !p.metadata?.deletionTimestamp);
    const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === count && pods.length === count && ready;
  }, { timeoutMs: 60_000 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('node agent', () => {
  it('registers a Ready node with its address', async () => {
    const node = await core().readNode({ name: cluster().agent.nodeName });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: cluster().network.hostIp });
  });

  it('binds, runs and probes pods; their addresses fill the Service Endpoints and answer', async () => {
    const cp = cluster().controlPlane;
    await cp.applyObjects([...base, deployment('web', 2, { port: 8081 })], 'node-agent-test');
    const pods = await readyPods('web', 2);
    const ips = pods.map((p) => p.status?.podIP ?? '');
    expect(new Set(ips).size).toBe(2);
    for (const ip of ips) expect(ip.startsWith(`${cluster().network.subnetPrefix}.`), ip).toBe(true);
    for (const p of pods) {
      expect(p.spec?.nodeName).toBe('kservice-node');
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.hostIP).toBe(cluster().network.hostIp);
      expect(p.status?.containerStatuses?.[0]).toMatchObject({ name: 'app', ready: true, started: true, restartCount: 0 });
    }

    const endpoints = await waitFor('Endpoints web with both pods', async () => {
      const ep = await core().readNamespacedEndpoints({ name: 'web', namespace: NS });
      const addrs = ep.subsets?.flatMap((s) => s.addresses ?? []).map((a) => a.ip) ?? [];
      return addrs.length === 2 && ep;
    });
    expect(endpoints.subsets?.[0]?.addresses?.map((a) => a.ip).sort()).toEqual([...ips].sort());
    expect(endpoints.subsets?.[0]?.ports?.[0]?.port).toBe(8081);

    // PORT came from $(BASE_PORT): the app listens where the pod spec said, at the pod's own IP.
    for (const ip of ips) {
      const res = await httpGet(`http://${ip}:8081/echo`, { timeoutMs: 5000 });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).host).toBe(`${ip}:8081`);
    }
  });

  it('runs each pod with a token of its ServiceAccount, bound to the pod', async () => {
    const pods = await readyPods('web', 2);
    const worker = cluster().agent.worker(NS, pods[0].metadata?.name ?? '');
    expect(worker).toBeDefined();
    const kubeconfig = `${worker?.logDir}/kubeconfig`;
    expect(existsSync(kubeconfig)).toBe(true);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    expect(kc.getCurrentCluster()?.server).toBe(cluster().controlPlane.apiServerUrl);
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${NS}:web`);
    expect(review.status?.userInfo?.extra?.['authentication.kubernetes.io/pod-name']).toEqual([pods[0].metadata?.name]);
  });

  it('keeps a pod whose readiness probe fails out of the ready addresses', async () => {
    const cp = cluster().controlPlane;
    await cp.applyObjects([deployment('unready', 1, { probePort: 9999 })], 'node-agent-test');
    const pod = await waitFor('unready pod running with an IP', async () => {
      const p = (await core().listNamespacedPod({ namespace: NS, labelSelector: 'app=unready' })).items[0];
      return p?.status?.phase === 'Running' && Boolean(p.status.podIP) && p;
    });
    // Several probe periods pass; the pod must never turn Ready.
    await new Promise((r) => setTimeout(r, 3000));
    const again = await core().readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: NS });
    expect(again.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    expect(again.status?.containerStatuses?.[0]?.ready).toBe(false);
    // ...yet the process runs and answers on its IP: only the probe (port 9999) fails.
    const res = await httpGet(`http://${pod.status?.podIP}:8080/healthz`, { timeoutMs: 5000 });
    expect(res.status).toBe(200);
  });

  it('restarts a container whose process dies', async () => {
    const [pod] = await readyPods('web', 2);
    const worker = cluster().agent.worker(NS, pod.metadata?.name ?? '');
    const before = worker?.pids().app;
    expect(before).toBeGreaterThan(0);
    expect(worker?.signal('app', 'SIGKILL')).toBe(true);
    const restarted = await waitFor('container restarted and ready again', async () => {
      const p = await core().readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: NS });
      const s = p.status?.containerStatuses?.[0];
      return s?.restartCount === 1 && s.ready && p;
    });
    expect(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
    expect(worker?.pids().app).not.toBe(before);
    expect(alive(before ?? 0)).toBe(false);
  });

  it('terminates a deleted pod: SIGTERM, namespace removed, Pod deleted, replacement started', async () => {
    const pods = await readyPods('web', 2);
    const victim = pods[0];
    const name = victim.metadata?.name ?? '';
    const worker = cluster().agent.worker(NS, name);
    const pid = worker?.pids().app ?? 0;
    const log = worker?.logFiles().app ?? '';
    expect(alive(pid)).toBe(true);
    await core().deleteNamespacedPod({ name, namespace: NS });
    await waitFor(`pod ${name} gone from the API`, async () => {
      const list = await core().listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
      return !list.items.some((p) => p.metadata?.name === name);
    }, { timeoutMs: 30_000 });
    expect(alive(pid)).toBe(false);
    // test-app exits on SIGTERM after closing its server; the agent logs the signal it ended with.
    expect(worker?.events.some((e) => /app exited code=0|app exited code=null signal=SIGTERM/.test(e))).toBe(true);
    expect(readFileSync(log, 'utf8')).toContain('ready ');
    expect((await cluster().network.leftovers()).filter((n) => n.endsWith(`pod${victim.status?.podIP?.split('.')[3]}`))).toEqual([]);
    const after = await readyPods('web', 2);
    expect(after.map((p) => p.metadata?.name)).not.toContain(name);
    const deployment = await cluster().controlPlane.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'web', namespace: NS });
    expect(deployment.status?.readyReplicas).toBe(2);
  });

  it('stops everything it started: processes, namespaces, veths, bridge', async () => {
    const c = cluster();
    const pids = c.agent.allWorkers().flatMap((w) => Object.values(w.pids())).filter((p): p is number => p !== undefined);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await stopNodeCluster(c, false);
    expect(pids.filter(alive)).toEqual([]);
    expect(await c.network.leftovers()).toEqual([]);
  });
});
