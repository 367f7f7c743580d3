// Smoke test of the control-plane harness: the real API server and controller
// manager behave the way the project relies on.
import {
  ApiException, AppsV1Api, CoreV1Api, DiscoveryV1Api, KubernetesObjectApi, VersionApi, type KubernetesObject, type V1Endpoints,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { pinnedVersions, useControlPlane, waitFor } from './harness';

const NS = 'smoke';
const controlPlane = useControlPlane();

const namespace: KubernetesObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } };

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof ApiException) return e.code;
    throw e;
  }
}

describe('control plane', () => {
  it('serves the pinned Kubernetes version and the kubernetes Service', async () => {
    const kc = controlPlane().kubeConfig;
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(pinnedVersions().kubernetes);
    const svc = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'kubernetes', namespace: 'default' });
    expect(svc.spec?.clusterIP).toBe('10.96.0.1');
  });

  it('runs the deployment and replicaset controllers: Pods are created and stay Pending', async () => {
    const cp = controlPlane();
    await cp.applyObjects([namespace, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'registry.invalid/web:1' }] },
        },
      },
    } as KubernetesObject], 'kservice-smoke');

    const apps = cp.kubeConfig.makeApiClient(AppsV1Api);
    const rs = await waitFor('ReplicaSet of Deployment web', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: NS });
      return list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'web'));
    });
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const pods = await waitFor('2 Pods of the ReplicaSet', async () => {
      const list = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=web' });
      return list.items.length === 2 && list.items;
    });
    for (const pod of pods) {
      expect(pod.metadata?.ownerReferences?.[0]?.uid).toBe(rs.metadata?.uid);
      // No scheduler and no node: nothing can run them.
      expect(pod.status?.phase).toBe('Pending');
      expect(pod.spec?.nodeName).toBeUndefined();
    }
  });

  it('keeps Endpoints addresses owned by another field manager when the manifest is re-applied', async () => {
    const cp = controlPlane();
    const manifest = (revision: string): KubernetesObject[] => [
      namespace,
      {
        apiVersion: 'v1', kind: 'Service', metadata: { name: 'hello', namespace: NS, labels: { revision } },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, // no selector: endpoints are ours
      } as KubernetesObject,
      // Deliberately no subsets: the runtime owns the addresses.
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hello', namespace: NS, labels: { revision } } },
    ];
    await cp.applyObjects(manifest('1'), 'kservice-manifests');
    // The runtime's write: 10.200.0.5 is never contacted, it only has to be a valid non-loopback IP.
    const runtimeWrite: V1Endpoints = {
      apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'hello', namespace: NS },
      subsets: [{ addresses: [{ ip: '10.200.0.5' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
    };
    await cp.applyObjects([runtimeWrite as KubernetesObject], 'kservice-runtime');

    await cp.applyObjects(manifest('2'), 'kservice-manifests');

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const ep = await core.readNamespacedEndpoints({ name: 'hello', namespace: NS });
    expect(ep.metadata?.labels?.revision).toBe('2'); // the re-apply took effect...
    expect(ep.subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual(['10.200.0.5']); // ...and kept the addresses
    const owners = ep.metadata?.managedFields?.filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes('f:subsets'));
    expect(owners?.map((m) => m.manager)).toEqual(['kservice-runtime']);

    // The endpointslice-mirroring controller copies selector-less Endpoints to an EndpointSlice.
    const discovery = cp.kubeConfig.makeApiClient(DiscoveryV1Api);
    const slice = await waitFor('mirrored EndpointSlice', async () => {
      const list = await discovery.listNamespacedEndpointSlice({
        namespace: NS, labelSelector: 'kubernetes.io/service-name=hello',
      });
      return list.items.find((s) => s.endpoints.some((e) => e.addresses.includes('10.200.0.5')));
    });
    expect(slice.ports?.[0]?.port).toBe(8080);
  });

  it('enforces RBAC for a ServiceAccount: resourceNames limits which object it can get', async () => {
    const cp = controlPlane();
    await cp.applyObjects([
      namespace,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'reader', namespace: NS } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'reader', namespace: NS },
        rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['allowed'], verbs: ['get'] }],
      } as KubernetesObject,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'reader', namespace: NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: NS }],
      } as KubernetesObject,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allowed', namespace: NS }, data: { k: 'v' } } as KubernetesObject,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other', namespace: NS }, data: { k: 'v' } } as KubernetesObject,
    ], 'kservice-smoke');

    const sa = await cp.serviceAccountKubeConfig(NS, 'reader');
    const core = sa.kubeConfig.makeApiClient(CoreV1Api);
    const allowed = await core.readNamespacedConfigMap({ name: 'allowed', namespace: NS });
    expect(allowed.data).toEqual({ k: 'v' });
    expect(await statusOf(core.readNamespacedConfigMap({ name: 'other', namespace: NS }))).toBe(403);
    // resourceNames cannot authorize a list.
    expect(await statusOf(core.listNamespacedConfigMap({ namespace: NS }))).toBe(403);
  });

  it('installs the Istio networking CRDs with schemas the API server enforces', async () => {
    const cp = controlPlane();
    expect(await cp.installIstioCrds()).toEqual([
      'virtualservices.networking.istio.io', 'gateways.networking.istio.io',
    ]);
    await cp.applyObjects([namespace, {
      apiVersion: 'networking.istio.io/v1beta1', kind: 'Gateway', metadata: { name: 'gw', namespace: NS },
      spec: { selector: { istio: 'ingressgateway' }, servers: [{ hosts: ['*'], port: { name: 'http', number: 80, protocol: 'HTTP' } }] },
    } as KubernetesObject, {
      apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService', metadata: { name: 'vs', namespace: NS },
      spec: {
        hosts: ['hello.smoke.example.com'], gateways: [`${NS}/gw`],
        http: [{ route: [{ destination: { host: 'hello.smoke.svc.cluster.local', port: { number: 80 } }, weight: 100 }] }],
      },
    } as KubernetesObject], 'kservice-smoke');

    // Istio's schema allows exactly one of exact/prefix/regex per CORS origin
    // (a oneOf value validation); a spec-level preserve-unknown-fields CRD would accept this.
    const invalid = { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService',
      metadata: { name: 'bad', namespace: NS },
      spec: { hosts: ['bad.example.com'], http: [{ corsPolicy: { allowOrigins: [{ exact: 'a', prefix: 'b' }] } }] },
    } as KubernetesObject;
    expect(await statusOf(cp.applyObjects([invalid], 'kservice-smoke'))).toBe(422);
    // A type mismatch is rejected too, before validation: server-side apply
    // cannot build the typed object (the API server answers 500 for that).
    const mistyped = { ...invalid, spec: { hosts: 'not-a-list' } } as KubernetesObject;
    expect(await statusOf(cp.applyObjects([mistyped], 'kservice-smoke'))).toBeGreaterThanOrEqual(400);
    const objects = KubernetesObjectApi.makeApiClient(cp.kubeConfig);
    expect(await statusOf(objects.read({ ...invalid, metadata: { name: 'bad', namespace: NS } }))).toBe(404);
  });
});
