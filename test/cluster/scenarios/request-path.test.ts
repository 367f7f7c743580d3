// One request, hop by hop, through the real network path of a compiled KService in Gateway API mode
// (gatewayClassName traefik), scaled to zero: from a client pod, CoreDNS answers the route host with
// a CNAME to the local gateway's Service; kube-proxy carries that to Traefik, which routes by Host
// (the compiled HTTPRoute, Accepted with resolved refs) to the revision's public Service; kube-proxy
// sends that to the activator while the revision is at zero (its Endpoints); the activator holds the
// request, the autoscaler scales 0 -> 1, the Endpoints flip to the pod, and queue-proxy passes the
// request to test-app. A bounded load from the same pod runs across the flip: no request fails.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi, type KubernetesObject, type V1Endpoints } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_API_CONFIG } from '../../../lib/contract/config';
import { Headers, Labels, Ports } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { CLUSTER_DOMAIN, TRAEFIK_GATEWAY_CONTROLLER, kubeProxyRules } from '../harness/net-components';
import { freePort } from '../harness/ports';
import { waitFor } from '../harness/wait';
import type { PodSandbox } from '../node-agent/network';
import { startGatewayServing, stopGatewayServing, synthesizeGatewayApi, TRAEFIK_NATIVE_LB, type GatewayServingCluster } from './support/gateway-serving';
import { httpGet } from './support/http';
import { activatorPods, endpointIPs, isReady, listPods, TEST_IMAGE } from './support/serving';
import { Timeline } from './support/watch';

const run = promisify(execFile);
const NS = 'hops';
const REV = 'hello-00001';
const HOST = `hello.${NS}.svc.${CLUSTER_DOMAIN}`;
/** Bounds of the load across the flip (run inside the client pod). */
const LOAD = { concurrency: 4, maxRequests: 4000, maxDurationMs: 8_000, requestTimeoutMs: 30_000 };

let c: GatewayServingCluster | undefined;
let client: PodSandbox | undefined;
let endpoints: Timeline<V1Endpoints, string[]>;
let dir: string;
let failed = false;

/** The compiled objects; the public Services get Traefik's nativeLB annotation (see TRAEFIK_NATIVE_LB). */
function compile(listenerPort: number): KubernetesObject[] {
  const objects = synthesizeGatewayApi(listenerPort, (chart, config) => {
    new KService(chart, 'hello', {
      namespace: NS, config,
      containers: [{ image: TEST_IMAGE, env: { START_DELAY_MS: '200' } }],
      // TBC 0: the activator leaves the path as soon as one pod serves, so the Endpoints flip.
      autoscaling: { initialScale: 0, maxScale: 1, targetBurstCapacity: 0 },
    });
  });
  for (const o of objects) {
    if (o.kind === 'Service' && o.metadata?.namespace === NS && o.metadata.name === REV) {
      o.metadata.annotations = { ...o.metadata.annotations, [TRAEFIK_NATIVE_LB]: 'true' };
    }
  }
  return objects;
}

/** Runs a Node.js snippet inside the client pod's network namespace (and its resolv.conf). */
async function inClient(script: string, timeoutMs = 20_000): Promise<string> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', client!.netns, process.execPath, '-e', script], { timeout: timeoutMs });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`in pod ${client?.netns}: ${(err.stderr || err.message).trim()}`);
  }
}

/**
 * A bounded load from the client pod: `concurrency` workers send GET http://HOST/echo one after
 * another until the request or time budget runs out; prints a JSON tally, the first answer and
 * the time of the first 200.
 */
function loadScript(): string {
  return `
const L = ${JSON.stringify(LOAD)};
const started = Date.now();
let sent = 0; const byStatus = {}; const failures = []; let first;
async function one() {
  try {
    const r = await fetch('http://${HOST}/echo', { signal: AbortSignal.timeout(L.requestTimeoutMs) });
    const body = await r.text();
    if (!first && r.status === 200) first = { at: Date.now(), status: r.status, body, headers: Object.fromEntries(r.headers) };
    return { status: r.status, body };
  } catch (e) { return { status: 0, body: String(e.cause?.code ?? e.message) }; }
}
async function worker() {
  while (sent < L.maxRequests && Date.now() - started < L.maxDurationMs) {
    sent++;
    const r = await one();
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status !== 200 && failures.length < 5) failures.push(r.status + ' ' + r.body.slice(0, 200));
  }
}
Promise.all(Array.from({ length: L.concurrency }, worker)).then(() =>
  console.log(JSON.stringify({ started, ended: Date.now(), total: sent, byStatus, failures, first })));
`;
}

