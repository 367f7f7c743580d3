// One cold start, measured: a request for a revision at zero replicas sent to an activator pod,
// timed from sending to the end of the response, next to the app's own start-to-ready time (the
// user container process start as the node agent saw it, to test-app's `ready <epoch ms>` line).
// Exported for the benchmark, which runs it repeatedly on the same kind of cluster.
import { readFileSync } from 'node:fs';
import type { CoreV1Api } from '@kubernetes/client-node';
import { Labels, Ports, USER_CONTAINER_NAME } from '../../../../lib/contract/constants';
import type { NodeAgent } from '../../node-agent/agent';
import { waitFor } from '../../harness/wait';
import { httpGet, type HttpResult } from './http';
import { revisionHeaders } from './router';

export interface ColdStartTarget {
  readonly core: CoreV1Api;
  readonly agent: NodeAgent;
  readonly namespace: string;
  readonly revision: string;
  /** IP of an activator pod; the request goes to IP:8012. */
  readonly activatorIP: string;
  /** @default '/' */
  readonly path?: string;
  /** @default 60000 */
  readonly timeoutMs?: number;
}

export interface ColdStartMeasurement {
  readonly response: HttpResult;
  /** From sending the request to the end of the response body. */
  readonly requestToResponseMs: number;
  /** From the user container's process start to its `ready` log line. */
  readonly appStartToReadyMs: number;
  /** Request-to-response time not explained by the app's own start. */
  readonly overheadMs: number;
  readonly pod: string;
}

/** The epoch ms of test-app's `ready <epoch ms>` line in a log file, if written yet. */
export function readyLineEpochMs(logFile: string): number | undefined {
  const m = /^ready (\d+)/m.exec(readFileSync(logFile, 'utf8'));
  return m ? Number(m[1]) : undefined;
}

/**
 * Sends the request and measures. The caller makes sure the revision is at zero ready pods first
 * (the measurement is only a cold start if no pod of the revision is running).
 */
export async function measureColdStart(t: ColdStartTarget): Promise<ColdStartMeasurement> {
  const before = new Set((await t.core.listNamespacedPod({ namespace: t.namespace, labelSelector: `${Labels.REVISION}=${t.revision}` })).items
    .map((p) => p.metadata?.name));
  const response = await httpGet(`http://${t.activatorIP}:${Ports.QUEUE_HTTP}${t.path ?? '/'}`, {
    headers: revisionHeaders(t.namespace, t.revision),
    timeoutMs: t.timeoutMs ?? 60_000,
  });
  const pod = await waitFor(`the pod that served the cold start of ${t.revision}`, async () => {
    const pods = (await t.core.listNamespacedPod({ namespace: t.namespace, labelSelector: `${Labels.REVISION}=${t.revision}` })).items;
    return pods.find((p) => !before.has(p.metadata?.name) && !p.metadata?.deletionTimestamp);
  }, { timeoutMs: 10_000 });
  const name = pod.metadata?.name ?? '';
  const worker = t.agent.worker(t.namespace, name);
  const started = worker?.containerStartedAt(USER_CONTAINER_NAME);
  const logFile = worker?.logFiles()[USER_CONTAINER_NAME];
  if (!started || !logFile) throw new Error(`the node agent has no user container for pod ${name}`);
  const ready = await waitFor(`ready line of ${name}`, () => readyLineEpochMs(logFile), { timeoutMs: 10_000 });
  const appStartToReadyMs = ready - started.getTime();
  return { response, requestToResponseMs: response.ms, appStartToReadyMs, overheadMs: response.ms - appStartToReadyMs, pod: name };
}
