// Traffic split between two revisions, and the runtime's least-privilege RBAC, on the running graph.
// Each revision's app answers with a body of its own size (RESPONSE_BYTES), so the body tells which
// revision's pod answered; each pod's /stats counts what it served.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, ApiException, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Labels, Ports, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { Names } from '../../../lib/contract/naming';
import { waitFor } from '../harness';
import { httpGet } from './support/http';
import { PublicEndpointsRouter, revisionHeaders } from './support/router';
import { activatorPods, TEST_IMAGE, useServingCluster, waitForReadyPods } from './support/serving';
import { VirtualServiceRouter } from './support/virtual-service';

const NS = 'routing';
const OLD = 'split-00001';
const NEW = 'split-00002';
/** Body of each revision's `/`: test-app's default 13-byte greeting, or 7 x "x". */
const BODY: Record<string, string> = { [NEW]: 'Hello World!\n', [OLD]: 'xxxxxxx' };

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'split', {
      namespace: NS,
      config,
      generation: 2,
      containers: [{ image: TEST_IMAGE }],
      autoscaling: { minScale: 1 },
      revisions: [{ name: OLD, containers: [{ image: TEST_IMAGE, env: { RESPONSE_BYTES: '7' } }], autoscaling: { minScale: 1 } }],
      traffic: [{ revisionName: OLD, percent: 50 }, { revisionName: NEW, percent: 50 }],
    });
  },
});

let router: PublicEndpointsRouter;
const podIPs: Record<string, string> = {};

beforeAll(async () => {
  const c = cluster();
  for (const rev of [OLD, NEW]) {
    const [pod] = await waitForReadyPods(c.core, NS, `${Labels.REVISION}=${rev}`, 1);
    podIPs[rev] = pod.status?.podIP ?? '';
  }
  router = new PublicEndpointsRouter(c.controlPlane.kubeConfig, NS);
  await router.start();
  await waitFor('public Endpoints of both revisions', () => router.addresses(OLD).length > 0 && router.addresses(NEW).length > 0, { timeoutMs: 60_000 });
});

afterAll(async () => {
  await router?.stop();
});

/** Zeroes each revision pod's request count, then returns a reader of the counts. */
async function countServed(): Promise<() => Promise<Record<string, number>>> {
  for (const rev of [OLD, NEW]) await httpGet(`http://${podIPs[rev]}:8080/stats?reset=1`);
  return async () => {
    const out: Record<string, number> = {};
    for (const rev of [OLD, NEW]) out[rev] = JSON.parse((await httpGet(`http://${podIPs[rev]}:8080/stats`)).body).total;
    return out;
  };
}

describe('traffic split', () => {
  it('requests carrying a revision\'s headers reach that revision\'s pods, through the activator and through the public Endpoints', async () => {
    const [activator] = await activatorPods(cluster());
    const served = await countServed();
    for (const rev of [OLD, NEW]) {
      for (let i = 0; i < 5; i++) {
        const viaActivator = await httpGet(`http://${activator.status?.podIP}:${Ports.QUEUE_HTTP}/`, { headers: revisionHeaders(NS, rev) });
        expect(viaActivator.status).toBe(200);
        expect(viaActivator.body).toBe(BODY[rev]);
        const viaEndpoints = await router.request(rev, '/');
        expect(viaEndpoints.status, viaEndpoints.body).toBe(200);
        expect(viaEndpoints.body).toBe(BODY[rev]);
      }
    }
    expect(await served()).toEqual({ [OLD]: 10, [NEW]: 10 });
  });

  it('the compiled VirtualService splits 50/50 and sets the headers the activator routes by', async () => {
    const custom = cluster().controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = (await custom.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1beta1', namespace: NS, plural: 'virtualservices' })) as { items: KubernetesObject[] };
    const host = `split.${NS}.svc.cluster.local`;
    const vs = list.items.map((o) => new VirtualServiceRouter(o)).find((r) => r.matches(host));
    expect(vs, `a VirtualService routing ${host}`).toBeDefined();
    const served = await countServed();
    const bodies: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const { revision, headers } = vs!.pick(host);
      expect(headers).toEqual(revisionHeaders(NS, revision));
      const r = await router.request(revision, '/', { headers });
      expect(r.status, r.body).toBe(200);
      bodies[r.body] = (bodies[r.body] ?? 0) + 1;
    }
    expect(await served()).toEqual({ [OLD]: 10, [NEW]: 10 });
    expect(bodies).toEqual({ [BODY[OLD]]: 10, [BODY[NEW]]: 10 });
  });
});

describe('RBAC of the runtime', () => {
  async function statusOf(p: Promise<unknown>): Promise<number> {
    try {
      await p;
      return 200;
    } catch (e) {
      if (e instanceof ApiException) return e.code;
      throw e;
    }
  }

  it('the autoscaler may scale the revisions it was granted, and nothing else', async () => {
    const cp = cluster().controlPlane;
    await cp.applyObjects([{
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'intruder', namespace: NS },
      spec: { replicas: 0, selector: { matchLabels: { app: 'intruder' } }, template: { metadata: { labels: { app: 'intruder' } }, spec: { containers: [{ name: 'c', image: 'registry.test/none:1' }] } } },
    } as KubernetesObject], 'rbac-test');
    const sa = await cp.serviceAccountKubeConfig(SYSTEM_NAMESPACE, 'autoscaler');
    const apps = sa.kubeConfig.makeApiClient(AppsV1Api);
    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    // Granted: the scale subresource of a compiled revision Deployment.
    expect(await statusOf(apps.readNamespacedDeploymentScale({ name: Names.deployment(OLD), namespace: NS }))).toBe(200);
    // Not granted: another Deployment's scale, a private Endpoints, Secrets.
    expect(await statusOf(apps.readNamespacedDeploymentScale({ name: 'intruder', namespace: NS }))).toBe(403);
    const privateEp = await cluster().core.readNamespacedEndpoints({ name: Names.privateService(OLD), namespace: NS });
    expect(await statusOf(core.replaceNamespacedEndpoints({ name: Names.privateService(OLD), namespace: NS, body: privateEp }))).toBe(403);
    expect(await statusOf(core.listNamespacedSecret({ namespace: NS }))).toBe(403);
  });

  it('the activator cannot write the public Endpoints it reads', async () => {
    const sa = await cluster().controlPlane.serviceAccountKubeConfig(SYSTEM_NAMESPACE, 'activator');
    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    const ep = await core.readNamespacedEndpoints({ name: OLD, namespace: NS });
    expect(ep.subsets?.length).toBeGreaterThan(0);
    expect(await statusOf(core.replaceNamespacedEndpoints({ name: OLD, namespace: NS, body: { ...ep, subsets: [] } }))).toBe(403);
  });
});