/** A metric's value for the revision from a Prometheus text page (undefined if absent). */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`"${REV}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function scrape(ip: string): Promise<string> {
  return (await httpGet(`http://${ip}:${Ports.QUEUE_METRICS}/metrics`, { timeoutMs: 5_000 })).body;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kservice-request-path-'));
  const gatewayPort = await freePort();
  c = await startGatewayServing({ gatewayPort, objects: compile(gatewayPort), localGatewayService: DEFAULT_GATEWAY_API_CONFIG.localGatewayService, dir });
  const kc = c.controlPlane.kubeConfig;
  endpoints = new Timeline(kc, `/api/v1/namespaces/${NS}/endpoints`, () => c!.core.listNamespacedEndpoints({ namespace: NS }), REV, endpointIPs);
  await endpoints.start();
  client = await c.network.addPod();
}, 360_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  await endpoints?.stop();
  if (failed) process.stderr.write(`request-path logs (kept): ${dir}\npublic Endpoints ${REV}:\n${endpoints?.describe() ?? ''}\n`);
  if (client && c) await c.network.removePod(client);
  if (c) await stopGatewayServing(c, failed);
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('request path: client pod -> CoreDNS -> Traefik -> kube-proxy -> activator -> queue-proxy -> app', () => {
  let activators: string[];

  it('1-3: the route host is a CNAME to the local gateway; Traefik routes by host (HTTPRoute Accepted, other hosts 404) to the public ClusterIP; at zero kube-proxy sends it to the activators', async () => {
    const cname = await waitFor(`CNAME of ${HOST}`, () =>
      inClient(`require('node:dns').promises.resolveCname(${JSON.stringify(HOST)}).then((r) => console.log(r.join(',')))`), { timeoutMs: 30_000 });
    expect(cname).toBe(DEFAULT_GATEWAY_API_CONFIG.localGatewayService);

    const custom = c!.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    await waitFor(`HTTPRoute ${HOST} Accepted with resolved refs`, async () => {
      const got = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: HOST })) as {
        status?: { parents?: Array<{ controllerName: string; conditions?: Array<{ type: string; status: string }> }> };
      };
      const parent = got.status?.parents?.find((p) => p.controllerName === TRAEFIK_GATEWAY_CONTROLLER);
      return ['Accepted', 'ResolvedRefs'].every((t) => parent?.conditions?.some((k) => k.type === t && k.status === 'True'));
    }, { timeoutMs: 60_000 });

    // Traefik routes by Host: the local gateway's Service answers 404 for a host no HTTPRoute has.
    const other = await inClient(`fetch('http://${DEFAULT_GATEWAY_API_CONFIG.localGatewayService}/', { headers: { host: 'other.${NS}.svc.${CLUSTER_DOMAIN}' } }).then((r) => console.log(r.status))`);
    expect(other).toBe('404');

    // Traefik's server for the route is the public Service's ClusterIP (nativeLB), not pod IPs.
    const publicService = await c!.core.readNamespacedService({ name: REV, namespace: NS });
    const clusterIP = publicService.spec?.clusterIP ?? '';
    expect(clusterIP).toMatch(/^10\.96\./);
    const servers = await waitFor('Traefik created the route\'s server', () => {
      const lines = readFileSync(c!.netProcesses.traefik.process.logFile, 'utf8').split('\n').filter((l) => l.includes('Creating server'));
      return lines.some((l) => l.includes(`http://${clusterIP}:80`)) && lines;
    }, { timeoutMs: 30_000 });

    activators = (await activatorPods(c!)).map((p) => p.status?.podIP ?? '').sort();
    expect(servers.filter((l) => activators.some((ip) => l.includes(`//${ip}:`)))).toEqual([]);
    await waitFor('public Endpoints = the activator IPs (revision at zero)', () => JSON.stringify(endpoints.current) === JSON.stringify(activators), { timeoutMs: 60_000 });
    // kube-proxy DNATs that ClusterIP to the activators' port 8012 while the revision is at zero.
    await waitFor(`kube-proxy rules for ${clusterIP} -> ${activators.join(',')}`, async () => {
      const rules = await kubeProxyRules();
      return rules.includes(clusterIP) && activators.every((ip) => rules.includes(`${ip} . ${Ports.QUEUE_HTTP}`));
    }, { timeoutMs: 30_000 });
    await waitFor('no revision pod (initial scale 0)', async () => (await listPods(c!.core, NS, `${Labels.REVISION}=${REV}`)).length === 0, { timeoutMs: 60_000 });
  });

  it('4-5: requests from the pod scale the revision 0 -> 1 through the activator, the Endpoints flip to the pod, and none fails', async () => {
    const t0 = Date.now();
    // The activator's and queue-proxy's metrics, sampled while the load runs.
    const seen = { activatorRps: 0, activatorReadyPods: 0, queueRps: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // kube-proxy spreads the load over every activator, so any of them may be the one holding it.
        for (const ip of activators) {
          const a = await scrape(ip).catch(() => '');
          seen.activatorRps = Math.max(seen.activatorRps, metric(a, 'activator_requests_per_second') ?? 0);
          seen.activatorReadyPods = Math.max(seen.activatorReadyPods, metric(a, 'activator_ready_pods') ?? 0);
        }
        const pod = (await listPods(c!.core, NS, `${Labels.REVISION}=${REV}`)).find(isReady);
        if (pod?.status?.podIP) seen.queueRps = Math.max(seen.queueRps, metric(await scrape(pod.status.podIP).catch(() => ''), 'queue_requests_per_second') ?? 0);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    let out: { started: number; ended: number; total: number; byStatus: Record<string, number>; failures: string[]; first?: { at: number; status: number; body: string } };
    try {
      out = JSON.parse(await inClient(loadScript(), LOAD.maxDurationMs + LOAD.requestTimeoutMs + 10_000));
    } finally {
      sampling = false;
      await sampler;
    }
    const summary = `${JSON.stringify(out)}\npublic Endpoints:\n${endpoints.describe()}`;
    console.log(`request path load: ${out.total} requests, by status ${JSON.stringify(out.byStatus)}, first 200 after ${(out.first?.at ?? 0) - out.started} ms; metrics seen ${JSON.stringify(seen)}`);

    // 5) test-app answered, with the Host the client used. The activator found the revision by the
    // Knative-Serving-Revision/-Namespace headers the HTTPRoute's rule-level filter set (it answers
    // 404 without them); queue-proxy drops them before the app (lib/runtime/queue-proxy/headers.ts).
    expect(out.first, summary).toBeDefined();
    const echo = JSON.parse(out.first!.body) as { host: string; headers: Record<string, string> };
    expect(echo.host).toBe(HOST);
    expect(echo.headers).not.toHaveProperty(Headers.REVISION.toLowerCase());
    expect(echo.headers).not.toHaveProperty(Headers.NAMESPACE.toLowerCase());
    // No request failed across the flip.
    expect(out.byStatus, summary).toEqual({ 200: out.total });
    expect(out.total).toBeGreaterThan(0);

    // 3) The Endpoints flipped from the activators to the revision's pod after the load began.
    const pods = (await listPods(c!.core, NS, `${Labels.REVISION}=${REV}`)).filter(isReady);
    expect(pods).toHaveLength(1);
    const podIP = pods[0].status?.podIP;
    const flip = endpoints.firstAfter(t0, (v) => v.length === 1 && v[0] === podIP);
    expect(flip, summary).toBeDefined();
    // The load ran across the flip: it went on after the Endpoints pointed at the pod.
    expect(flip!.at, summary).toBeLessThan(out.ended);
    expect(endpoints.changes.some((ch) => ch.at < flip!.at && JSON.stringify(ch.value) === JSON.stringify(activators)), summary).toBe(true);

    // The activator held requests for the revision and then knew its pod; queue-proxy counted requests.
    expect(seen.activatorRps, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(seen.activatorReadyPods, JSON.stringify(seen)).toBe(1);
    expect(seen.queueRps, JSON.stringify(seen)).toBeGreaterThan(0);
  });
});
