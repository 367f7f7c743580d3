// The compiler's Gateway API output behind Traefik: a KService with a 90/10 split between two
// revisions, synthesized in Gateway API mode (gatewayClassName traefik, the listener on Traefik's
// entry point port), gives two Gateways (istio-system) and two HTTPRoutes (external host and
// cluster-local hosts). Those are applied as compiled; Traefik accepts them and routes each host by
// the compiled weights. The revisions' backends are plain test-app Deployments behind Services of
// the revisions' names (the activator/queue-proxy data path is not part of this test).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { CustomObjectsApi, DiscoveryV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Ingress } from '../../lib/contract/config';
import { KService } from '../../lib/constructs/kservice';
import { ServingSystem } from '../../lib/constructs/serving-system';
import { freePort } from './harness/ports';
import { testAppBackend } from './harness/test-app-backend';
import { TRAEFIK_GATEWAY_CONTROLLER, startTraefik, type NetProcess } from './harness/net-components';
import { installGatewayApiCrds } from './crds/gateway-api-crds';
import { waitFor } from './harness/wait';
import { useNodeCluster } from './node-agent/cluster';
import { testAppImage } from './node-agent/images';
import { httpTry } from './scenarios/support/http';
import { TEST_IMAGE } from './scenarios/support/serving';

const NS = 'gwc';
const OLD = 'split-old';
const NEW = 'split-00002';
/** Each revision's stand-in answers `/` with a body of its own length. */
const BYTES: Record<string, number> = { [OLD]: 11, [NEW]: 22 };
const REQUESTS = 200;

const cluster = useNodeCluster({ images: [testAppImage(TEST_IMAGE)] });
let dir: string;
let traefik: NetProcess | undefined;
let port: number;
let compiled: KubernetesObject[];
let failed = false;

function compile(listenerPort: number): KubernetesObject[] {
  const config = { ingress: Ingress.GATEWAY_API, gatewayApi: { gatewayClassName: 'traefik', listenerPort } };
  const app = new App({ outdir: '/nonexistent-not-written' });
  const chart = new Chart(app, 'gateway');
  new ServingSystem(chart, 'system', { config });
  new KService(chart, 'split', {
    namespace: NS, config, generation: 2, containers: [{ image: TEST_IMAGE }],
    revisions: [{ name: OLD, containers: [{ image: TEST_IMAGE }] }],
    traffic: [{ revisionName: OLD, percent: 90 }, { latestRevision: true, percent: 10 }],
  });
  return parseAllDocuments(app.synthYaml()).map((d) => d.toJS() as KubernetesObject).filter(Boolean);
}

const ofKind = (kind: string) => compiled.filter((o) => o.kind === kind);

beforeAll(async () => {
  const c = cluster();
  dir = mkdtempSync(join(tmpdir(), 'kservice-gateway-compiled-'));
  port = await freePort();
  compiled = compile(port);
  await installGatewayApiCrds(c.controlPlane.kubeConfig);
  const namespaces = [NS, 'istio-system'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubernetesObject);
  await c.controlPlane.applyObjects(namespaces, 'kservice-tests');
  await c.controlPlane.applyObjects([OLD, NEW].flatMap((r) => testAppBackend(NS, r, BYTES[r])), 'kservice-tests');
  traefik = await startTraefik({ kubeconfigPath: c.controlPlane.kubeconfigPath, bindIp: '127.0.0.1', port, dir });
  await c.controlPlane.applyObjects([
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER } } as KubernetesObject,
    ...ofKind('Gateway'), ...ofKind('HTTPRoute'),
  ], 'kservice');
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) process.stderr.write(`gateway logs (kept): ${dir}\n${traefik?.process.logTail(80) ?? ''}\n`);
  await traefik?.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('network path: Traefik serves the compiled Gateways and HTTPRoutes', () => {
  it('accepts both compiled HTTPRoutes on the compiled Gateways', async () => {
    expect(ofKind('Gateway')).toHaveLength(2);
    expect(ofKind('HTTPRoute')).toHaveLength(2);
    const c = cluster();
    const discovery = c.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
    for (const r of [OLD, NEW]) {
      await waitFor(`a ready endpoint of ${r}`, async () => {
        const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${r}` });
        return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready));
      }, { timeoutMs: 120_000 });
    }
    const custom = c.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const route of ofKind('HTTPRoute')) {
      await waitFor(`HTTPRoute ${route.metadata?.name} Accepted with resolved refs`, async () => {
        const got = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: route.metadata!.name! })) as {
          status?: { parents?: Array<{ controllerName: string; conditions?: Array<{ type: string; status: string }> }> };
        };
        const parent = got.status?.parents?.find((p) => p.controllerName === TRAEFIK_GATEWAY_CONTROLLER);
        return ['Accepted', 'ResolvedRefs'].every((t) => parent?.conditions?.some((k) => k.type === t && k.status === 'True'));
      }, { timeoutMs: 60_000 });
    }
  });

  it(`splits ${REQUESTS} requests per compiled host about 90/10`, async () => {
    const hosts = ofKind('HTTPRoute').map((r) => (r as unknown as { spec: { hostnames: string[] } }).spec.hostnames.at(-1)!);
    expect(hosts.sort()).toEqual([`split.${NS}.example.com`, `split.${NS}.svc.cluster.local`]);
    for (const host of hosts) {
      await waitFor(`a 200 for ${host}`, async () => (await httpTry(`http://127.0.0.1:${port}/`, { headers: { host }, timeoutMs: 5_000 })).status === 200, { timeoutMs: 60_000 });
      const counts = new Map<string, number>();
      for (let i = 0; i < REQUESTS; i++) {
        const r = await httpTry(`http://127.0.0.1:${port}/`, { headers: { host }, timeoutMs: 10_000 });
        const rev = r.status === 200 ? Object.keys(BYTES).find((k) => BYTES[k] === r.body.length) : undefined;
        const key = rev ?? `status ${r.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      process.stderr.write(`compiled route ${host}: ${JSON.stringify(Object.fromEntries(counts))} over ${REQUESTS}\n`);
      const old = counts.get(OLD) ?? 0;
      const neu = counts.get(NEW) ?? 0;
      expect(old + neu, JSON.stringify(Object.fromEntries(counts))).toBe(REQUESTS);
      // 10% of 200 is 20; a random split stays within 20±13 (3 standard deviations).
      expect(neu).toBeGreaterThanOrEqual(7);
      expect(neu).toBeLessThanOrEqual(33);
    }
  });

  // Only the rule-level filter is checked: Traefik v3.6.12 ignores backendRef-level filters (its
  // pkg/provider/kubernetes/gateway/httproute.go loads only routeRule.Filters), so the compiled
  // per-backend Knative-Serving-Revision/-Namespace headers do not reach the backend (seen here:
  // absent from an /echo answer), and the activator needs them to tell split revisions apart.
  it('applies the compiled rule-level filter: the runtime-only headers are removed', async () => {
    const host = `split.${NS}.example.com`;
    for (let i = 0; i < 20; i++) {
      const r = await httpTry(`http://127.0.0.1:${port}/echo`, { headers: { host, 'K-Proxy-Request': 'activator', 'K-Network-Probe': 'queue', 'X-Kept': 'yes' }, timeoutMs: 10_000 });
      expect(r.status, r.body).toBe(200);
      const headers = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      expect(headers['x-kept']).toBe('yes');
      expect(headers).not.toHaveProperty('k-proxy-request');
      expect(headers).not.toHaveProperty('k-network-probe');
    }
  });
});
