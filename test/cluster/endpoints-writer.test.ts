// The public Endpoints writer (lib/runtime/kube/endpoints-writer.ts) on a real API server, as the
// autoscaler's ServiceAccount under the Role the compiler generates: it creates a missing object
// by server-side apply (a GitOps engine left it out), only under the names the Role lists; races
// with another replica or an engine end with one object and the runtime's subsets; it never
// changes labels or annotations it finds; and an object it created survives every way of
// applying the compiled Endpoints over it.
import { AppsV1Api, CoreV1Api, type KubernetesObject, type V1EndpointSubset, type V1Endpoints } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { serverlessServiceMetadata, type ObjectLabelsAndAnnotations } from '../../lib/contract/autoscaling';
import { AUTOSCALER, SYSTEM_NAMESPACE } from '../../lib/contract/constants';
import { buildRbac } from '../../lib/builders/rbac';
import { FieldManagers, isNotFound, loadKubeClients, type KubeClients } from '../../lib/runtime/kube/client';
import { createMissingEndpoints, writeEndpointsSubsets } from '../../lib/runtime/kube/endpoints-writer';
import { useControlPlane, waitFor, type ControlPlane } from './harness';
import { clientSideApply } from './scenarios/support/client-side-apply';

const NS = 'writer';
const REVISIONS = ['mine', 'race', 'engine', 'reapplied', 'owned'];
const controlPlane = useControlPlane();

const SUBSETS_A: V1EndpointSubset[] = [{ addresses: [{ ip: '10.200.0.5' }], ports: [{ name: 'http', port: 8012, protocol: 'TCP' }, { name: 'https', port: 8112, protocol: 'TCP' }] }];
const SUBSETS_B: V1EndpointSubset[] = [{ addresses: [{ ip: '10.200.0.6' }, { ip: '10.200.0.7' }], ports: SUBSETS_A[0].ports }];

/** What the compiled graph gives a revision's public Endpoints (the same rule as the builders'). */
function metaOf(revision: string): ObjectLabelsAndAnnotations {
  return serverlessServiceMetadata(revision, 'Public', {
    labels: { 'serving.knative.dev/revision': revision, team: 'payments' },
    annotations: { 'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev', 'autoscaling.knative.dev/metric': 'concurrency' },
  });
}

/** The compiled public Endpoints object (no subsets), as `kubectl apply` users have it. */
function compiledEndpoints(revision: string): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: revision, namespace: NS, ...metaOf(revision) } };
}

let sa: KubeClients | undefined;

/** The autoscaler's clients under the compiler's Role for REVISIONS (mode full, KPA class). */
async function autoscalerClients(cp: ControlPlane): Promise<KubeClients> {
  if (sa) return sa;
  const rbac = buildRbac(REVISIONS.map((name) => ({ name, namespace: NS, autoscalingClass: 'kpa.autoscaling.knative.dev', dataPlane: 'full' as const })));
  await cp.applyObjects(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM_NAMESPACE } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: AUTOSCALER, namespace: SYSTEM_NAMESPACE } },
      ...(rbac as KubernetesObject[]),
    ],
    'writer-test',
  );
  const clients = loadKubeClients((await cp.serviceAccountKubeConfig(SYSTEM_NAMESPACE, AUTOSCALER)).kubeConfig);
  await waitFor('RBAC in effect', async () => {
    try {
      await clients.core.listNamespacedEndpoints({ namespace: NS });
      return true;
    } catch {
      return false;
    }
  });
  sa = clients;
  return clients;
}

function admin(cp: ControlPlane): CoreV1Api {
  return cp.kubeConfig.makeApiClient(CoreV1Api);
}

async function read(cp: ControlPlane, name: string): Promise<V1Endpoints> {
  return admin(cp).readNamespacedEndpoints({ name, namespace: NS });
}

/** `manager/operation` of every managedFields entry owning a path (e.g. `f:subsets`). */
function ownersOf(obj: V1Endpoints, ...path: string[]): string[] {
  return (obj.metadata?.managedFields ?? [])
    .filter((f) => {
      let node: unknown = f.fieldsV1;
      for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
      return node !== undefined;
    })
    .map((f) => `${f.manager}/${f.operation}`)
    .sort();
}

function ips(ep: V1Endpoints): string[] {
  return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
}

