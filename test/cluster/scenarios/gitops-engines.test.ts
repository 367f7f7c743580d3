// The compiled graph as GitOps engines apply it with their documented defaults (issue 17), on a
// real control plane with the runtime running:
// - Argo CD 3.x leaves out the kinds its default `resource.exclusions` lists (Endpoints among
//   them), once with client-side apply (its default) and once with server-side apply
//   (ServerSideApply=true), both as `argocd-controller`, tracking every object by annotation;
// - Flux's kustomize-controller applies everything by server-side apply as
//   `kustomize-controller`, marking every object with its owner labels.
// Each engine owns one namespace with one revision (and the system objects go through another
// Argo CD Application). The autoscaler creates the public Endpoints Argo CD left out; every
// revision serves from zero through the activator, scales to more than one pod under bounded load
// and back to zero; a re-sync changes nothing; a prune selects only what the engine applied and no
// longer wants, never what the runtime created; and when a revision leaves Git, the garbage
// collector removes the Endpoints the runtime created for it, with its Deployment.
import { DiscoveryV1Api, type KubernetesObject, type V1Deployment, type V1Endpoints } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOSCALER_LEASE, Labels, SYSTEM_NAMESPACE } from '../../../lib/contract/constants';
import { KService } from '../../../lib/constructs/kservice';
import { Names } from '../../../lib/contract/naming';
import { FieldManagers } from '../../../lib/runtime/kube/client';
import { waitFor } from '../harness';
import {
  argoCd, deleteObjects, excludedByArgoCd, flux, liveObjects, objectKey, pruneSelection, type Engine,
  ARGO_CD_TRACKING_ANNOTATION, FLUX_NAME_LABEL, FLUX_NAMESPACE_LABEL,
} from './support/gitops-engines';
import { describeLoad, runLoad } from './support/load';
import { watchRevision, type RevisionWatch } from './support/revision-watch';
import { activatorPods, isReady, listPods, TEST_IMAGE, useServingCluster, type ServingCluster } from './support/serving';

const REV = 'hello-00001';
const MAX_SCALE = 3;

interface Case {
  readonly namespace: string;
  readonly engine: Engine;
  /** Whether the engine leaves the compiled public Endpoints out, so the runtime creates them. */
  readonly runtimeCreatesEndpoints: boolean;
}

const CASES: readonly Case[] = [
  { namespace: 'argo-csa', engine: argoCd('argo-csa', 'client-side', 'argo-csa'), runtimeCreatesEndpoints: true },
  { namespace: 'argo-ssa', engine: argoCd('argo-ssa', 'server-side', 'argo-ssa'), runtimeCreatesEndpoints: true },
  { namespace: 'flux', engine: flux('apps', 'flux-system'), runtimeCreatesEndpoints: false },
];
/** The system objects (knative-serving, the cluster-scoped ones): one more Argo CD Application. */
const SYSTEM = argoCd('serving-system', 'server-side', SYSTEM_NAMESPACE);

/** An object Git had at the first sync and dropped since: what every prune must select. */
function staleConfigMap(namespace: string): KubernetesObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'stale-config', namespace }, data: { removed: 'from git' } } as KubernetesObject;
}

/** The graph's objects per engine (its namespace), the rest for the system Application. */
function partition(objects: readonly KubernetesObject[]): { system: KubernetesObject[]; byNamespace: Map<string, KubernetesObject[]> } {
  const byNamespace = new Map(CASES.map((c) => [c.namespace, objects.filter((o) => o.metadata?.namespace === c.namespace)]));
  const system = objects.filter((o) => !CASES.some((c) => c.namespace === o.metadata?.namespace));
  return { system, byNamespace };
}

