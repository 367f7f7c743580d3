// Argo CD 3.x and Flux's kustomize-controller with their documented defaults, reduced to what
// they do to the API server: which objects they apply, how (client-side or server-side apply,
// field manager, force), the tracking marks they add, and which live objects their prune selects.
// Sources are cited per rule; nothing here runs the engines themselves.
import { KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { ControlPlane } from '../../harness';
import { clientSideApply } from './client-side-apply';

/**
 * Argo CD's default `resource.exclusions` since 3.0 (argo-cd manifests/base/config/argocd-cm.yaml;
 * docs/operator-manual/upgrading/2.14-3.0.md "Default resource.exclusions configurations"):
 * excluded kinds are neither discovered nor synced nor pruned.
 */
export const ARGO_CD_DEFAULT_EXCLUSIONS: ReadonlyArray<{ apiGroups: readonly string[]; kinds: readonly string[] }> = [
  { apiGroups: ['', 'discovery.k8s.io'], kinds: ['Endpoints', 'EndpointSlice'] },
  { apiGroups: ['apiregistration.k8s.io'], kinds: ['APIService'] },
  { apiGroups: ['coordination.k8s.io'], kinds: ['Lease'] },
  {
    apiGroups: ['authentication.k8s.io', 'authorization.k8s.io'],
    kinds: ['SelfSubjectReview', 'TokenReview', 'LocalSubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SubjectAccessReview'],
  },
  { apiGroups: ['certificates.k8s.io'], kinds: ['CertificateSigningRequest'] },
  { apiGroups: ['cert-manager.io'], kinds: ['CertificateRequest'] },
  { apiGroups: ['cilium.io'], kinds: ['CiliumIdentity', 'CiliumEndpoint', 'CiliumEndpointSlice'] },
  {
    apiGroups: ['kyverno.io', 'reports.kyverno.io', 'wgpolicyk8s.io'],
    kinds: ['PolicyReport', 'ClusterPolicyReport', 'EphemeralReport', 'ClusterEphemeralReport', 'AdmissionReport', 'ClusterAdmissionReport', 'BackgroundScanReport', 'ClusterBackgroundScanReport', 'UpdateRequest'],
  },
];

/** Argo CD's field manager (argo-cd common.ArgoCDSSAManager), passed to kubectl's apply in both modes (gitops-engine sync_context.go). */
export const ARGO_CD_MANAGER = 'argocd-controller';
/** Argo CD 3.x tracks by this annotation by default (docs/user-guide/resource_tracking.md; upgrading/2.14-3.0.md). */
export const ARGO_CD_TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id';
/** kustomize-controller's field manager (its --controller-name default). */
export const FLUX_MANAGER = 'kustomize-controller';
/** Flux's owner labels (fluxcd/pkg ssa ResourceManager.SetOwnerLabels with group kustomize.toolkit.fluxcd.io). */
export const FLUX_NAME_LABEL = 'kustomize.toolkit.fluxcd.io/name';
export const FLUX_NAMESPACE_LABEL = 'kustomize.toolkit.fluxcd.io/namespace';

export function groupOf(obj: KubernetesObject): string {
  const apiVersion = obj.apiVersion ?? '';
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

export function excludedByArgoCd(obj: KubernetesObject): boolean {
  return ARGO_CD_DEFAULT_EXCLUSIONS.some((e) => e.apiGroups.includes(groupOf(obj)) && e.kinds.includes(obj.kind ?? ''));
}

/** `group/Kind namespace/name`: an object's identity across engines. */
export function objectKey(obj: KubernetesObject): string {
  return `${groupOf(obj)}/${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
}

function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The marks an engine puts on every object it applies, and which live objects its prune may delete. */
export interface Engine {
  /** Argo CD Application name or Flux Kustomization name. */
  readonly name: string;
  readonly describe: string;
  /** What the engine sends, from the manifests in Git (excluded kinds dropped, marks added). */
  rendered(objects: readonly KubernetesObject[]): KubernetesObject[];
  /** One sync: applies `rendered(objects)`. */
  sync(cp: ControlPlane, objects: readonly KubernetesObject[], opts?: { force?: boolean }): Promise<void>;
  /** Whether a live object carries this engine's mark for this app (the precondition of its prune). */
  tracks(live: KubernetesObject): boolean;
  /**
   * Flux only: the objects its syncs applied (the Kustomization's status.inventory), the only
   * candidates of its prune. Argo CD has none: it prunes every live object tracked as its own.
   */
  readonly inventory?: Set<string>;
}

type ArgoMode = 'client-side' | 'server-side';

/**
 * An Argo CD Application with 3.x defaults: excluded kinds dropped, the tracking annotation
 * `<app>:<group>/<kind>:<namespace>/<name>` added (cluster-scoped objects take the destination
 * namespace), then kubectl's client-side apply, or with the ServerSideApply=true sync option a
 * server-side apply with --force-conflicts (gitops-engine pkg/utils/kube/resource_ops.go sets
 * ForceConflicts for server-side apply), both as `argocd-controller`.
 */
export function argoCd(name: string, mode: ArgoMode, destinationNamespace: string): Engine {
  return {
    name,
    describe: `Argo CD Application ${name} (${mode} apply)`,
    rendered: (objects) =>
      objects.filter((o) => !excludedByArgoCd(o)).map((o) => {
        const out = copy(o);
        const ns = out.metadata?.namespace ?? destinationNamespace;
        out.metadata = { ...out.metadata, annotations: { ...out.metadata?.annotations, [ARGO_CD_TRACKING_ANNOTATION]: `${name}:${groupOf(o)}/${o.kind}:${ns}/${o.metadata?.name}` } };
        return out;
      }),
    async sync(cp, objects, opts = {}) {
      const rendered = this.rendered(objects);
      if (mode === 'client-side') await clientSideApply(cp, rendered, ARGO_CD_MANAGER);
      else await cp.applyObjects(rendered, ARGO_CD_MANAGER, { force: opts.force ?? true });
    },
    tracks: (live) => (live.metadata?.annotations?.[ARGO_CD_TRACKING_ANNOTATION] ?? '').startsWith(`${name}:`),
  };
}

/**
 * A Flux Kustomization with its defaults: nothing excluded, owner labels added
 * (fluxcd/pkg ssa SetOwnerLabels), server-side apply as `kustomize-controller` with ForceOwnership
 * on every apply (fluxcd/pkg ssa manager_apply.go `apply`); the Kustomization's `force: false`
 * default only means objects are not recreated on immutable-field errors. Flux applies only the
 * objects whose server-side dry run differs from the live object; an apply of an unchanged
 * object is a no-op on the API server too, so applying all of them is the stricter test.
 */
export function flux(name: string, namespace: string): Engine {
  const inventory = new Set<string>();
  return {
    inventory,
    name,
    describe: `Flux Kustomization ${namespace}/${name} (server-side apply)`,
    rendered: (objects) =>
      objects.map((o) => {
        const out = copy(o);
        out.metadata = { ...out.metadata, labels: { ...out.metadata?.labels, [FLUX_NAME_LABEL]: name, [FLUX_NAMESPACE_LABEL]: namespace } };
        return out;
      }),
    async sync(cp, objects, opts = {}) {
      const rendered = this.rendered(objects);
      await cp.applyObjects(rendered, FLUX_MANAGER, { force: opts.force ?? true });
      for (const o of rendered) inventory.add(objectKey(o));
    },
    tracks: (live) => live.metadata?.labels?.[FLUX_NAME_LABEL] === name && live.metadata?.labels?.[FLUX_NAMESPACE_LABEL] === namespace,
  };
}

/** The kinds a prune looks at: those of the graph, plus Endpoints and Leases, which the runtime creates. */
const PRUNE_KINDS: ReadonlyArray<{ apiVersion: string; kind: string }> = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Endpoints' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
  // The default route output (the scenarios install Istio's CRDs, not the Gateway API's).
  { apiVersion: 'networking.istio.io/v1beta1', kind: 'VirtualService' },
  { apiVersion: 'networking.istio.io/v1beta1', kind: 'Gateway' },
];

export async function liveObjects(kc: KubeConfig, namespace: string): Promise<KubernetesObject[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const lists = await Promise.all(PRUNE_KINDS.map((k) => api.list(k.apiVersion, k.kind, namespace)));
  return lists.flatMap((l, i) => l.items.map((o) => ({ ...o, apiVersion: PRUNE_KINDS[i].apiVersion, kind: PRUNE_KINDS[i].kind })));
}

/**
 * What a prune of `namespace` would delete: live objects that are not among `desired` and that
 * the engine tracks. Argo CD: every live object with its tracking annotation (gitops-engine
 * compares the live objects it attributes to the app with the target objects). Flux: the entries
 * of its inventory, and of those only the live objects that still carry its owner labels
 * (kustomize-controller deleteObjects: DeleteOptions.Inclusions). Every live kind is looked at,
 * even the ones Argo CD excludes and so never sees, so that the selection shows why an object
 * survives: it carries no mark, or it was never applied by the engine.
 */
export async function pruneSelection(kc: KubeConfig, engine: Engine, namespace: string, desired: readonly KubernetesObject[]): Promise<KubernetesObject[]> {
  const wanted = new Set(engine.rendered(desired).map(objectKey));
  return (await liveObjects(kc, namespace)).filter((o) => {
    const key = objectKey(o);
    return engine.tracks(o) && !wanted.has(key) && (engine.inventory === undefined || engine.inventory.has(key));
  });
}

export async function deleteObjects(kc: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const o of objects) {
    await api.delete({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata!.name!, namespace: o.metadata?.namespace } }, undefined, undefined, undefined, undefined, 'Background');
  }
}
