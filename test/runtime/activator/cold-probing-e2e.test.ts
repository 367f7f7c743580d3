/**
 * How soon the activator learns that a starting pod can take traffic (lib/runtime/activator/pod-prober.ts),
 * with the bundled activator (standalone), queue-proxy and test-app as real processes on 127.0.0.1.
 * The healthy pods' probe interval is set to a minute, so a request held for a starting pod is
 * served within the revision's timeout only if the prober probes a pod that is not yet healthy on
 * its own, shorter pace: from 25 ms after a refused connection, at once after a probe the
 * queue-proxy held open while its app was starting. With the old fixed interval both requests
 * below would wait for the minute and end as 503 at the revision timeout.
 */
import * as http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, request, sleep, startQueueProxy, startTestApp, stopAll } from '../queue-proxy/processes';
import { activatorMetric, freePort, startActivator, stopActivators } from './processes';

const NS = 'default';
const route = (revision: string) => ({ 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': revision });
/** Far longer than the tests take: only the not-yet-healthy pacing can find the pod in time. */
const HEALTHY_INTERVAL_MS = '60000';
/** The held request ends as 503 after this, well before the minute (and before vitest's 30 s). */
const REVISION_TIMEOUT_SECONDS = 20;
/** Long enough for several probes to fail first (refused, or held and timed out). */
const BEFORE_START_MS = 700;

afterAll(async () => {
  await stopActivators();
  await stopAll();
});

async function activatorFor(revision: string, queuePort: number, env: Record<string, string> = {}) {
  return startActivator(
    [{ namespace: NS, revision, containerConcurrency: 0, timeoutSeconds: REVISION_TIMEOUT_SECONDS, pods: [`127.0.0.1:${queuePort}`] }],
    { ACTIVATOR_PROBE_INTERVAL_MS: HEALTHY_INTERVAL_MS, ...env },
  );
}

/** Sends a request for the revision and waits until the activator holds it. */
async function heldRequest(activator: Awaited<ReturnType<typeof startActivator>>, revision: string) {
  const answer = request(activator.httpPort, '/echo', { headers: route(revision), agent: new http.Agent() });
  await eventually(async () => (await activatorMetric(activator.metricsPort, 'activator_queue_depth', revision)) === 1, 'request held');
  return answer;
}

/** The activator logged that the revision has a usable pod (it has only the one). */
const learnedPod = (lines: readonly string[], revision: string) =>
  lines.some((l) => l.includes('"msg":"usable pods changed"') && l.includes(`"revision":"${revision}"`) && l.includes('"pods":1'));

describe('activator probing of a starting pod', () => {
  it('finds a queue-proxy that starts after the request (refused probes are retried on a short pace)', async () => {
    const queuePort = await freePort();
    const activator = await activatorFor('late-queue', queuePort);
    const answer = heldRequest(activator, 'late-queue');
    await sleep(BEFORE_START_MS); // the first probes are refused
    const app = await startTestApp();
    await startQueueProxy(app.port, { QUEUE_SERVING_PORT: String(queuePort), SERVING_REVISION: 'late-queue' });
    const { status } = await answer;
    expect(status).toBe(200);
    expect(learnedPod(activator.lines, 'late-queue')).toBe(true);
  });

  it('finds an app that starts after its queue-proxy (a probe the queue-proxy held open is followed at once)', async () => {
    const [queuePort, appPort] = [await freePort(), await freePort()];
    await startQueueProxy(appPort, { QUEUE_SERVING_PORT: String(queuePort), SERVING_REVISION: 'late-app' });
    // Short probe timeouts: several probes are held by the queue-proxy and time out before the app starts.
    const activator = await activatorFor('late-app', queuePort, { ACTIVATOR_PROBE_TIMEOUT_MS: '100' });
    const answer = heldRequest(activator, 'late-app');
    await sleep(BEFORE_START_MS);
    await startTestApp({ PORT: String(appPort) });
    const { status } = await answer;
    expect(status).toBe(200);
    expect(learnedPod(activator.lines, 'late-app')).toBe(true);
  });
});