describe('public Endpoints writer: creating a missing object', () => {
  it('creates it by server-side apply with the compiled labels and annotations and the subsets, then replaces only the subsets', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    await writeEndpointsSubsets(core, NS, 'mine', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: metaOf('mine') });
    const created = await read(cp, 'mine');
    expect(created.metadata?.labels).toEqual(metaOf('mine').labels);
    expect(created.metadata?.annotations).toEqual(metaOf('mine').annotations);
    expect(created.metadata?.annotations).not.toHaveProperty('autoscaling.knative.dev/metric');
    expect(ips(created)).toEqual(['10.200.0.5']);
    expect(ownersOf(created, 'f:subsets')).toEqual([`${FieldManagers.AUTOSCALER}/Apply`]);

    await writeEndpointsSubsets(core, NS, 'mine', SUBSETS_B, FieldManagers.AUTOSCALER, { createWith: metaOf('mine') });
    const written = await read(cp, 'mine');
    expect(ips(written)).toEqual(['10.200.0.6', '10.200.0.7']);
    expect(written.metadata?.uid).toBe(created.metadata?.uid);
    expect(written.metadata?.labels).toEqual(metaOf('mine').labels);
    // From the first replace on the subsets are owned through the Update entry, as for an
    // Endpoints object the graph created.
    expect(ownersOf(written, 'f:subsets')).toEqual([`${FieldManagers.AUTOSCALER}/Update`]);
  });

  it('without createWith a missing object stays an error (404): nothing is created', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    await expect(writeEndpointsSubsets(core, NS, 'race', SUBSETS_A, FieldManagers.AUTOSCALER)).rejects.toMatchObject({ code: 404 });
    await expect(read(cp, 'race')).rejects.toSatisfy(isNotFound);
  });

  it('RBAC: creates only the names the Role lists, and never by POST', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    // Another name in the same namespace: the apply is refused (403), nothing created.
    await expect(createMissingEndpoints(core, NS, 'not-a-revision', metaOf('not-a-revision'), SUBSETS_A, FieldManagers.AUTOSCALER)).rejects.toMatchObject({ code: 403 });
    await expect(read(cp, 'not-a-revision')).rejects.toSatisfy(isNotFound);
    // Another namespace: refused.
    await expect(createMissingEndpoints(core, 'default', 'mine', metaOf('mine'), SUBSETS_A, FieldManagers.AUTOSCALER)).rejects.toMatchObject({ code: 403 });
    // A POST create, even of a listed name: refused (create is authorized without a name there).
    await expect(core.createNamespacedEndpoints({ namespace: NS, body: compiledEndpoints('engine') as V1Endpoints })).rejects.toMatchObject({ code: 403 });
    await expect(read(cp, 'engine')).rejects.toSatisfy(isNotFound);
    // Deleting was never granted.
    await expect(core.deleteNamespacedEndpoints({ name: 'mine', namespace: NS })).rejects.toMatchObject({ code: 403 });
  });

  it('two autoscaler replicas creating the same object at once: both succeed, one object, one writer named', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    const other = loadKubeClients((await cp.serviceAccountKubeConfig(SYSTEM_NAMESPACE, AUTOSCALER)).kubeConfig);
    await Promise.all([
      writeEndpointsSubsets(core, NS, 'race', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: metaOf('race') }),
      writeEndpointsSubsets(other.core, NS, 'race', SUBSETS_B, FieldManagers.AUTOSCALER, { createWith: metaOf('race') }),
    ]);
    const ep = await read(cp, 'race');
    expect([['10.200.0.5'], ['10.200.0.6', '10.200.0.7']]).toContainEqual(ips(ep));
    expect(ep.metadata?.labels).toEqual(metaOf('race').labels);
    expect(new Set((ep.metadata?.managedFields ?? []).map((f) => f.manager))).toEqual(new Set([FieldManagers.AUTOSCALER]));
  });

  it('an engine creates it between the read (404) and the apply, with other label values: the apply conflicts (409), the retry replaces only the subsets, the engine keeps its labels and marks', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    const engines: KubernetesObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        name: 'engine',
        namespace: NS,
        labels: { ...metaOf('engine').labels, team: 'platform', 'kustomize.toolkit.fluxcd.io/name': 'apps', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
        annotations: { ...metaOf('engine').annotations, 'argocd.argoproj.io/tracking-id': 'shop:/Endpoints:writer/engine' },
      },
    };
    // The real API server answers every call; the test only decides when the engine's apply
    // lands: right after the writer's first read came back 404.
    let reads = 0;
    const racing = Object.create(core) as CoreV1Api;
    racing.readNamespacedEndpoints = async (args) => {
      reads++;
      try {
        return await core.readNamespacedEndpoints(args);
      } finally {
        if (reads === 1) await cp.applyObjects([engines], 'kustomize-controller', { force: true });
      }
    };
    await writeEndpointsSubsets(racing, NS, 'engine', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: metaOf('engine') });
    expect(reads).toBe(2);
    const ep = await read(cp, 'engine');
    expect(ips(ep)).toEqual(['10.200.0.5']);
    expect(ep.metadata?.labels).toEqual(engines.metadata?.labels);
    expect(ep.metadata?.annotations).toEqual(engines.metadata?.annotations);
    // The runtime owns the subsets and nothing else.
    const mine = (ep.metadata?.managedFields ?? []).filter((f) => f.manager === FieldManagers.AUTOSCALER);
    expect(mine.map((f) => [f.operation, Object.keys(f.fieldsV1 ?? {}).sort()])).toEqual([['Update', ['f:subsets']]]);

    // Later writes still leave what the engine owns alone.
    await writeEndpointsSubsets(core, NS, 'engine', SUBSETS_B, FieldManagers.AUTOSCALER, { createWith: metaOf('engine') });
    const again = await read(cp, 'engine');
    expect(ips(again)).toEqual(['10.200.0.6', '10.200.0.7']);
    expect(again.metadata?.labels).toEqual(engines.metadata?.labels);
    expect(again.metadata?.annotations).toEqual(engines.metadata?.annotations);
  });
});

