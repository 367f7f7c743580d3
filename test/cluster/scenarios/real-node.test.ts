// A compiled revision on a real node (issue 19): kube-scheduler binds the pod, the kubelet runs it
// under containerd + runc with CNI bridge networking, from images imported into containerd (the
// runtime image as `npm run image` built it, and the test app on top of it). What the node agent
// simulates is here the kubelet's own doing: the image's user and read-only root filesystem, the
// queue-proxy's readiness probe gating Ready, the user container's preStop drain through the
// queue-proxy on scale-down, and a restart after a crash.
//
// The compiled Deployment is applied as it is, with one test tuning: the queue-proxy's drain is
// 2 s instead of 30 s (QUEUE_DRAIN_SECONDS), so a scale-down completes in seconds
// (harness/real-node-revision.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_CONTAINER_NAME } from '../../../lib/contract/constants';
import { Names } from '../../../lib/contract/naming';
import { IMAGE_TARBALL, ensureRuntimeImage } from '../../support/runtime-image';
import { startControlPlane, waitFor, type ControlPlane } from '../harness';
import { realNodeFootprint, startRealNode, type ImportedImage, type RealNode } from '../harness/real-node';
import { compiledRevisionDeployment, revisionName } from '../harness/real-node-revision';
import { buildTestAppImage } from '../harness/test-app-image';
import { get } from '../harness/http';
import { Timeline } from './support/watch';

const NS = 'real-node';
const REV = revisionName('hello');
const DEPLOYMENT = Names.deployment(REV);
const USER = 'user-container';
/** The image's user (scripts/build-image.mjs NONROOT). */
const NONROOT = 65532;
/** The app listens this long after it starts, so the queue-proxy's probe fails first. */
const APP_START_DELAY_MS = 4000;

interface Node { cp: ControlPlane; node: RealNode; runtime: ImportedImage; app: ImportedImage; core: CoreV1Api; apps: AppsV1Api }
let env: Node | undefined;
let failed = false;
const cluster = (): Node => {
  if (!env) throw new Error('real node not started (beforeAll failed?)');
  return env;
};

interface PodView {
  name: string;
  ready: boolean;
  deleting: boolean;
  containers: Record<string, { ready: boolean; running: boolean; restarts: number; exitCode?: number; lastExitCode?: number }>;
}

function view(pod: V1Pod | undefined): PodView | undefined {
  if (!pod) return undefined;
  return {
    name: pod.metadata!.name!,
    ready: Boolean(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
    deleting: Boolean(pod.metadata?.deletionTimestamp),
    containers: Object.fromEntries((pod.status?.containerStatuses ?? []).map((s) => [s.name, {
      ready: s.ready, running: Boolean(s.state?.running), restarts: s.restartCount,
      exitCode: s.state?.terminated?.exitCode, lastExitCode: s.lastState?.terminated?.exitCode,
    }])),
  };
}

async function revisionPods(c: Node): Promise<V1Pod[]> {
  return (await c.core.listNamespacedPod({ namespace: NS, labelSelector: `serving.knative.dev/revision=${REV}` })).items;
}

/** Host PID of a container, from containerd's task list (the container ID in the pod status). */
async function containerPid(c: Node, pod: V1Pod, container: string): Promise<number> {
  const id = pod.status?.containerStatuses?.find((s) => s.name === container)?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`${pod.metadata?.name}: no container ID for ${container}`);
  const line = (await c.node.ctr('tasks', 'ls')).split('\n').find((l) => l.startsWith(`${id} `));
  const pid = Number(line?.split(/\s+/)[1]);
  if (!pid) throw new Error(`container ${container} (${id}) has no task in containerd`);
  return pid;
}

beforeAll(async () => {
  const cp = await startControlPlane();
  try {
    const tar = ensureRuntimeImage();
    const appTar = buildTestAppImage(tar, join(cp.dir, 'images'));
    const node = await startRealNode(cp, { images: [tar, appTar.path] });
    const runtime = await node.importImage(tar);
    const app = await node.importImage(appTar.path);
    env = { cp, node, runtime, app, core: cp.kubeConfig.makeApiClient(CoreV1Api), apps: cp.kubeConfig.makeApiClient(AppsV1Api) };
  } catch (e) {
    await cp.stop({ keepDir: true });
    throw e;
  }
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (!env) return;
  if (failed) process.stderr.write(`real node logs after a failed test:\n${env.node.logTails(40)}\n`);
  await env.node.stop({ keepDir: failed });
  await env.cp.stop({ keepDir: failed });
}, 120_000);

