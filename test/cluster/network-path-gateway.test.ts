// Traefik as the gateway: its Kubernetes Gateway provider reads a Gateway and an HTTPRoute from the
// API and routes by host and by weight to the Services' pods (EndpointSlices), over the node agent's
// pod bridge. The client is the test process on 127.0.0.1 (Traefik's entry point); Traefik reaches
// the pods on the test-created bridge only. The split is measured over a bounded request count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, DiscoveryV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './harness/ports';
import { testAppBackend } from './harness/test-app-backend';
import { TRAEFIK_GATEWAY_CONTROLLER, startTraefik, type NetProcess } from './harness/net-components';
import { installGatewayApiCrds } from './crds/gateway-api-crds';
import { waitFor } from './harness/wait';
import { useNodeCluster } from './node-agent/cluster';
import { testAppImage } from './node-agent/images';
import { httpTry } from './scenarios/support/http';
import { TEST_IMAGE } from './scenarios/support/serving';

const NS = 'gateway-path';
const HOST = 'hello.gateway-path.example.com';
/** Each backend answers `/` with a body of its own length, so an answer names its backend. */
const BACKENDS = [{ name: 'hello-v1', weight: 90, bytes: 11 }, { name: 'hello-v2', weight: 10, bytes: 22 }] as const;
/** Bounded load: this many sequential requests, each with its own timeout. */
const REQUESTS = 400;

const cluster = useNodeCluster({ images: [testAppImage(TEST_IMAGE)] });
let dir: string;
let traefik: NetProcess | undefined;
let port: number;
let failed = false;

/** A minimal Gateway + HTTPRoute by hand: one host, two weighted backends. */
function gatewayAndRoute(listenerPort: number): KubernetesObject[] {
  return [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER } } as KubernetesObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'local', namespace: NS },
      spec: { gatewayClassName: 'traefik', listeners: [{ name: 'web', protocol: 'HTTP', port: listenerPort, allowedRoutes: { namespaces: { from: 'Same' } } }] },
    } as KubernetesObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'hello', namespace: NS },
      spec: {
        parentRefs: [{ name: 'local' }],
        hostnames: [HOST],
        rules: [{ backendRefs: BACKENDS.map((b) => ({ name: b.name, port: 80, weight: b.weight })) }],
      },
    } as KubernetesObject,
  ];
}

beforeAll(async () => {
  const c = cluster();
  dir = mkdtempSync(join(tmpdir(), 'kservice-gateway-'));
  await installGatewayApiCrds(c.controlPlane.kubeConfig);
  await c.controlPlane.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as KubernetesObject], 'kservice-tests');
  await c.controlPlane.applyObjects(BACKENDS.flatMap((b) => testAppBackend(NS, b.name, b.bytes)), 'kservice-tests');
  port = await freePort();
  traefik = await startTraefik({ kubeconfigPath: c.controlPlane.kubeconfigPath, bindIp: '127.0.0.1', port, dir });
  await c.controlPlane.applyObjects(gatewayAndRoute(port), 'kservice-tests');
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) process.stderr.write(`gateway logs (kept): ${dir}\n${traefik?.process.logTail(60) ?? ''}\n`);
  await traefik?.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('network path: Traefik routes an HTTPRoute by host and weight', () => {
  it('accepts the HTTPRoute and routes its host to the backends\' pods', async () => {
    const c = cluster();
    const discovery = c.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
    for (const b of BACKENDS) {
      await waitFor(`a ready endpoint of ${b.name}`, async () => {
        const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${b.name}` });
        return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready));
      }, { timeoutMs: 120_000 });
    }
    const custom = c.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    const accepted = await waitFor('HTTPRoute hello Accepted by Traefik', async () => {
      const route = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: 'hello' })) as {
        status?: { parents?: Array<{ controllerName: string; conditions?: Array<{ type: string; status: string }> }> };
      };
      return route.status?.parents?.find((p) => p.controllerName === TRAEFIK_GATEWAY_CONTROLLER && p.conditions?.some((k) => k.type === 'Accepted' && k.status === 'True'));
    }, { timeoutMs: 60_000 });
    expect(accepted.conditions?.find((k) => k.type === 'ResolvedRefs')?.status).toBe('True');
    const first = await waitFor('a 200 from the route', async () => {
      const r = await httpTry(`http://127.0.0.1:${port}/`, { headers: { host: HOST }, timeoutMs: 5_000 });
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 60_000 });
    expect(BACKENDS.map((b) => b.bytes)).toContain(first.body.length);
    // Another host matches no route: Traefik's 404, not a backend.
    const other = await httpTry(`http://127.0.0.1:${port}/`, { headers: { host: 'other.example.com' }, timeoutMs: 5_000 });
    expect(other.status).toBe(404);
  });

  it(`splits ${REQUESTS} requests about 90/10 by the backendRefs' weights`, async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < REQUESTS; i++) {
      const r = await httpTry(`http://127.0.0.1:${port}/`, { headers: { host: HOST }, timeoutMs: 10_000 });
      const b = r.status === 200 ? BACKENDS.find((x) => x.bytes === r.body.length)?.name : undefined;
      const key = b ?? `status ${r.status} ${r.status === 0 ? r.body : ''}`.trim();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const v1 = counts.get('hello-v1') ?? 0;
    const v2 = counts.get('hello-v2') ?? 0;
    process.stderr.write(`gateway split over ${REQUESTS} requests: ${JSON.stringify(Object.fromEntries(counts))}\n`);
    expect(v1 + v2, JSON.stringify(Object.fromEntries(counts))).toBe(REQUESTS);
    // 10% of 400 is 40; even a random (binomial) split stays within 40±19 (3 standard deviations).
    expect(v2).toBeGreaterThanOrEqual(21);
    expect(v2).toBeLessThanOrEqual(59);
  });
});
