/**
 * Cold start on the real node (issue 19): a compiled revision (queue-proxy + the test app, images
 * imported into containerd) scaled from 0 to 1 on kubelet + containerd + runc + CNI bridge, as the
 * autoscaler does (the Deployment's scale subresource), then back to 0. Each sample is a timeline
 * seen from the scale write (t = 0), read from a watch on the pod (ms clock of this process, the
 * API server on 127.0.0.1) and from the containers' own logs:
 *
 *   created      the ReplicaSet controller created the pod            (control plane)
 *   scheduled    kube-scheduler bound it (spec.nodeName)              (control plane)
 *   sandbox      the pause container's task started                   (node: kubelet, CNI, containerd, runc)
 *   qpStarted    the queue-proxy's task started                       (node: image, create, runc)
 *   appStarted   the user container's task started                    (node)
 *   queueProxy   queue-proxy's "listening" log line                   (ours: queue-proxy start)
 *   appListens   test app's "ready" log line                          (the app)
 * Task starts come from containerd's event stream (`ctr events`, /tasks/start, ns resolution):
 * the API shows them late and together (the kubelet writes pod status in batches).
 *   firstByte    first 200 from the queue-proxy at podIP:8012         (ours + app)
 *   ready        pod Ready (the kubelet's probe of the queue-proxy)   (node: probe period)
 *
 * Only the revision pod runs on the node (no activator/autoscaler pods: those need the cluster's
 * Service network, not yet on the real node), so firstByte is the queue-proxy's, not through the
 * activator. Root, the control-plane and node binaries are needed; otherwise the section is skipped
 * with the reason.
 *
 * Standalone: `npx tsx bench/realnode/coldstart.ts [samples]`; in `npm run bench` as section `realnode`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { startControlPlane } from '../../test/cluster/harness/control-plane';
import { findNodeBinaries, nodeVersions } from '../../test/cluster/harness/node-binaries';
import { startProcess, type ManagedProcess } from '../../test/cluster/harness/processes';
import { startRealNode, type RealNode } from '../../test/cluster/harness/real-node';
import { compiledRevisionDeployment, revisionName } from '../../test/cluster/harness/real-node-revision';
import { buildTestAppImage } from '../../test/cluster/harness/test-app-image';
import { waitFor } from '../../test/cluster/harness/wait';
import { ensureRuntimeImage } from '../../test/support/runtime-image';
import { percentile, round } from '../lib/stats';

const NS = 'bench-realnode';
const SERVICE = 'cold';
export const PHASES = ['created', 'scheduled', 'sandbox', 'qpStarted', 'appStarted', 'queueProxy', 'appListens', 'firstByte', 'ready'] as const;
export type Phase = (typeof PHASES)[number];
/** What each phase is and whose it is, for the report (the table at the top of this file). */
export const PHASE_MEANING: Readonly<Record<Phase, { readonly what: string; readonly whose: string }>> = {
  created: { what: 'the ReplicaSet controller created the pod', whose: 'control plane' },
  scheduled: { what: 'kube-scheduler bound it (spec.nodeName)', whose: 'control plane' },
  sandbox: { what: "the pause container's task started", whose: 'node: kubelet, CNI, containerd, runc' },
  qpStarted: { what: "the queue-proxy's task started", whose: 'node: image, create, runc' },
  appStarted: { what: "the user container's task started", whose: 'node' },
  queueProxy: { what: 'queue-proxy\'s "listening" log line', whose: 'ours: queue-proxy start' },
  appListens: { what: 'test app\'s "ready" log line', whose: 'the app' },
  firstByte: { what: 'first 200 from the queue-proxy at podIP:8012', whose: 'ours + app' },
  ready: { what: "pod Ready (the kubelet's probe of the queue-proxy)", whose: 'node: probe period' },
};
export type RealNodeSample = Partial<Record<Phase, number>>;

