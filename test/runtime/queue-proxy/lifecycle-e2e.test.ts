/**
 * Start-up errors, SIGTERM drain and /wait-for-drain on the bundled queue-proxy (real processes).
 */
import * as http2 from 'node:http2';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, metric, request, RUNTIME_BUNDLE, runToExit, sleep, startQueueProxy, startTestApp, stopAll } from './processes';

afterAll(stopAll);

const readiness = (port: number) => request(port, '/', { headers: { 'K-Network-Probe': 'queue' } });

describe('SIGTERM', () => {
  it('drains under load: readiness fails, every request is served, then the process exits 0', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { QUEUE_DRAIN_SECONDS: '1', CONTAINER_CONCURRENCY: '4' });
    const statuses: number[] = [];
    const failures: string[] = [];
    let stop = false;
    // 4 workers, each a bounded loop of sequential requests (count and time bounded).
    const started = Date.now();
    const worker = async () => {
      for (let i = 0; i < 40 && !stop && Date.now() - started < 10_000; i++) {
        await request(qp.servingPort, '/sleep?ms=50').then(
          (a) => statuses.push(a.status),
          (err: Error) => failures.push(err.message),
        );
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    const long = request(qp.servingPort, '/sleep?ms=2500'); // in flight well past the drain
    await eventually(async () => statuses.length >= 8, 'load running');

    qp.proc.kill('SIGTERM');
    await eventually(async () => (await readiness(qp.servingPort)).status === 503, 'readiness fails');
    expect((await readiness(qp.servingPort)).body).toBe('shutting down');
    await sleep(300); // requests keep being served while draining
    stop = true;
    await load;

    expect((await long).status).toBe(200);
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(8);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await qp.exited).toBe(0);
  });

  it('exits 0 right after the quiet period when idle', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { QUEUE_DRAIN_SECONDS: '0.2' });
    expect((await request(qp.servingPort, '/')).status).toBe(200);
    qp.proc.kill('SIGTERM');
    expect(await qp.exited).toBe(0);
    expect(qp.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});

describe('SIGTERM on an h2c queue-proxy', () => {
  it('closes open h2 sessions and HTTP/1 keep-alive connections and exits 0', async () => {
    const app = await startTestApp({ PROTOCOL: 'h2c' });
    const qp = await startQueueProxy(app.port, { QUEUE_SERVING_PROTOCOL: 'h2c', QUEUE_DRAIN_SECONDS: '0.3' });
    const session = http2.connect(`http://127.0.0.1:${qp.servingPort}`);
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
    expect(status).toBe(200);
    expect((await request(qp.servingPort, '/')).status).toBe(200); // leaves a keep-alive connection
    const sessionClosed = new Promise((resolve) => session.once('close', resolve));
    qp.proc.kill('SIGTERM');
    expect(await qp.exited).toBe(0);
    await sessionClosed; // the server said goodbye; the client did not have to
  });
});

describe('/wait-for-drain on the admin port', () => {
  it('fails readiness at once, and resets when no SIGTERM follows within 1 s', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { QUEUE_DRAIN_SECONDS: '30' });
    expect((await readiness(qp.servingPort)).status).toBe(200);
    const drained = request(qp.adminPort, '/wait-for-drain');
    await eventually(async () => (await readiness(qp.servingPort)).status === 503, 'draining');
    // No SIGTERM: after 1 s the drain is reset, the call returns, and the pod is ready again.
    expect((await drained).status).toBe(200);
    expect(await readiness(qp.servingPort)).toMatchObject({ status: 200, body: 'queue' });
    expect((await request(qp.servingPort, '/')).status).toBe(200);
    expect(qp.proc.exitCode).toBeNull();
  });

  it('followed by SIGTERM, answers once the drain is done and the process exits 0', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port, { QUEUE_DRAIN_SECONDS: '1.5' });
    const drained = request(qp.adminPort, '/wait-for-drain');
    await eventually(async () => (await readiness(qp.servingPort)).status === 503, 'draining');
    qp.proc.kill('SIGTERM');
    expect((await drained).status).toBe(200);
    expect(await qp.exited).toBe(0);
  });

  it('other admin paths are 404', async () => {
    const app = await startTestApp();
    const qp = await startQueueProxy(app.port);
    expect((await request(qp.adminPort, '/nope')).status).toBe(404);
    expect(await metric(qp.metricsPort, 'queue_depth')).toBe(0);
  });
});

describe('bad environment', () => {
  it.each([
    [{ CONTAINER_CONCURRENCY: 'many' }, 'CONTAINER_CONCURRENCY'],
    [{ SERVING_REVISION: '' }, 'SERVING_REVISION'],
    [{ SERVING_READINESS_PROBE: '{"httpGet":{"port":"http"}}' }, 'SERVING_READINESS_PROBE'],
    [{ QUEUE_SERVING_PROTOCOL: 'h3' }, 'QUEUE_SERVING_PROTOCOL'],
  ])('%o: exits 1 naming the variable, without a stack trace', async (bad, variable) => {
    const { code, output } = await runToExit([RUNTIME_BUNDLE, 'queue-proxy'], {
      SERVING_NAMESPACE: 'default',
      SERVING_REVISION: 'hello-00001',
      QUEUE_SERVING_PORT: '0',
      QUEUE_ADMIN_PORT: '0',
      QUEUE_METRICS_PORT: '0',
      QUEUE_BIND_ADDRESS: '127.0.0.1',
      ...bad,
    });
    expect(code).toBe(1);
    expect(output).toContain(`environment variable ${variable}`);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('an unknown role exits 2 with the usage', async () => {
    const { code, output } = await runToExit([RUNTIME_BUNDLE, 'sidecar'], {});
    expect(code).toBe(2);
    expect(output).toContain('usage: kservice-runtime');
  });

  it('--help describes every role and exits 0; <role> --help describes the role without starting it', async () => {
    const all = await runToExit([RUNTIME_BUNDLE, '--help'], {});
    expect(all.code).toBe(0);
    for (const role of ['activator', 'autoscaler', 'queue-proxy']) expect(all.output).toContain(`  ${role} `);
    // Without --help this would be a fatal "SERVING_NAMESPACE is required" (exit 1).
    const one = await runToExit([RUNTIME_BUNDLE, 'queue-proxy', '--help'], {});
    expect(one.code).toBe(0);
    expect(one.output).toContain('usage: kservice-runtime queue-proxy');
    expect(one.output).not.toContain('is required');
  });
});
