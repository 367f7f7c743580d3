/**
 * Issue 18, capacity split across activators: three bundled activators as real processes
 * (standalone mode, each on its own loopback address with POD_IP set to it, as the downward API
 * sets it in a cluster), in front of three test-apps without a queue-proxy (data-plane mode
 * `activator`, containerConcurrency 1). The static config's `activators` list plays the
 * revision's public Endpoints. Each activator takes its slice of the pods
 * (lib/runtime/activator/subsetting.ts), so all three together never send a pod more than one
 * request at once, and together they use every pod while one of them alone uses only its slice.
 * Every load loop is bounded in count.
 */
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, eventually, request, startTestApp, stopAll } from '../queue-proxy/processes';
import { type ActivatorProcess, startActivator, stopActivators } from './processes';

const NS = 'default';
const REVISION = 'split';
const ACTIVATOR_IPS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const CONTAINER_CONCURRENCY = 1;
const headers = { 'Knative-Serving-Namespace': NS, 'Knative-Serving-Revision': REVISION };

interface Front {
  readonly ip: string;
  readonly process: ActivatorProcess;
}

interface AppStats {
  readonly maxConcurrent: number;
  readonly total: number;
  readonly inFlight: number;
}

let apps: TestApp[];
let fronts: Front[];

/** One request through an activator, on its own connection. */
function viaActivator(front: Front, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: front.ip, port: front.process.httpPort, path, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

/** Each app's /stats, and resets its maximum and total. */
async function takeStats(): Promise<AppStats[]> {
  return Promise.all(apps.map(async (app) => JSON.parse((await request(app.port, '/stats?reset=1', { agent: new http.Agent() })).body) as AppStats));
}

/** `clients` loops, each sending `perClient` requests one after the other, client i through fronts[i mod n]. */
async function load(through: readonly Front[], clients: number, perClient: number): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      for (let n = 0; n < perClient; n++) statuses.push((await viaActivator(through[(i + n) % through.length], '/sleep?ms=100')).status);
    }),
  );
  return statuses;
}

beforeAll(async () => {
  apps = await Promise.all([startTestApp(), startTestApp(), startTestApp()]);
  const revision = {
    namespace: NS,
    revision: REVISION,
    dataPlane: 'activator' as const,
    containerConcurrency: CONTAINER_CONCURRENCY,
    timeoutSeconds: 60,
    pods: apps.map((a) => `127.0.0.1:${a.port}`),
    activators: ACTIVATOR_IPS,
  };
  fronts = await Promise.all(
    ACTIVATOR_IPS.map(async (ip) => ({ ip, process: await startActivator([revision], { ACTIVATOR_BIND_ADDRESS: ip, POD_IP: ip }) })),
  );
  // Every activator has probed its pods: one request through each answers.
  for (const front of fronts) await eventually(async () => (await viaActivator(front, '/')).status === 200, `${front.ip} serving`, 20_000);
  await takeStats();
}, 60_000);

afterAll(async () => {
  await stopActivators();
  await stopAll();
});

describe('three activators, containerConcurrency 1, three pods', () => {
  it('one activator alone uses only its slice: one pod, never more than 1 in flight there', async () => {
    const statuses = await load([fronts[0]], 6, 4);
    expect(statuses).toEqual(Array(24).fill(200));
    const stats = await takeStats();
    expect(stats.filter((s) => s.total > 0)).toHaveLength(1);
    expect(stats.reduce((sum, s) => sum + s.total, 0)).toBe(24);
    for (const s of stats) expect(s.maxConcurrent).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
  });

  it('all three together use every pod, and no app ever sees more than containerConcurrency in flight', async () => {
    const statuses = await load(fronts, 9, 6);
    expect(statuses).toEqual(Array(54).fill(200));
    const stats = await takeStats();
    // Each activator's slice is a different pod: all three pods served.
    for (const s of stats) expect(s.total).toBeGreaterThan(0);
    for (const s of stats) expect(s.maxConcurrent).toBeLessThanOrEqual(CONTAINER_CONCURRENCY);
    // And each was busy at once with the others' requests queued: every pod reached its limit.
    for (const s of stats) expect(s.maxConcurrent).toBe(CONTAINER_CONCURRENCY);
  });
});
