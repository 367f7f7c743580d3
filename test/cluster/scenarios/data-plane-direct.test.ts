// Data-plane mode `direct` (issue 13) on a real control plane with the runtime running: a revision
// with no queue-proxy and no activator, KPA class with min-scale = max-scale = 2, so the compiled
// Deployment pins 2 replicas. Kubernetes' endpoints controller fills the public Service's Endpoints
// from its selector (pod IP:8080, the app's port); the runtime (activator + autoscaler, running in
// the cluster) must leave the Deployment and the Endpoints alone: no write of its field manager
// anywhere. A bounded load sent to the public Endpoints' addresses, as Istio or kube-proxy would
// send it, loses no request and reaches both pods; a GitOps re-apply of the whole graph changes
// nothing (replicas are the manifest's own, by design).
import { CoordinationV1Api, type KubernetesObject, type V1Deployment, type V1Endpoints } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DATA_PLANE_ANNOTATION } from '../../../lib/contract/autoscaling';
import { AUTOSCALER_FIELD_MANAGER, AUTOSCALER_LEASE, Labels, QUEUE_CONTAINER_NAME, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { DataPlane } from '../../../lib/model/kservice-props';
import { KService } from '../../../lib/constructs/kservice';
import { Names } from '../../../lib/contract/naming';
import { waitFor } from '../harness';
import { httpGet, httpTry } from './support/http';
import { describeLoad, runLoad } from './support/load';
import { applyOrder, isReady, listPods, TEST_IMAGE, useServingCluster, type ServingCluster } from './support/serving';

const NS = 'direct';
const REV = 'edge-00001';
const APP_PORT = 8080;
const SELECTOR = `${Labels.REVISION}=${REV}`;
/** The field manager of Kubernetes' endpoints controller, which runs in kube-controller-manager. */
const ENDPOINTS_CONTROLLER = 'kube-controller-manager';

const cluster = useServingCluster({
  services: (chart, config) => {
    new KService(chart, 'edge', {
      namespace: NS,
      config,
      dataPlane: DataPlane.DIRECT,
      containers: [{ image: TEST_IMAGE }],
      autoscaling: { minScale: 2, maxScale: 2 },
    });
  },
});

/** The public Endpoints' ready addresses as `ip:port`, sorted. */
function addressesOf(ep: V1Endpoints): string[] {
  return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).flatMap((a) => (s.ports ?? []).map((p) => `${a.ip}:${p.port}`))).sort();
}

/** Field managers (with subresource) of an object. */
function managersOf(obj: KubernetesObject): string[] {
  return (obj.metadata?.managedFields ?? []).map((f) => `${f.manager}${f.subresource ? `/${f.subresource}` : ''}`).sort();
}

async function state(c: ServingCluster) {
  const deployment = await c.apps.readNamespacedDeployment({ name: Names.deployment(REV), namespace: NS });
  const endpoints = await c.core.readNamespacedEndpoints({ name: Names.publicService(REV), namespace: NS });
  return { deployment, endpoints };
}

let before: { deployment: V1Deployment; endpoints: V1Endpoints };