describe('the owner of an Endpoints object the runtime created', () => {
  it("is the revision's Deployment: the garbage collector deletes the object with it", async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    const [deployment] = await cp.applyObjects([{
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'owned-deployment', namespace: NS },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'owned' } },
        template: { metadata: { labels: { app: 'owned' } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
      },
    } as KubernetesObject], 'writer-test');
    const owner = { name: 'owned-deployment', uid: deployment.metadata!.uid! };
    await writeEndpointsSubsets(core, NS, 'owned', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: { ...metaOf('owned'), owner } });
    const ep = await read(cp, 'owned');
    expect(ep.metadata?.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner.name, uid: owner.uid }]);
    await cp.kubeConfig.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: owner.name, namespace: NS });
    await waitFor('the garbage collector deletes the Endpoints', async () => {
      try {
        await read(cp, 'owned');
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, { timeoutMs: 60_000 });
  });
});

describe('an Endpoints object the runtime created, then the compiled one applied over it', () => {
  const ways: Array<{ way: string; apply: (cp: ControlPlane) => Promise<unknown> }> = [
    { way: 'client-side kubectl apply (three-way merge, last-applied annotation)', apply: (cp) => clientSideApply(cp, [compiledEndpoints('reapplied')]) },
    { way: 'client-side kubectl apply again', apply: (cp) => clientSideApply(cp, [compiledEndpoints('reapplied')]) },
    { way: 'server-side apply without force (kubectl --server-side)', apply: (cp) => cp.applyObjects([compiledEndpoints('reapplied')], 'kubectl') },
    { way: 'server-side apply with force as Flux does (kustomize-controller)', apply: (cp) => cp.applyObjects([compiledEndpoints('reapplied')], 'kustomize-controller', { force: true }) },
  ];

  it('the runtime creates it', async () => {
    const cp = controlPlane();
    const { core } = await autoscalerClients(cp);
    await writeEndpointsSubsets(core, NS, 'reapplied', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: metaOf('reapplied') });
    await writeEndpointsSubsets(core, NS, 'reapplied', SUBSETS_B, FieldManagers.AUTOSCALER, { createWith: metaOf('reapplied') });
    expect(ips(await read(cp, 'reapplied'))).toEqual(['10.200.0.6', '10.200.0.7']);
  });

  for (const { way, apply } of ways) {
    it(`${way}: succeeds, the subsets stay, and the runtime can still write them`, async () => {
      const cp = controlPlane();
      const { core } = await autoscalerClients(cp);
      await apply(cp);
      const ep = await read(cp, 'reapplied');
      expect(ips(ep)).toEqual(['10.200.0.6', '10.200.0.7']);
      expect(ep.metadata?.labels).toEqual(metaOf('reapplied').labels);
      expect(ownersOf(ep, 'f:subsets')).toEqual([`${FieldManagers.AUTOSCALER}/Update`]);
      await writeEndpointsSubsets(core, NS, 'reapplied', SUBSETS_A, FieldManagers.AUTOSCALER, { createWith: metaOf('reapplied') });
      expect(ips(await read(cp, 'reapplied'))).toEqual(['10.200.0.5']);
      await writeEndpointsSubsets(core, NS, 'reapplied', SUBSETS_B, FieldManagers.AUTOSCALER, { createWith: metaOf('reapplied') });
    });
  }

  it('what the runtime still co-owns: a label value changed by a server-side apply without force conflicts with kservice-autoscaler (with force, as Argo CD and Flux apply, it is taken over)', async () => {
    const cp = controlPlane();
    const changed = compiledEndpoints('reapplied');
    changed.metadata!.labels = { ...changed.metadata!.labels, team: 'platform' };
    // Not as `kubectl`: kube-apiserver forces a `kubectl` apply over conflicts on fields the
    // object's last-applied-configuration annotation declares (the client-side to server-side
    // upgrade path, k8s.io/apiserver fieldmanager lastappliedmanager.go), and this object has one.
    const tool = 'helm';
    await expect(cp.applyObjects([changed], tool)).rejects.toSatisfy(
      (err: { code?: number; body?: unknown }) => {
        const status = JSON.parse(String(err.body)) as { details?: { causes?: Array<{ message?: string }> } };
        return err.code === 409 && (status.details?.causes ?? []).some((c) => c.message === `conflict with "${FieldManagers.AUTOSCALER}"`);
      },
    );
    await cp.applyObjects([changed], tool, { force: true });
    const ep = await read(cp, 'reapplied');
    expect(ep.metadata?.labels?.team).toBe('platform');
    expect(ips(ep)).toEqual(['10.200.0.6', '10.200.0.7']);
  });
});