const cluster = useServingCluster({
  services: (chart, config) => {
    for (const { namespace } of CASES) {
      new KService(chart, `hello-${namespace}`, {
        name: 'hello',
        namespace,
        config,
        containers: [{ image: TEST_IMAGE, env: { START_DELAY_MS: '200' } }],
        // One request per pod. Knative's target is 70% of it, so a single request in flight already
        // asks for 2 pods (the cold start may reach 2); 4 concurrent clients ask for maxScale, 3.
        containerConcurrency: 1,
        // TBC 0: the activator leaves the path once a pod serves.
        autoscaling: { initialScale: 0, maxScale: MAX_SCALE, targetBurstCapacity: 0 },
      });
    }
  },
  // The first sync of every engine; Namespaces the graph does not declare come from the harness.
  apply: async (cp, objects) => {
    const { system, byNamespace } = partition(objects);
    await SYSTEM.sync(cp, system);
    for (const c of CASES) await c.engine.sync(cp, [...byNamespace.get(c.namespace)!, staleConfigMap(c.namespace)]);
  },
});

const watches = new Map<string, RevisionWatch>();

beforeAll(async () => {
  const kc = cluster().controlPlane.kubeConfig;
  for (const c of CASES) watches.set(c.namespace, await watchRevision(kc, c.namespace, REV));
});

afterAll(async () => {
  await Promise.all([...watches.values()].flatMap((w) => [w.endpoints.stop(), w.replicas.stop(), w.router.stop()]));
});

function watchOf(c: Case): RevisionWatch {
  return watches.get(c.namespace)!;
}

function timelines(c: Case): string {
  const w = watchOf(c);
  return `${c.engine.describe}, public Endpoints ${c.namespace}/${REV}:\n${w.endpoints.describe()}\nDeployment replicas:\n${w.replicas.describe()}`;
}

