// The cold-start measurement of the benchmark, on the real control plane (issue 5): the fixture of
// test/cluster/scenarios (etcd, kube-apiserver, kube-controller-manager, the node agent as kubelet,
// the compiled ServingSystem) with one KService per scale-from-zero data-plane mode (issue 13:
// `full` and `activator`, COLD_START_MODES), each starting at zero; the services differ only in
// name, `dataPlane` and the target-burst-capacity mode activator requires (TARGET_BURST_CAPACITY). The modes take turns, the same number of samples each (the order flips
// every round, so neither always goes first). Each sample starts from a fresh scale to zero: we
// wait until the autoscaler has taken every measured revision to zero pods (so no pod of the other
// mode is still terminating), then send one request to an activator pod.
// Each sample also records a timeline (timeline.ts): the client's send and first-byte times, a
// pod watch's ADDED time, the node agent's process start, the app's ready line, the queue-proxy's
// listening line (mode full only: mode activator has no queue-proxy, so that event is absent), and
// the runtime's own log lines (activator: poke, usable pods; autoscaler: decision, scale written).
// Started by bench/coldstart/run.ts, which passes BENCH_COLDSTART_SAMPLES and BENCH_COLDSTART_OUT
// and reads the JSON written there. Not part of `npm test` (vitest.config.ts includes test/ only).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { makeInformer, type V1Pod } from '@kubernetes/client-node';
import { expect, it } from 'vitest';
import { Labels, Ports, QUEUE_CONTAINER_NAME, SYSTEM_NAMESPACE, USER_CONTAINER_NAME } from '../../lib/contract/constants';
import { KService } from '../../lib/constructs/kservice';
import { DataPlane } from '../../lib/model/kservice-props';
import { waitFor } from '../../test/cluster/harness/wait';
import { readyLineEpochMs } from '../../test/cluster/scenarios/support/cold-start';
import { revisionHeaders } from '../../test/cluster/scenarios/support/router';
import { activatorPods, listPods, TEST_IMAGE, useServingCluster } from '../../test/cluster/scenarios/support/serving';
import { COLD_START_MODES, type ColdStartMode, type ColdStartSample } from './samples';
import { eventsFromLogs, queueProxyListeningAt, type Timeline, timelineProblems } from './timeline';

const NS = 'bench';
/** `cold-full`, `cold-activator`: one service per mode. */
const service = (mode: ColdStartMode) => `cold-${mode}`;
const revision = (mode: ColdStartMode) => `${service(mode)}-00001`;
/** The construct's DataPlane value of each mode (the same strings as the contract's DataPlaneModes). */
const DATA_PLANE: Readonly<Record<ColdStartMode, DataPlane>> = { full: DataPlane.FULL, activator: DataPlane.ACTIVATOR };
/** The autoscaler decides within seconds (stable window 6 s, grace 6 s); the wait is bounded anyway. */
const SCALE_TO_ZERO_TIMEOUT_MS = 120_000;

/**
 * The one other difference between the services: mode full keeps its earlier runs' target-burst-
 * capacity 0 (the activator leaves the path once a pod is up); mode activator refuses any value but
 * -1 (lib/model/data-plane.ts: it is always in the path), so it sets none.
 */
const TARGET_BURST_CAPACITY: Readonly<Record<ColdStartMode, { targetBurstCapacity?: number }>> = { full: { targetBurstCapacity: 0 }, activator: {} };
/** Per mode. */
const samples = Number(process.env.BENCH_COLDSTART_SAMPLES ?? 3);
const outFile = process.env.BENCH_COLDSTART_OUT;
/** The bench creates this file when the machine is quiet again (it runs the memory window meanwhile). */
const goFile = process.env.BENCH_COLDSTART_GO;
const GO_TIMEOUT_MS = 15 * 60_000;

// The fixture's FAST_AUTOSCALER brings revisions back to zero quickly between samples (the
// scale-down is not what we measure): 6 s stable window and 6 s grace, Knative's minimums (the
// constructs refuse a shorter grace since ccdcb20, so the 1 s this file used to set is gone).
const cluster = useServingCluster({
  services: (chart, config) => {
    for (const mode of COLD_START_MODES) {
      new KService(chart, service(mode), {
        namespace: NS,
        config,
        containers: [{ image: TEST_IMAGE }],
        dataPlane: DATA_PLANE[mode],
        autoscaling: { initialScale: 0, maxScale: 1, ...TARGET_BURST_CAPACITY[mode] },
      });
    }
  },
});

async function waitForZeroPods(): Promise<void> {
  const core = cluster().core;
  for (const mode of COLD_START_MODES) {
    const rev = revision(mode);
    await waitFor(`${rev} at zero pods`, async () => (await listPods(core, NS, `${Labels.REVISION}=${rev}`)).length === 0, { timeoutMs: SCALE_TO_ZERO_TIMEOUT_MS });
  }
}

/** When a watch first saw each pod of the revision (epoch ms), by pod name. */
async function watchPodAdds(rev: string): Promise<{ addedAt: Map<string, number>; stop: () => Promise<void> }> {
  const selector = `${Labels.REVISION}=${rev}`;
  const informer = makeInformer<V1Pod>(cluster().controlPlane.kubeConfig, `/api/v1/namespaces/${NS}/pods`, () => cluster().core.listNamespacedPod({ namespace: NS, labelSelector: selector }), selector);
  const addedAt = new Map<string, number>();
  informer.on('add', (pod) => {
    const name = pod.metadata?.name;
    if (name && !addedAt.has(name)) addedAt.set(name, Date.now());
  });
  await informer.start();
  return { addedAt, stop: () => informer.stop() };
}