describe('a compiled revision on a real node (kubelet, containerd, runc, CNI bridge)', () => {
  let pods: Timeline<V1Pod, PodView | undefined>;
  let podName: string;

  it('imports the runtime image into containerd with its digest unchanged', () => {
    const c = cluster();
    const built = readFileSync(join(IMAGE_TARBALL, '..', 'runtime.ref'), 'utf8').trim();
    expect(c.runtime.ref).toBe(built);
    expect(c.app.ref).toMatch(/^kservice\.test\/test-app@sha256:[0-9a-f]{64}$/);
  });

  it('schedules the pod to the node, whose readiness probe keeps it unready until the app listens', async () => {
    const c = cluster();
    await c.cp.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }], 'real-node-test');
    const deployment = compiledRevisionDeployment({
      namespace: NS, service: 'hello', runtime: c.runtime, app: c.app, appEnv: { START_DELAY_MS: String(APP_START_DELAY_MS) },
    });
    const list = () => c.core.listNamespacedPod({ namespace: NS });
    // One watch per pod name is what Timeline records; the pod's name is known after creation.
    await c.cp.applyObjects([deployment as KubernetesObject], 'kservice');
    const first = await waitFor('the revision pod', async () => (await revisionPods(c))[0], { timeoutMs: 60_000 });
    podName = first.metadata!.name!;
    pods = new Timeline<V1Pod, PodView | undefined>(c.cp.kubeConfig, `/api/v1/namespaces/${NS}/pods`, list, podName, view);
    await pods.start();
    const ready = await waitFor('the pod Ready', async () => {
      const pod = (await revisionPods(c)).find((p) => p.metadata?.name === podName);
      return pod && view(pod)?.ready && pod;
    }, { timeoutMs: 120_000 });
    expect(ready.spec?.nodeName).toBe(c.node.name);
    expect(ready.status?.podIP).toMatch(/^10\.247\.0\.\d+$/);
    // Both containers ran while the pod was not Ready: the queue-proxy's probe failed until the app listened.
    const gated = pods.changes.find((ch) => ch.value && !ch.value.ready && ch.value.containers[QUEUE_CONTAINER_NAME]?.running
      && ch.value.containers[USER]?.running);
    expect(gated, pods.describe()).toBeDefined();
    const events = await c.core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${podName}` });
    const reported = events.items.map((e) => `${e.reportingComponent || e.source?.component}/${e.reason}`);
    expect(reported).toEqual(expect.arrayContaining(['kubelet/Started', 'default-scheduler/Scheduled']));
  }, 180_000);

  it('runs the image from containerd as uid 65532 with a read-only root filesystem and the pod-bound token, and serves through the queue-proxy', async () => {
    const c = cluster();
    const pod = await c.core.readNamespacedPod({ name: podName, namespace: NS });
    const queue = pod.status!.containerStatuses!.find((s) => s.name === QUEUE_CONTAINER_NAME)!;
    expect(queue.imageID).toBe(c.runtime.ref);
    const pid = await containerPid(c, pod, QUEUE_CONTAINER_NAME);
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    expect([Number(uid?.[1]), Number(uid?.[2])]).toEqual([NONROOT, NONROOT]);
    const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === '/');
    expect(rootMount?.[5]?.split(',')).toContain('ro');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('queue-proxy');
    // The kubelet's projected ServiceAccount token, as the container sees it: bound to this pod.
    const token = readFileSync(`/proc/${pid}/root/var/run/secrets/kubernetes.io/serviceaccount/token`, 'utf8');
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sub: string; 'kubernetes.io': { pod: { name: string } } };
    expect(claims.sub).toBe(`system:serviceaccount:${NS}:default`);
    expect(claims['kubernetes.io'].pod.name).toBe(podName);
    const res = await get(`http://${pod.status!.podIP}:8012/`);
    expect(res).toEqual({ status: 200, body: 'Hello World!\n' });
  }, 60_000);

  it('restarts a crashed container: SIGKILLed app, restart count 1, last exit 137, Ready again', async () => {
    const c = cluster();
    const pod = await c.core.readNamespacedPod({ name: podName, namespace: NS });
    const pid = await containerPid(c, pod, USER);
    process.kill(pid, 'SIGKILL');
    const back = await waitFor('the user container restarted and the pod Ready again', async () => {
      const v = view(await c.core.readNamespacedPod({ name: podName, namespace: NS }));
      return v && v.ready && v.containers[USER]?.restarts === 1 && v.containers[USER]?.running && v;
    }, { timeoutMs: 120_000 });
    expect(back.containers[USER]?.lastExitCode).toBe(137);
    expect(back.containers[QUEUE_CONTAINER_NAME]?.restarts).toBe(0);
    // Between the crash and the restart the probe took the pod out of Ready.
    expect(pods.changes.some((ch) => ch.value && !ch.value.ready && ch.value.containers[USER]?.exitCode === 137), pods.describe()).toBe(true);
    // Ready comes back before the restarted app listens: the queue-proxy's kubelet probe (period
    // 10 s, the compiled default) still holds its last success. Requests then get 502 until it listens.
    await waitFor('the app serving again through the queue-proxy', async () => (await get(`http://${pod.status!.podIP}:8012/`)).body === 'Hello World!\n', { timeoutMs: 60_000 });
  }, 150_000);

  it('drains on scale-down: preStop through the queue-proxy, both containers exit 0 well before the grace period', async () => {
    const c = cluster();
    const pod = await c.core.readNamespacedPod({ name: podName, namespace: NS });
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(300);
    const ip = pod.status!.podIP!;
    // While draining, the queue-proxy fails the readiness probe (Knative's drain) but still serves.
    const seen: string[] = [];
    let drained: { probe: number; get?: number } | undefined;
    const poll = (async () => {
      while (!drained) {
        const probe = await fetch(`http://${ip}:8012/`, { headers: { 'K-Network-Probe': 'queue' } }).then((r) => r.status, (e: Error) => String(e.cause ?? e));
        seen.push(`${Date.now()} probe ${probe}`);
        if (probe === 503) drained = { probe, get: await get(`http://${ip}:8012/`).then((r) => r.status, () => undefined) };
        else if (typeof probe === 'string' && seen.length > 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await c.apps.replaceNamespacedDeploymentScale({
      name: DEPLOYMENT, namespace: NS,
      body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: DEPLOYMENT, namespace: NS }, spec: { replicas: 0 } },
    });
    await waitFor('the pod gone', async () => (await revisionPods(c)).length === 0, { timeoutMs: 120_000 })
      .catch((e: Error) => { throw new Error(`${e.message}\nprobes:\n${seen.join('\n')}\n${pods.describe()}`); });
    await poll;
    expect(drained, seen.join('\n')).toEqual({ probe: 503, get: 200 });
    const last = pods.changes.map((ch) => ch.value).filter((v): v is PodView => Boolean(v)).at(-1)!;
    expect(last.deleting, pods.describe()).toBe(true);
    expect(last.containers[QUEUE_CONTAINER_NAME]?.exitCode, pods.describe()).toBe(0);
    expect(last.containers[USER]?.exitCode, pods.describe()).toBe(0);
    // The user container's preStop (GET :8022/wait-for-drain on the queue-proxy) succeeded.
    const events = await c.core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${podName}` });
    expect(events.items.map((e) => e.reason)).not.toContain('FailedPreStopHook');
    expect(events.items.map((e) => e.reason)).toContain('Killing');
    await pods.stop();
  }, 180_000);

  it('leaves no node behind: cgroups, bridge and lock are removed by stop()', async () => {
    const c = cluster();
    expect(realNodeFootprint().bridge).toBe(true);
    await c.node.stop({ keepDir: failed });
    expect(realNodeFootprint()).toEqual({ cgroups: [], bridge: false, lock: false });
  }, 120_000);
});
