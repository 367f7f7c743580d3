/**
 * containerConcurrency, the pending-request queue, the revision timeout and the reported
 * concurrency, on the bundled queue-proxy in front of test-app (real processes on 127.0.0.1).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, eventually, metric, openWebsocket, type QueueProxyProcess, request, sleep, startQueueProxy, startTestApp, stopAll, type TestApp } from './processes';

afterAll(stopAll);

interface AppStats {
  maxConcurrent: number;
  total: number;
  inFlight: number;
}

const appStats = async (app: TestApp): Promise<AppStats> => JSON.parse((await request(app.port, '/stats?reset=1')).body);

describe('containerConcurrency 1', () => {
  let app: TestApp;
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    app = await startTestApp();
    qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '1' });
  });
  beforeEach(async () => {
    await eventually(async () => (await appStats(app)).inFlight === 0, 'app idle');
    await appStats(app); // reset max
  });

  it('20 concurrent requests: the app never sees more than one at once', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => request(qp.servingPort, '/sleep?ms=50')));
    const stats = await appStats(app);
    expect(stats.maxConcurrent).toBe(1);
    // Those beyond 1 in flight + 10 waiting may be turned away; every answer is one of the two.
    for (const answer of answers) {
      expect([200, 503]).toContain(answer.status);
      if (answer.status === 503) expect(answer.body).toBe('pending request queue full');
    }
    const served = answers.filter((a) => a.status === 200).length;
    expect(served).toBeGreaterThanOrEqual(11);
    expect(stats.total).toBe(served);
  });

  it('a full queue (1 in flight + 10 waiting) turns the next request away with 503 at once', async () => {
    const held = Array.from({ length: 11 }, () => request(qp.servingPort, '/sleep?ms=300'));
    await eventually(
      async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 1 && (await metric(qp.metricsPort, 'queue_depth')) === 10,
      'breaker full',
    );
    const rejected = await request(qp.servingPort, '/sleep?ms=300');
    expect(rejected).toMatchObject({ status: 503, body: 'pending request queue full' });
    const served = await Promise.all(held);
    expect(served.map((a) => a.status)).toEqual(Array(11).fill(200));
    expect((await appStats(app)).maxConcurrent).toBe(1);
  });

  it('probes pass the breaker even when it is full', async () => {
    const held = Array.from({ length: 11 }, () => request(qp.servingPort, '/sleep?ms=300'));
    await eventually(async () => (await metric(qp.metricsPort, 'queue_depth')) === 10, 'breaker full');
    expect(await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'queue' } })).toMatchObject({ status: 200, body: 'queue' });
    await Promise.all(held);
  });
});

describe('containerConcurrency 3', () => {
  it('never more than 3 at the app, and all served when the queue holds them', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { CONTAINER_CONCURRENCY: '3' });
    const answers = await Promise.all(Array.from({ length: 30 }, () => request(qp.servingPort, '/sleep?ms=30')));
    expect(answers.every((a: Answer) => a.status === 200)).toBe(true); // 3 + 30 queue slots ≥ 30
    expect((await appStats(app)).maxConcurrent).toBeLessThanOrEqual(3);
  });
});

describe('REVISION_TIMEOUT_SECONDS', () => {
  let app: TestApp;
  let qp: QueueProxyProcess;
  beforeAll(async () => {
    app = await startTestApp();
    qp = await startQueueProxy(app.port, { REVISION_TIMEOUT_SECONDS: '1', CONTAINER_CONCURRENCY: '1' });
  });

  it('answers 504 "request timeout" when the app takes longer, and frees the app', async () => {
    expect(await request(qp.servingPort, '/sleep?ms=3000')).toMatchObject({ status: 504, body: 'request timeout' });
    // The upstream request was cancelled: the app no longer works on it.
    await eventually(async () => (await appStats(app)).inFlight === 0, 'app request cancelled');
  });

  it('counts time waiting for a slot against the deadline', async () => {
    // A websocket holds the only slot for as long as it is open, with no deadline of its own.
    const websocket = await openWebsocket(qp.servingPort);
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 1, 'websocket holds the slot');
    const waited = await request(qp.servingPort, '/sleep?ms=10');
    expect(waited).toMatchObject({ status: 504, body: 'request timeout' });
    expect(await metric(qp.metricsPort, 'queue_depth')).toBe(0); // the timed-out waiter left the queue
    websocket.destroy();
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 0, 'slot released');
    expect((await request(qp.servingPort, '/sleep?ms=10')).status).toBe(200);
  });

  it('lets requests within the deadline through', async () => {
    expect(await request(qp.servingPort, '/sleep?ms=100')).toMatchObject({ status: 200, body: 'slept 100\n' });
  });
});

describe('REVISION_IDLE_TIMEOUT_SECONDS and REVISION_RESPONSE_START_TIMEOUT_SECONDS', () => {
  it('cuts a stream whose gaps exceed the idle timeout; 504 when the first byte is too late', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { REVISION_IDLE_TIMEOUT_SECONDS: '1', REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1' });
    await expect(request(qp.servingPort, '/stream?chunks=3&interval=1500')).rejects.toThrow(); // aborted mid-body
    expect(await request(qp.servingPort, '/sleep?ms=1500')).toMatchObject({ status: 504, body: 'request timeout' });
    expect((await request(qp.servingPort, '/stream?chunks=3&interval=200')).status).toBe(200);
  });
});

describe('metrics', () => {
  it('report the concurrency that was offered: 5 slow requests → average ≈ 5 over a full period', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port);
    const slow = [
      ...Array.from({ length: 3 }, () => request(qp.servingPort, '/sleep?ms=3500')),
      ...Array.from({ length: 2 }, () => request(qp.servingPort, '/sleep?ms=3500', { headers: { 'K-Proxy-Request': 'activator' } })),
    ];
    await eventually(async () => (await metric(qp.metricsPort, 'queue_in_flight')) === 5, '5 in flight');
    // Probes meanwhile must not count.
    for (let i = 0; i < 20; i++) await request(qp.servingPort, '/', { headers: { 'K-Network-Probe': 'queue' } });
    await sleep(2100); // at least one full 1 s period closes while all 5 are in flight
    const average = await metric(qp.metricsPort, 'queue_average_concurrent_requests');
    const proxied = await metric(qp.metricsPort, 'queue_average_proxied_concurrent_requests');
    const rps = await metric(qp.metricsPort, 'queue_requests_per_second');
    expect(average).toBeCloseTo(5, 1);
    expect(proxied).toBeCloseTo(2, 1);
    expect(rps).toBe(0); // no arrivals in that period: the probes were not counted
    expect(await metric(qp.metricsPort, 'process_uptime')).toBeGreaterThan(2);
    await Promise.all(slow);
  });

  it('count arrivals per second, proxied ones apart', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port);
    // A marker request; once its period has closed we are just past a period boundary, so a quick
    // burst lands in one period.
    await request(qp.servingPort, '/');
    await eventually(async () => (await metric(qp.metricsPort, 'queue_requests_per_second')) > 0, 'marker period closed');
    await Promise.all([
      ...Array.from({ length: 6 }, () => request(qp.servingPort, '/')),
      ...Array.from({ length: 4 }, () => request(qp.servingPort, '/', { headers: { 'K-Proxy-Request': 'activator' } })),
    ]);
    await eventually(async () => (await metric(qp.metricsPort, 'queue_requests_per_second')) > 3, 'burst period closed');
    const rps = await metric(qp.metricsPort, 'queue_requests_per_second');
    const proxiedRps = await metric(qp.metricsPort, 'queue_proxied_operations_per_second');
    // 10 arrivals in a period of about 1 s: not the marker's 1, not double-counted 20.
    expect(rps).toBeGreaterThan(5);
    expect(rps).toBeLessThanOrEqual(10.5);
    expect(proxiedRps / rps).toBeCloseTo(0.4, 5); // same period, so the ratio is exact
  });
});