export interface RealNodeColdStartResult {
  readonly skipped?: string;
  readonly error?: string;
  readonly versions?: Record<string, string>;
  readonly samples?: readonly RealNodeSample[];
  /** When and at which commit the samples were taken, and the machine's load around them. */
  readonly measured?: {
    readonly startedAt: string; readonly finishedAt: string; readonly commit: string;
    readonly loadAverageAtStart: readonly number[]; readonly loadAverageAtEnd: readonly number[];
  };
  /** Per phase, ms after the scale write: p50 and p95 over the samples. */
  readonly phases?: readonly { phase: Phase; p50Ms: number; p95Ms: number; samples?: number }[];
  /** Node (scale → containers running, less the control plane's part), ours (queue-proxy start), app, probe. */
  readonly split?: readonly { part: string; p50Ms: number; p95Ms: number; samples?: number }[];
}

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, cgroups, containerd)';
  try {
    findNodeBinaries();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

/** First `ready`/`listening` time (epoch ms) in a container's log under the kubelet's podLogsDir. */
function logTime(node: RealNode, pod: V1Pod, container: string, pattern: RegExp): number | undefined {
  const dir = join(node.dir, 'pod-logs', `${NS}_${pod.metadata!.name}_${pod.metadata!.uid}`, container);
  try {
    for (const file of readdirSync(dir).sort()) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        // CRI log format: "<RFC3339Nano> stdout F <message>"; the kubelet's timestamp of the line.
        if (pattern.test(line)) return Date.parse(line.split(' ')[0]);
      }
    }
  } catch {
    // not written yet
  }
  return undefined;
}