async function waitWithTimelines<T>(c: Case, what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  try {
    return await waitFor(`${c.namespace}: ${what}`, probe, { timeoutMs });
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${timelines(c)}`);
  }
}

async function activatorIPs(sc: ServingCluster): Promise<string[]> {
  return (await activatorPods(sc)).map((p) => p.status?.podIP ?? '').sort();
}

function compiledEndpoints(sc: ServingCluster, c: Case): KubernetesObject {
  const ep = sc.objects.find((o) => o.kind === 'Endpoints' && o.metadata?.namespace === c.namespace && o.metadata.name === Names.publicService(REV));
  if (!ep) throw new Error(`the graph has no public Endpoints for ${c.namespace}/${REV}`);
  return ep;
}

async function readEndpoints(sc: ServingCluster, c: Case): Promise<V1Endpoints> {
  return sc.core.readNamespacedEndpoints({ name: Names.publicService(REV), namespace: c.namespace });
}

/** Keys of labels and annotations any engine uses to track what it applied. */
function engineMarks(obj: KubernetesObject): string[] {
  const keys = [...Object.keys(obj.metadata?.labels ?? {}), ...Object.keys(obj.metadata?.annotations ?? {})];
  return keys.filter((k) => [ARGO_CD_TRACKING_ANNOTATION, FLUX_NAME_LABEL, FLUX_NAMESPACE_LABEL, 'app.kubernetes.io/instance'].includes(k));
}

/** What one engine's re-sync must not change: resourceVersion of every object it manages, plus replicas and subsets. */
async function snapshot(sc: ServingCluster, c: Case): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of await liveObjects(sc.controlPlane.kubeConfig, c.namespace)) {
    if (o.kind === 'Lease') continue;
    out[objectKey(o)] = `rv ${o.metadata?.resourceVersion} gen ${o.metadata?.generation ?? '-'}`;
  }
  const d = await sc.apps.readNamespacedDeployment({ name: Names.deployment(REV), namespace: c.namespace });
  out.replicas = String(d.spec?.replicas);
  out.subsets = JSON.stringify((await readEndpoints(sc, c)).subsets ?? []);
  return out;
}

/** Runs the same step for every engine at once (each on its own namespace and revision). */
function forEachEngine(step: (c: Case) => Promise<void>): Promise<void[]> {
  return Promise.all(CASES.map(step));
}

describe('GitOps engines with their default settings', () => {
  it('Argo CD left the public Endpoints out (its default exclusions); nothing else of the graph is excluded; Flux applied everything', () => {
    const sc = cluster();
    const excluded = sc.objects.filter(excludedByArgoCd).map(objectKey).sort();
    expect(excluded).toEqual(CASES.map((c) => `/Endpoints ${c.namespace}/${REV}`).sort());
    for (const c of CASES) {
      const rendered = c.engine.rendered(partition(sc.objects).byNamespace.get(c.namespace)!);
      expect(rendered.some((o) => o.kind === 'Endpoints'), c.engine.describe).toBe(!c.runtimeCreatesEndpoints);
    }
  });

  it('serves from zero: the autoscaler creates (Argo CD) or fills (Flux) the public Endpoints with the activators, a request through an activator is answered 200', async () => {
    const sc = cluster();
    const activators = await activatorIPs(sc);
    await forEachEngine(async (c) => {
      const w = watchOf(c);
      await waitWithTimelines(c, 'public Endpoints on the activators', () => JSON.stringify(w.endpoints.current) === JSON.stringify(activators), 60_000);
      await waitWithTimelines(c, 'initial-scale 0 applied', () => w.replicas.current === 0, 30_000);
      await waitFor(`${c.namespace}: the pod Kubernetes started before initial-scale 0 gone`, async () => (await listPods(sc.core, c.namespace, `${Labels.REVISION}=${REV}`)).length === 0, { timeoutMs: 30_000 });

      const ep = await readEndpoints(sc, c);
      const compiled = compiledEndpoints(sc, c);
      expect(ep.metadata?.labels, c.engine.describe).toMatchObject(compiled.metadata?.labels ?? {});
      expect(ep.metadata?.annotations ?? {}, c.engine.describe).toMatchObject(compiled.metadata?.annotations ?? {});
      const managers = [...new Set((ep.metadata?.managedFields ?? []).map((f) => f.manager))].sort();
      if (c.runtimeCreatesEndpoints) {
        // Created by the runtime alone, exactly as compiled, no engine's mark on it, owned by its Deployment.
        expect(managers).toEqual([FieldManagers.AUTOSCALER]);
        expect(ep.metadata?.labels).toEqual(compiled.metadata?.labels);
        expect(ep.metadata?.annotations ?? {}).toEqual(compiled.metadata?.annotations ?? {});
        expect(engineMarks(ep as KubernetesObject)).toEqual([]);
        const deployment = await sc.apps.readNamespacedDeployment({ name: Names.deployment(REV), namespace: c.namespace });
        expect(ep.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.uid])).toEqual([['Deployment', deployment.metadata?.name, deployment.metadata?.uid]]);
      } else {
        expect(managers).toEqual([FieldManagers.AUTOSCALER, 'kustomize-controller'].sort());
        expect(ep.metadata?.ownerReferences).toBeUndefined();
      }
      // kube-proxy routes by EndpointSlices: the mirroring controller copied the addresses, and no engine mark either.
      const discovery = sc.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
      const slices = await waitFor(`${c.namespace}: mirrored EndpointSlice`, async () => {
        const list = await discovery.listNamespacedEndpointSlice({ namespace: c.namespace, labelSelector: `kubernetes.io/service-name=${REV}` });
        const ips = list.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)).sort();
        return JSON.stringify(ips) === JSON.stringify(activators) && list.items;
      }, { timeoutMs: 30_000 });
      if (c.runtimeCreatesEndpoints) for (const s of slices) expect(engineMarks(s as KubernetesObject)).toEqual([]);

      const t0 = Date.now();
      const res = await w.router.request(REV, '/', { timeoutMs: 60_000 });
      expect(res.status, `${res.body}\n${timelines(c)}`).toBe(200);
      expect(res.body).toBe('Hello World!\n');
      // Scaled up from zero (to 1, or more when the other engines' cold starts share the activators' poke window).
      expect(w.replicas.firstAfter(t0, (v) => v !== undefined && v >= 1), timelines(c)).toBeDefined();
    });
  });

  it('scales to maxScale (3 pods) under bounded load, every request answered 200', async () => {
    const sc = cluster();
    await forEachEngine(async (c) => {
      const w = watchOf(c);
      let maxReady = 0;
      let sawMoreAt = 0;
      const poll = setInterval(() => void listPods(sc.core, c.namespace, `${Labels.REVISION}=${REV}`).then((pods) => {
        const n = pods.filter(isReady).length;
        maxReady = Math.max(maxReady, n);
        if (n >= MAX_SCALE && !sawMoreAt) sawMoreAt = Date.now();
      }), 500);
      try {
        const report = await runLoad({
          concurrency: 4,
          maxRequests: 1500,
          maxDurationMs: 60_000,
          until: () => sawMoreAt > 0 && Date.now() - sawMoreAt > 3000,
          send: () => w.router.request(REV, '/sleep?ms=200', { timeoutMs: 30_000 }),
        });
        console.log(`${c.engine.describe}: ${describeLoad(report)}; max ready pods ${maxReady}`);
        expect(report.byStatus, `${c.engine.describe}: ${describeLoad(report)}`).toEqual({ 200: report.total });
        expect(maxReady, timelines(c)).toBe(MAX_SCALE);
      } finally {
        clearInterval(poll);
      }
    });
  });

  it('back to zero: the Endpoints return to the activators before the Deployment reaches zero', async () => {
    const sc = cluster();
    const activators = await activatorIPs(sc);
    const t0 = Date.now();
    await forEachEngine(async (c) => {
      const w = watchOf(c);
      const zero = await waitWithTimelines(c, 'Deployment scaled to zero', () => w.replicas.firstAfter(t0, (v) => v === 0), 120_000);
      const before = w.endpoints.changes.filter((ch) => ch.at <= zero.at).at(-1);
      expect(before?.value, timelines(c)).toEqual(activators);
      await waitFor(`${c.namespace}: revision pods gone`, async () => (await listPods(sc.core, c.namespace, `${Labels.REVISION}=${REV}`)).length === 0, { timeoutMs: 30_000 });
    });
  });

  it('a re-sync (the same objects, applied the same way) changes nothing: no resourceVersion or generation moves, replicas stay 0, the Endpoints keep the activators', async () => {
    const sc = cluster();
    const { system, byNamespace } = partition(sc.objects);
    const before = await Promise.all(CASES.map((c) => snapshot(sc, c)));
    const systemBefore = (await liveObjects(sc.controlPlane.kubeConfig, SYSTEM_NAMESPACE)).filter((o) => o.kind !== 'Lease').map((o) => `${objectKey(o)} ${o.metadata?.resourceVersion}`).sort();
    const t0 = Date.now();
    await SYSTEM.sync(sc.controlPlane, system);
    for (const c of CASES) {
      const objects = [...byNamespace.get(c.namespace)!, staleConfigMap(c.namespace)];
      await c.engine.sync(sc.controlPlane, objects);
      // Without force as well: nothing the engine applies is owned by anyone else.
      if (c.engine.describe.includes('server-side')) await c.engine.sync(sc.controlPlane, objects, { force: false });
    }
    // Time for the autoscaler (2 s ticks) and the controllers to react to anything that moved.
    await new Promise((r) => setTimeout(r, 6000));
    const after = await Promise.all(CASES.map((c) => snapshot(sc, c)));
    CASES.forEach((c, i) => {
      expect(after[i], c.engine.describe).toEqual(before[i]);
      expect(after[i].replicas).toBe('0');
      expect(watchOf(c).endpoints.changes.filter((ch) => ch.at >= t0), timelines(c)).toEqual([]);
      expect(watchOf(c).replicas.changes.filter((ch) => ch.at >= t0), timelines(c)).toEqual([]);
    });
    const systemAfter = (await liveObjects(sc.controlPlane.kubeConfig, SYSTEM_NAMESPACE)).filter((o) => o.kind !== 'Lease').map((o) => `${objectKey(o)} ${o.metadata?.resourceVersion}`).sort();
    expect(systemAfter).toEqual(systemBefore);
  });

  it('prune selects only what the engine applied and Git dropped: never the Endpoints or the Lease the runtime created, which survive', async () => {
    const sc = cluster();
    const kc = sc.controlPlane.kubeConfig;
    const { byNamespace } = partition(sc.objects);
    for (const c of CASES) {
      const selected = await pruneSelection(kc, c.engine, c.namespace, byNamespace.get(c.namespace)!);
      expect(selected.map(objectKey), c.engine.describe).toEqual([objectKey(staleConfigMap(c.namespace))]);
      if (c.engine.inventory) {
        // Kubernetes' endpoints controller copies a Service's labels onto the Endpoints it fills,
        // Flux's owner labels included: the private Endpoints look like Flux's, and Flux's prune
        // still never selects them, as they are not in its inventory.
        const priv = (await liveObjects(kc, c.namespace)).find((o) => o.kind === 'Endpoints' && o.metadata?.name === Names.privateService(REV));
        expect(c.engine.tracks(priv!), 'private Endpoints carry the copied owner labels').toBe(true);
        expect(c.engine.inventory.has(objectKey(priv!))).toBe(false);
      }
      const subsets = (await readEndpoints(sc, c)).subsets;
      await deleteObjects(kc, selected);
      const ep = await readEndpoints(sc, c);
      expect(ep.subsets, c.engine.describe).toEqual(subsets);
      if (c.runtimeCreatesEndpoints) expect(engineMarks(ep as KubernetesObject)).toEqual([]);
    }
    // The runtime's Lease in knative-serving: no mark, so the system Application's prune leaves it.
    const lease = (await liveObjects(kc, SYSTEM_NAMESPACE)).find((o) => o.kind === 'Lease' && o.metadata?.name === AUTOSCALER_LEASE);
    expect(lease, 'the autoscaler elected a leader').toBeDefined();
    expect(engineMarks(lease!)).toEqual([]);
    const systemObjects = partition(sc.objects).system.filter((o) => o.metadata?.namespace === SYSTEM_NAMESPACE);
    expect((await pruneSelection(kc, SYSTEM, SYSTEM_NAMESPACE, systemObjects)).map(objectKey)).toEqual([]);
  });

  it('a revision removed from Git: Argo CD prunes what it applied; the garbage collector removes the Endpoints the runtime created, with their Deployment', async () => {
    const sc = cluster();
    const kc = sc.controlPlane.kubeConfig;
    const c = CASES.find((x) => x.namespace === 'argo-ssa')!;
    const uid = (await readEndpoints(sc, c)).metadata?.uid;
    const selected = await pruneSelection(kc, c.engine, c.namespace, []);
    const kinds = selected.map((o) => o.kind);
    expect(kinds).toContain('Deployment');
    expect(kinds).not.toContain('Endpoints');
    await deleteObjects(kc, selected);
    await waitFor('the runtime-created Endpoints deleted by the garbage collector', async () => {
      try {
        const ep = await readEndpoints(sc, c);
        return ep.metadata?.uid !== uid && ep.metadata?.uid === undefined;
      } catch (err) {
        return (err as { code?: number }).code === 404;
      }
    }, { timeoutMs: 60_000 });
    const deployment = (await liveObjects(kc, c.namespace)).filter((o: KubernetesObject) => o.kind === 'Deployment') as V1Deployment[];
    expect(deployment).toEqual([]);
  });
});
