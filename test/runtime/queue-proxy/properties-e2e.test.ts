/**
 * Property-based (fast-check): whatever mix of requests, headers, bodies, client aborts and
 * upgrades arrives, and however the app misbehaves, the bundled queue-proxy stays up, its
 * counters return to 0, its memory stays bounded and the app never sees more than
 * containerConcurrency requests at once. Real processes and sockets on 127.0.0.1.
 */
import { test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileApp, memoryOf, startHostileApp } from '../hostile-app';
import { perform, PROPERTY_PARAMS, sequences } from '../request-sequences';
import { eventually, metric, type QueueProxyProcess, request, startQueueProxy, stopAll } from './processes';

const CONTAINER_CONCURRENCY = 2;
/** A leak bound, not a performance figure: the queue-proxy idles near 50 MiB. */
const RSS_CAP_MIB = 300;

let app: HostileApp;
let qp: QueueProxyProcess;
beforeAll(async () => {
  app = await startHostileApp();
  qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: String(CONTAINER_CONCURRENCY), QUEUE_HEADERS_TIMEOUT_SECONDS: '2' });
});
afterAll(async () => {
  // A crash is the finding: show how the process ended.
  if (qp.proc.exitCode !== null) console.error(qp.lines.slice(-30).join('\n'));
  await stopAll();
  await app?.close();
});

describe('queue-proxy under generated hostile traffic', () => {
  test.prop([sequences(8)], PROPERTY_PARAMS)(
    'stays up, returns its counters to 0, bounds memory and concurrency',
    async (exchanges) => {
      app.resetMax();
      await Promise.all(exchanges.map((exchange) => perform(qp.servingPort, exchange)));
      await eventually(
        async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0 && (await metric(qp.metricsPort, 'queue_depth')) === 0,
        'in-flight and queue counters back to 0',
      );
      expect(qp.proc.exitCode).toBeNull();
      expect(app.maxInFlight()).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
      expect(memoryOf(qp.proc.pid!).rssMiB).toBeLessThan(RSS_CAP_MIB);
    },
    120_000,
  );

  it('and answers ordinary requests afterwards', async () => {
    expect(await request(qp.servingPort, '/')).toMatchObject({ status: 200, body: 'ok' });
  });
});