async function oneSample(core: CoreV1Api, apps: AppsV1Api, node: RealNode, events: ManagedProcess): Promise<RealNodeSample> {
  const deployment = `${revisionName(SERVICE)}-deployment`;
  const sample: RealNodeSample = {};
  const before = podAddresses(node);
  const t0 = Date.now();
  await apps.replaceNamespacedDeploymentScale({
    name: deployment, namespace: NS,
    body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: deployment, namespace: NS }, spec: { replicas: 1 } },
  });
  const mark = (phase: Phase, when = Date.now()): void => {
    if (sample[phase] === undefined) sample[phase] = when - t0;
  };
  // The first byte is polled apart from the API (a slow list call on the loaded machine must not
  // delay it): the pod's address is read from host-local's IPAM files as soon as CNI assigned it.
  const firstByte = (async () => {
    const ip = await waitFor('the pod address from host-local', () => newPodAddress(node, before), { timeoutMs: 120_000, intervalMs: 5 });
    await waitFor('the first byte from the queue-proxy', () =>
      fetch(`http://${ip}:8012/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false), { timeoutMs: 120_000, intervalMs: 5 });
    mark('firstByte');
  })();
  let pod: V1Pod | undefined;
  await waitFor('Ready on the real node', async () => {
    pod = (await core.listNamespacedPod({ namespace: NS })).items.find((p) => !p.metadata?.deletionTimestamp);
    if (!pod) return false;
    mark('created');
    if (pod.spec?.nodeName) mark('scheduled');
    if (pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) mark('ready');
    return sample.ready !== undefined;
  }, { timeoutMs: 120_000, intervalMs: 10 });
  await firstByte;
  const starts = taskStarts(events, t0);
  const idOf = (name: string) => pod!.status?.containerStatuses?.find((c) => c.name === name)?.containerID?.replace(/^containerd:\/\//, '');
  const qpId = idOf('queue-proxy');
  const appId = idOf('user-container');
  const sandbox = [...starts].find(([id]) => id !== qpId && id !== appId);
  if (sandbox) sample.sandbox = sandbox[1] - t0;
  if (qpId && starts.has(qpId)) sample.qpStarted = starts.get(qpId)! - t0;
  if (appId && starts.has(appId)) sample.appStarted = starts.get(appId)! - t0;
  const qp = logTime(node, pod!, 'queue-proxy', /"msg":"listening"/);
  const app = logTime(node, pod!, 'user-container', / ready \d+ port=/);
  if (qp) sample.queueProxy = qp - t0;
  if (app) sample.appListens = app - t0;
  await apps.replaceNamespacedDeploymentScale({
    name: deployment, namespace: NS,
    body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: deployment, namespace: NS }, spec: { replicas: 0 } },
  });
  await waitFor('the pod gone', async () => (await core.listNamespacedPod({ namespace: NS })).items.length === 0, { timeoutMs: 120_000 });
  return sample;
}

/** Addresses host-local has handed out (one file per address in its data dir). */
function podAddresses(node: RealNode): Set<string> {
  const dir = join(node.dir, 'cni', 'ipam', 'kservice-real-node');
  try {
    return new Set(readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)));
  } catch {
    return new Set();
  }
}

function newPodAddress(node: RealNode, before: ReadonlySet<string>): string | undefined {
  return [...podAddresses(node)].find((a) => !before.has(a));
}

/** Task start times (epoch ms) after t0 by container ID, from the `ctr events` log. */
function taskStarts(events: ManagedProcess, t0: number): Map<string, number> {
  const starts = new Map<string, number>();
  for (const line of readFileSync(events.logFile, 'utf8').split('\n')) {
    // "2026-12-07 16:40:01.123456789 +0000 UTC k8s.io /tasks/start {"container_id":"…","pid":123}"
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? \+0000 UTC \S+ \/tasks\/start (\{.*\})$/.exec(line);
    if (!m) continue;
    const at = Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}Z`);
    const id = (JSON.parse(m[4]) as { container_id?: string }).container_id;
    if (id && at >= t0 && !starts.has(id)) starts.set(id, at);
  }
  return starts;
}

function summarize(samples: readonly RealNodeSample[]): Pick<RealNodeColdStartResult, 'phases' | 'split'> {
  const stat = (values: number[]) => ({ p50Ms: round(percentile(values, 50)), p95Ms: round(percentile(values, 95)), samples: values.length });
  const phases = PHASES.map((phase) => ({ phase, values: samples.map((s) => s[phase]).filter((v): v is number => v !== undefined) }))
    .filter((p) => p.values.length > 0).map((p) => ({ phase: p.phase, ...stat(p.values) }));
  const diff = (a: Phase, b: Phase) => samples.filter((s) => s[a] !== undefined && s[b] !== undefined).map((s) => s[b]! - s[a]!);
  const split = [
    { part: 'control plane: scale write → pod bound', values: samples.map((s) => s.scheduled).filter((v): v is number => v !== undefined) },
    { part: 'node: bound → pause task started (kubelet, CNI, containerd, runc)', values: diff('scheduled', 'sandbox') },
    { part: 'node: pause started → queue-proxy task started', values: diff('sandbox', 'qpStarted') },
    { part: 'node: pause started → user container task started', values: diff('sandbox', 'appStarted') },
    { part: 'ours: queue-proxy task started → listening', values: diff('qpStarted', 'queueProxy') },
    { part: 'app: user container task started → listening', values: diff('appStarted', 'appListens') },
    { part: 'first byte after app listening (queue-proxy readiness + proxy)', values: diff('appListens', 'firstByte') },
    { part: 'node: first byte → Ready (kubelet probe period)', values: diff('firstByte', 'ready') },
  ].filter((p) => p.values.length > 0).map((p) => ({ part: p.part, ...stat(p.values) }));
  return { phases, split };
}

const loadAverage = () => loadavg().map((l) => Number(l.toFixed(2)));

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: join(__dirname, '..', '..'), encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function runRealNodeColdStart(samples: number): Promise<RealNodeColdStartResult> {
  const skipped = unavailable();
  if (skipped) return { skipped };
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  const cp = await startControlPlane();
  let node: RealNode | undefined;
  try {
    const tar = ensureRuntimeImage();
    const appTar = buildTestAppImage(tar, join(cp.dir, 'images'));
    node = await startRealNode(cp, { images: [tar, appTar.path] });
    const runtime = await node.importImage(tar);
    const app = await node.importImage(appTar.path);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    await cp.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }], 'bench');
    const deployment = compiledRevisionDeployment({ namespace: NS, service: SERVICE, runtime, app });
    deployment.spec!.replicas = 0;
    await cp.applyObjects([deployment as never], 'kservice');
    const events = startProcess('ctr-events', node.binaries.ctr, ['--address', node.containerdSocket, '-n', 'k8s.io', 'events'], join(node.dir, 'ctr-events.log'));
    const taken: RealNodeSample[] = [];
    for (let i = 0; i < samples; i++) {
      taken.push(await oneSample(core, apps, node, events));
      console.log(`realnode: sample ${i + 1}/${samples}: ${JSON.stringify(taken.at(-1))}`);
    }
    await events.stop();
    const v = nodeVersions();
    const versions = { kubelet: v.kubernetes, containerd: v.containerd, runc: v.runc, cni: v.cni };
    const measured = { startedAt, finishedAt: new Date().toISOString(), commit: gitCommit(), loadAverageAtStart, loadAverageAtEnd: loadAverage() };
    return { versions, measured, samples: taken, ...summarize(taken) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    await node?.stop();
    await cp.stop();
  }
}

if (require.main === module) {
  const samples = Number(process.argv[2] ?? 5);
  runRealNodeColdStart(samples).then((r) => {
    console.log(JSON.stringify({ ...r, samples: undefined }, null, 2));
    process.exit(r.error ? 1 : 0);
  }, (e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
