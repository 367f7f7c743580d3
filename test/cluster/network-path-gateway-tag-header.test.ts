// Tag-header-based routing behind Traefik: a KService with two tagged targets (90% "old", 10%
// "candidate"), compiled in Gateway API mode with `tagHeaderBasedRouting` on (Knative's
// config-features tag-header-based-routing), gives on the main host one HTTPRoute rule per tag
// matching `Knative-Serving-Tag` exactly before the default rule. Applied as compiled: a request on
// the main host with `Knative-Serving-Tag: candidate` reaches only the candidate revision, one
// without the header gets the split, and the headers Knative appends reach the backend. The
// revisions' backends are plain test-app Deployments behind Services of the revisions' names, as in
// network-path-gateway-compiled.test.ts (the activator/queue-proxy data path is not part of this test).
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

const NS = 'tagh';
const OLD = 'split-old';
const NEW = 'split-00002';
/** Each revision's stand-in answers `/` with a body of its own length. */
const BYTES: Record<string, number> = { [OLD]: 11, [NEW]: 22 };
const MAIN_HOST = `split.${NS}.example.com`;
const REQUESTS = 40;
/** For a 90/10 split: the chance that 200 requests never reach the 10% revision is 0.9^200, about 7e-10. */
const SPLIT_REQUESTS = 200;

const cluster = useNodeCluster({ images: [testAppImage(TEST_IMAGE)] });
let dir: string;
let traefik: NetProcess | undefined;
let port: number;
let compiled: KubernetesObject[];
let failed = false;

function compile(listenerPort: number): KubernetesObject[] {
  const config = { ingress: Ingress.GATEWAY_API, gatewayApi: { gatewayClassName: 'traefik', listenerPort }, tagHeaderBasedRouting: true };
  const app = new App({ outdir: '/nonexistent-not-written' });
  const chart = new Chart(app, 'gateway');
  new ServingSystem(chart, 'system', { config });
  new KService(chart, 'split', {
    namespace: NS, config, generation: 2, containers: [{ image: TEST_IMAGE }],
    revisions: [{ name: OLD, containers: [{ image: TEST_IMAGE }] }],
    traffic: [{ revisionName: OLD, percent: 90, tag: 'old' }, { latestRevision: true, percent: 10, tag: 'candidate' }],
  });
  return parseAllDocuments(app.synthYaml()).map((d) => d.toJS() as KubernetesObject).filter(Boolean);
}

const ofKind = (kind: string) => compiled.filter((o) => o.kind === kind);

/** Which revision answered `/` (by body length), or the status when none did. */
async function revisionOf(host: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await httpTry(`http://127.0.0.1:${port}/`, { headers: { host, ...headers }, timeoutMs: 10_000 });
  return (r.status === 200 ? Object.keys(BYTES).find((k) => BYTES[k] === r.body.length) : undefined) ?? `status ${r.status}`;
}

async function counts(host: string, headers: Record<string, string> = {}, requests = REQUESTS): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const rev = await revisionOf(host, headers);
    out[rev] = (out[rev] ?? 0) + 1;
  }
  return out;
}

async function echoedHeaders(host: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
  const r = await httpTry(`http://127.0.0.1:${port}/echo`, { headers: { host, ...headers }, timeoutMs: 10_000 });
  expect(r.status, r.body).toBe(200);
  return (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
}

beforeAll(async () => {
  const c = cluster();
  dir = mkdtempSync(join(tmpdir(), 'kservice-gateway-tag-header-'));
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
  const discovery = c.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
  for (const r of [OLD, NEW]) {
    await waitFor(`a ready endpoint of ${r}`, async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${r}` });
      return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready));
    }, { timeoutMs: 120_000 });
  }
}, 300_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) process.stderr.write(`gateway logs (kept): ${dir}\n${traefik?.process.logTail(80) ?? ''}\n`);
  await traefik?.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('tag-header-based routing through Traefik', () => {
  it('accepts the six compiled HTTPRoutes (main host and two tags, external and cluster-local)', async () => {
    expect(ofKind('HTTPRoute')).toHaveLength(6);
    const custom = cluster().controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    for (const route of ofKind('HTTPRoute')) {
      await waitFor(`HTTPRoute ${route.metadata?.name} Accepted with resolved refs`, async () => {
        const got = (await custom.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS, plural: 'httproutes', name: route.metadata!.name! })) as {
          status?: { parents?: Array<{ controllerName: string; conditions?: Array<{ type: string; status: string }> }> };
        };
        const parent = got.status?.parents?.find((p) => p.controllerName === TRAEFIK_GATEWAY_CONTROLLER);
        return ['Accepted', 'ResolvedRefs'].every((t) => parent?.conditions?.some((k) => k.type === t && k.status === 'True'));
      }, { timeoutMs: 60_000 });
    }
    await waitFor(`a 200 for ${MAIN_HOST}`, async () => (await revisionOf(MAIN_HOST)).startsWith('split-'), { timeoutMs: 60_000 });
  });

  it('Knative-Serving-Tag on the main host reaches only that tag\'s revision', async () => {
    expect(await counts(MAIN_HOST, { 'Knative-Serving-Tag': 'candidate' })).toEqual({ [NEW]: REQUESTS });
    expect(await counts(MAIN_HOST, { 'Knative-Serving-Tag': 'old' })).toEqual({ [OLD]: REQUESTS });
  });

  it('without the header, or with a tag the route does not have, the main host splits as before', async () => {
    for (const headers of [{}, { 'Knative-Serving-Tag': 'nope' }] as Record<string, string>[]) {
      const got = await counts(MAIN_HOST, headers, SPLIT_REQUESTS);
      expect(Object.keys(got).sort(), JSON.stringify(got)).toEqual([NEW, OLD].sort());
      expect(got[OLD]).toBeGreaterThan(got[NEW]);
    }
  });

  it('the backend sees Knative-Serving-Default-Route on the default rule and Knative-Serving-Tag on a tag host', async () => {
    expect((await echoedHeaders(MAIN_HOST))['knative-serving-default-route']).toBe('true');
    const viaTagHost = await echoedHeaders(`candidate-split.${NS}.example.com`);
    expect(viaTagHost['knative-serving-tag']).toBe('candidate');
    expect(viaTagHost).not.toHaveProperty('knative-serving-default-route');
    const viaHeader = await echoedHeaders(MAIN_HOST, { 'Knative-Serving-Tag': 'candidate' });
    expect(viaHeader['knative-serving-tag']).toBe('candidate');
    expect(viaHeader).not.toHaveProperty('knative-serving-default-route');
  });
});
