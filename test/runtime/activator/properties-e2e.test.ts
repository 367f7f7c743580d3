/**
 * Property-based (fast-check): whatever mix of requests, headers, bodies, client aborts and
 * upgrades reaches the shared activator, and however the revision's pod misbehaves, the bundled
 * activator stays up, its per-revision counters return to 0, its memory stays bounded and the pod
 * never sees more than containerConcurrency requests at once. Real processes on 127.0.0.1.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileApp, memoryOf, startHostileApp } from '../hostile-app';
import { type Exchange, exchanges, perform, PROPERTY_PARAMS } from '../request-sequences';
import { eventually, request } from '../queue-proxy/processes';
import { activatorMetric, type ActivatorProcess, startActivator, stopActivators, usablePods } from './processes';

const CONTAINER_CONCURRENCY = 2;
/** A leak bound, not a performance figure: the activator idles near 80 MiB. */
const RSS_CAP_MIB = 400;
const REVISION = 'broken';
const ROUTING = ['knative-serving-revision', 'knative-serving-namespace'];

/** Most requests carry the right routing headers (else nearly all would be 404s). */
const routed = (exchange: Exchange): Exchange => ({
  ...exchange,
  headers: [
    ['Knative-Serving-Namespace', 'default'],
    ['Knative-Serving-Revision', REVISION],
    ...exchange.headers.filter(([name]) => !ROUTING.includes(name.toLowerCase())),
  ],
});
const activatorExchanges = fc
  .tuple(exchanges([REVISION]), fc.integer({ min: 0, max: 4 }))
  .map(([exchange, dice]) => (dice > 0 ? routed(exchange) : exchange));

let app: HostileApp;
let activator: ActivatorProcess;
const counter = async (name: string) => (await activatorMetric(activator.metricsPort, name, REVISION)) ?? -1;

beforeAll(async () => {
  app = await startHostileApp();
  activator = await startActivator(
    [{ namespace: 'default', revision: REVISION, containerConcurrency: CONTAINER_CONCURRENCY, timeoutSeconds: 5, pods: [`127.0.0.1:${app.port}`] }],
    { ACTIVATOR_HEADERS_TIMEOUT_SECONDS: '2' },
  );
  await eventually(async () => usablePods(activator, REVISION) === 1, 'pod probed');
});
afterAll(async () => {
  // A crash is the finding: show how the process ended.
  if (activator.proc.exitCode !== null) console.error(activator.lines.slice(-30).join('\n'));
  await stopActivators();
  await app?.close();
});

describe('activator under generated hostile traffic', () => {
  test.prop([fc.array(activatorExchanges, { minLength: 1, maxLength: 8 })], PROPERTY_PARAMS)(
    'stays up, returns its counters to 0, bounds memory and the pod concurrency',
    async (sequence) => {
      app.resetMax();
      await Promise.all(sequence.map((exchange) => perform(activator.httpPort, exchange)));
      await eventually(
        async () => (await counter('activator_in_flight')) === 0 && (await counter('activator_queue_depth')) === 0,
        'in-flight and queue counters back to 0',
      );
      expect(activator.proc.exitCode).toBeNull();
      expect(app.maxInFlight()).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
      expect(memoryOf(activator.proc.pid!).rssMiB).toBeLessThan(RSS_CAP_MIB);
    },
    120_000,
  );

  it('and answers ordinary requests afterwards', async () => {
    const answer = await request(activator.httpPort, '/', { headers: { 'Knative-Serving-Namespace': 'default', 'Knative-Serving-Revision': REVISION } });
    expect(answer).toMatchObject({ status: 200, body: 'ok' });
  });
});