interface TimedResponse {
  readonly status: number;
  readonly sentAt: number;
  readonly firstByteAt: number;
  readonly endAt: number;
}

/** One GET with epoch-ms timestamps for send, first byte (status line) and end of body. */
function timedGet(host: string, rev: string, timeoutMs = 60_000): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const req = request({ host, port: Ports.QUEUE_HTTP, path: '/', headers: revisionHeaders(NS, rev), agent: false, timeout: timeoutMs }, (res) => {
      const firstByteAt = Date.now();
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sentAt, firstByteAt, endAt: Date.now() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Everything the system pods (activators, autoscalers) have logged so far. */
async function systemLogs(): Promise<string> {
  const pods = await listPods(cluster().core, SYSTEM_NAMESPACE, '');
  const texts: string[] = [];
  for (const pod of pods) {
    const worker = cluster().agent.worker(SYSTEM_NAMESPACE, pod.metadata?.name ?? '');
    for (const file of Object.values(worker?.logFiles() ?? {})) {
      if (existsSync(file)) texts.push(readFileSync(file, 'utf8'));
    }
  }
  return texts.join('\n');
}

async function sample(mode: ColdStartMode, activatorIP: string): Promise<ColdStartSample> {
  const rev = revision(mode);
  const before = new Set((await listPods(cluster().core, NS, `${Labels.REVISION}=${rev}`)).map((p) => p.metadata?.name));
  const watch = await watchPodAdds(rev);
  let response: TimedResponse;
  try {
    response = await timedGet(activatorIP, rev);
  } finally {
    await watch.stop();
  }
  expect(response.status).toBe(200);
  const pod = await waitFor(`the pod that served the cold start of ${rev}`, async () => (await listPods(cluster().core, NS, `${Labels.REVISION}=${rev}`)).find((p) => !before.has(p.metadata?.name) && !p.metadata?.deletionTimestamp), { timeoutMs: 10_000 });
  const name = pod.metadata?.name ?? '';
  const worker = cluster().agent.worker(NS, name);
  const started = worker?.containerStartedAt(USER_CONTAINER_NAME)?.getTime();
  const logFile = worker?.logFiles()[USER_CONTAINER_NAME];
  if (started === undefined || !logFile) throw new Error(`the node agent has no user container for pod ${name}`);
  const ready = await waitFor(`ready line of ${name}`, () => readyLineEpochMs(logFile), { timeoutMs: 10_000 });
  // Mode activator's pod has no queue-proxy: no log, so no podReady (absent, not zero).
  const queueLog = worker.logFiles()[QUEUE_CONTAINER_NAME];
  const queueListening = queueLog && existsSync(queueLog) ? queueProxyListeningAt(readFileSync(queueLog, 'utf8')) : undefined;
  const timeline: Timeline = {
    ...eventsFromLogs(await systemLogs(), NS, rev, response.sentAt),
    requestSent: response.sentAt,
    podCreated: watch.addedAt.get(name),
    processStarted: started,
    appReady: ready,
    podReady: queueListening === undefined ? undefined : Math.max(ready, queueListening),
    firstByte: response.firstByteAt,
  };
  const requestToResponseMs = response.endAt - response.sentAt;
  const appStartToReadyMs = ready - started;
  return { mode, requestToResponseMs, appStartToReadyMs, overheadMs: requestToResponseMs - appStartToReadyMs, pod: name, timeline, timelineProblems: timelineProblems(timeline, mode) };
}

it(`measures ${samples} cold starts per mode (${COLD_START_MODES.join(', ')}), each from a fresh scale to zero`, async () => {
  process.stderr.write('coldstart: cluster ready\n');
  if (goFile) await waitFor(`the bench's go signal (${goFile})`, () => existsSync(goFile), { timeoutMs: GO_TIMEOUT_MS, intervalMs: 100 });
  const results: ColdStartSample[] = [];
  for (let i = 1; i <= samples; i++) {
    const order = i % 2 === 1 ? COLD_START_MODES : [...COLD_START_MODES].reverse();
    for (const mode of order) {
      await waitForZeroPods();
      const activatorIP = (await activatorPods(cluster()))[0]?.status?.podIP;
      expect(activatorIP, 'a ready activator pod').toBeTruthy();
      const m = await sample(mode, activatorIP!);
      results.push(m);
      const hops = m.timelineProblems?.length ? ` (timeline: ${m.timelineProblems.join(', ')})` : '';
      process.stderr.write(`coldstart: ${mode} sample ${i}/${samples}: request-to-response ${m.requestToResponseMs.toFixed(0)} ms, app start-to-ready ${m.appStartToReadyMs} ms, overhead ${m.overheadMs.toFixed(0)} ms${hops}\n`);
      if (outFile) writeFileSync(outFile, JSON.stringify(results));
    }
  }
  for (const mode of COLD_START_MODES) expect(results.filter((r) => r.mode === mode)).toHaveLength(samples);
});