describe('data-plane mode direct', () => {
  it('compiles to a pinned Deployment without queue-proxy, a selecting public Service and no public Endpoints object', () => {
    const objects = cluster().objects;
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === Names.deployment(REV)) as V1Deployment;
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.metadata?.annotations?.[DATA_PLANE_ANNOTATION]).toBe('direct');
    expect(deployment.spec?.template.spec?.containers.map((c) => c.name)).toEqual(['user-container']);
    const publicService = objects.find((o) => o.kind === 'Service' && o.metadata?.name === REV) as { spec: { selector?: object; ports: { targetPort: number }[] } };
    expect(publicService.spec.selector).toEqual({ [Labels.REVISION]: REV });
    expect(publicService.spec.ports.map((p) => p.targetPort)).toEqual([APP_PORT]);
    expect(objects.filter((o) => o.kind === 'Endpoints' && o.metadata?.namespace === NS)).toEqual([]);
  });

  it('Kubernetes runs 2 pods without queue-proxy and fills the public Endpoints with their IP:8080', async () => {
    const c = cluster();
    const ready = await waitFor('2 ready pods whose IPs are the public Endpoints, on the app port', async () => {
      const pods = (await listPods(c.core, NS, SELECTOR)).filter(isReady);
      const { endpoints } = await state(c);
      const want = pods.map((p) => `${p.status?.podIP}:${APP_PORT}`).sort();
      return pods.length === 2 && JSON.stringify(addressesOf(endpoints)) === JSON.stringify(want) && pods;
    }, { timeoutMs: 120_000 });
    for (const pod of ready) {
      expect(pod.spec?.containers.map((x) => x.name), pod.metadata?.name).not.toContain(QUEUE_CONTAINER_NAME);
      expect(pod.status?.containerStatuses?.map((s) => s.name)).toEqual(['user-container']);
    }
    before = await state(c);
    // Filled by the endpoints controller (inside kube-controller-manager), never by the runtime.
    expect(managersOf(before.endpoints)).toEqual([ENDPOINTS_CONTROLLER]);
  });

  it('a bounded load through the public Endpoints loses no request and reaches both pods', async () => {
    const addresses = addressesOf(before.endpoints);
    const totals = async () => Promise.all(addresses.map(async (a) => (JSON.parse((await httpGet(`http://${a}/stats`)).body) as { total: number }).total));
    const start = await totals();
    let next = 0;
    const report = await runLoad({
      concurrency: 4,
      maxRequests: 400,
      maxDurationMs: 20_000,
      send: () => httpTry(`http://${addresses[next++ % addresses.length]}/sleep?ms=5`, { timeoutMs: 10_000 }),
    });
    expect(report.byStatus, describeLoad(report)).toEqual({ 200: report.total });
    expect(report.total).toBeGreaterThan(0);
    const served = (await totals()).map((t, i) => t - start[i]);
    expect(served.every((n) => n > 0), `per pod ${served.join(', ')}`).toBe(true);
    expect(served.reduce((a, b) => a + b, 0), 'every request reached an app').toBe(report.total);
  }, 60_000);

  it('the runtime leaves the revision alone: no write of its field manager on the Deployment, its scale or the Endpoints', async () => {
    const c = cluster();
    // The autoscaler is up and leading, so its silence below means it chose to leave the revision alone.
    const lease = await c.controlPlane.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: AUTOSCALER_LEASE, namespace: SYSTEM_NAMESPACE });
    expect(lease.spec?.holderIdentity, 'an autoscaler holds the lease').toBeTruthy();
    // Give it time to have reconciled the revision (its ticks are ~2 s) with the load above seen.
    await new Promise((r) => setTimeout(r, 5_000));
    const now = await state(c);
    expect(managersOf(now.deployment)).not.toContain(AUTOSCALER_FIELD_MANAGER);
    expect(managersOf(now.deployment).filter((m) => m.startsWith(AUTOSCALER_FIELD_MANAGER))).toEqual([]);
    expect(managersOf(now.endpoints)).toEqual([ENDPOINTS_CONTROLLER]);
    expect(now.deployment.spec?.replicas).toBe(2);
    expect(now.deployment.metadata?.generation, 'the spec never changed since it was applied').toBe(1);
    expect(addressesOf(now.endpoints)).toEqual(addressesOf(before.endpoints));
  });

  it('a GitOps re-apply of the whole graph changes nothing', async () => {
    const c = cluster();
    const graph = applyOrder(c.objects).filter((o) => o.kind !== 'Namespace');
    // What a re-apply could change: the Deployment's spec (generation counts spec changes), its
    // replicas, the pods (a new template would replace them) and the Endpoints. Not the
    // Deployment's resourceVersion: a second applier's field manager entry is a metadata write.
    const observed = async () => {
      const s = await state(c);
      const pods = await listPods(c.core, NS, SELECTOR);
      return {
        generation: s.deployment.metadata?.generation,
        replicas: s.deployment.spec?.replicas,
        template: JSON.stringify(s.deployment.spec?.template),
        endpoints: s.endpoints.metadata?.resourceVersion,
        addresses: addressesOf(s.endpoints),
        pods: pods.map((p) => `${p.metadata?.name} ${p.metadata?.uid} ready=${isReady(p)}`).sort(),
      };
    };
    const first = await observed();
    await c.controlPlane.applyObjects(graph, 'kservice');
    await c.controlPlane.applyObjects(graph, 'argocd-controller');
    await c.controlPlane.applyObjects(graph, 'kubectl', { force: true });
    // Give the deployment and endpoints controllers a moment to act on a change, were there one.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await observed()).toEqual(first);
    expect(first.generation).toBe(1);
    expect(first.pods).toHaveLength(2);
  });
});
