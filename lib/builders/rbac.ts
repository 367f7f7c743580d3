/**
 * RBAC for the runtime, computed from the graph. Writes are least-privilege: namespaced Roles,
 * limited to the exact objects the app's revisions have (scale of their Deployments, their public
 * Endpoints). Reads are cluster-wide: one ClusterRole lets both components get/list/watch
 * Deployments and Endpoints in every namespace.
 *
 * Why reads are cluster-wide (issue 18): the runtime watches the revisions' objects with one
 * label-selected watch per resource across all namespaces (runtime/kube/informer.ts), as Knative
 * does (knative.dev/pkg injection informers; Knative's controllers hold cluster-wide roles, with
 * writes too). Namespaced reads would need one watch per namespace and resource in every runtime
 * process (1,000 namespaces x 12 processes: about 24,000 API-server connections) and a runtime
 * restart for every new namespace. The price: the runtime's ServiceAccounts can read every
 * Deployment (pod templates, so plain env values, never Secrets) and Endpoints (pod IPs) in the
 * cluster, not only the app's; what they can change is unchanged. An install that cannot grant
 * that sets KSERVICE_NAMESPACES on the runtime (one watch per namespace) and grants reads by Roles.
 *
 * Writes (`update`/`patch`) are name-limited, and so is the one `create` in a revision namespace
 * (public Endpoints, below).
 */
import { runtimeOwnsEndpoints, scaleOwner, type DataPlaneMode } from '../contract/data-plane';
import { ACTIVATOR, ACTIVATOR_SERVICE, AUTOSCALER, AUTOSCALER_BUCKETS, AUTOSCALER_LEASE, CONFIG_AUTOSCALER, SYSTEM_NAMESPACE } from '../contract/constants';
import { autoscalerBucketLeases, Names } from '../contract/naming';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { sortedUnique } from '../model/json';

/** The Kubernetes Lease the autoscaler replicas elect a leader with (declared in ../constants). */
export { AUTOSCALER_LEASE };

/** What RBAC needs to know about one revision. */
export interface RbacRevision {
  readonly name: string;
  readonly namespace: string;
  /** Canonical `autoscaling.knative.dev/class`: with the data plane, decides who scales it. */
  readonly autoscalingClass: string;
  /** With the class, decides who scales it; `full` and `activator`: the runtime writes its public Endpoints. */
  readonly dataPlane: DataPlaneMode;
}

/** Our autoscaler scales it: the one rule in ../contract/data-plane.ts `scaleOwner`. */
function scaledByAutoscaler(r: RbacRevision): boolean {
  return scaleOwner(r.autoscalingClass, r.dataPlane) === 'autoscaler';
}

export interface PolicyRule {
  readonly apiGroups: string[];
  readonly resources: string[];
  readonly verbs: string[];
  readonly resourceNames?: string[];
}

const READ = ['get', 'list', 'watch'];
const RBAC_API = 'rbac.authorization.k8s.io/v1';

function rule(apiGroup: string, resource: string, verbs: string[], resourceNames?: string[]): PolicyRule {
  return { apiGroups: [apiGroup], resources: [resource], verbs, ...(resourceNames ? { resourceNames } : {}) };
}

/** Both components, every namespace: read Deployments and Endpoints (the informers select by label). */
export function runtimeReadRules(): PolicyRule[] {
  return [rule('apps', 'deployments', READ), rule('', 'endpoints', READ)];
}

/**
 * The autoscaler in one namespace (reads come from runtimeReadRules): scale exactly the Deployments
 * it owns the scale of (KPA class on the runtime data plane; not HPA, not third-party classes),
 * write exactly the runtime-managed public Endpoints, and create those same Endpoints when a
 * GitOps engine left them out (Argo CD 3.x excludes Endpoints by default). A name-limited rule
 * with no names would grant everything, so such rules are left out.
 *
 * `create` is name-limited too, which a POST create could not satisfy (it has no name when it is
 * authorized), but the runtime creates by server-side apply: a PATCH to the object's own path,
 * which kube-apiserver authorizes as `patch` and, when it creates, as `create`, both with the
 * object's name (k8s.io/apiserver pkg/endpoints/handlers/patch.go createAuthorizerAttributes).
 * So the autoscaler can create no other Endpoints, in no other namespace, and nothing by POST
 * (test/cluster/endpoints-writer.test.ts checks both on a real API server).
 */
export function autoscalerNamespaceRules(revisions: readonly RbacRevision[]): PolicyRule[] {
  const deployments = sortedUnique(revisions.filter(scaledByAutoscaler).map((r) => Names.deployment(r.name)));
  const endpoints = sortedUnique(revisions.filter((r) => runtimeOwnsEndpoints(r.dataPlane)).map((r) => Names.publicService(r.name)));
  return [
    ...(deployments.length ? [rule('apps', 'deployments/scale', ['get', 'patch', 'update'], deployments)] : []),
    ...(endpoints.length ? [rule('', 'endpoints', ['create', 'get', 'update', 'patch'], endpoints)] : []),
  ];
}

/**
 * Both components read the system Endpoints and config-autoscaler in knative-serving. These are
 * single, known objects, so reads are name-limited; the runtime lists/watches them with a
 * `metadata.name=` field selector, which is what lets the API server honour resourceNames.
 */
function systemReadRules(): PolicyRule[] {
  return [
    rule('', 'endpoints', READ, [ACTIVATOR_SERVICE, AUTOSCALER]),
    rule('', 'configmaps', READ, [CONFIG_AUTOSCALER]),
  ];
}

/**
 * A POST `create` cannot be limited by name (the object has no name yet to check), and the leader
 * election creates its Leases (one per bucket of revisions) by POST; renewals can.
 */
export function autoscalerSystemRules(autoscalerBuckets = AUTOSCALER_BUCKETS): PolicyRule[] {
  return [
    rule('coordination.k8s.io', 'leases', ['create']),
    rule('coordination.k8s.io', 'leases', ['get', 'update'], autoscalerBucketLeases(autoscalerBuckets)),
    ...systemReadRules(),
  ];
}

export function activatorSystemRules(): PolicyRule[] {
  return systemReadRules();
}

export function buildRole(name: string, namespace: string, rules: PolicyRule[]): IRole {
  return { apiVersion: RBAC_API, kind: 'Role', metadata: { name, namespace }, rules };
}

export function buildClusterRole(name: string, rules: PolicyRule[]): IClusterRole {
  return { apiVersion: RBAC_API, kind: 'ClusterRole', metadata: { name }, rules };
}

/** Binds a ClusterRole to the components' ServiceAccounts in knative-serving. */
export function buildClusterRoleBinding(name: string, serviceAccounts: readonly string[]): IClusterRoleBinding {
  return {
    apiVersion: RBAC_API,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: serviceAccounts.map((sa) => ({ kind: 'ServiceAccount', name: sa, namespace: SYSTEM_NAMESPACE })),
  };
}

/** Binds a Role to the component's ServiceAccount in knative-serving. */
export function buildRoleBinding(name: string, namespace: string, serviceAccount: string): IRoleBinding {
  return {
    apiVersion: RBAC_API,
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: SYSTEM_NAMESPACE }],
  };
}

export const RoleNames = {
  /** The ClusterRole (and its binding) both components read with. */
  runtimeRead: 'kservice-runtime-read',
  autoscaler: 'kservice-autoscaler',
  autoscalerSystem: 'kservice-autoscaler-system',
  activatorSystem: 'kservice-activator-system',
} as const;

/**
 * The read ClusterRole and its binding; the autoscaler's write Role in each namespace where it
 * writes something (none where every revision is HPA, third-party or static); then
 * knative-serving.
 */
export type RbacObject = IClusterRole | IClusterRoleBinding | IRole | IRoleBinding;

export function buildRbac(revisions: readonly RbacRevision[], autoscalerBuckets = AUTOSCALER_BUCKETS): RbacObject[] {
  const objects: RbacObject[] = [buildClusterRole(RoleNames.runtimeRead, runtimeReadRules()), buildClusterRoleBinding(RoleNames.runtimeRead, [ACTIVATOR, AUTOSCALER])];
  for (const ns of sortedUnique(revisions.map((r) => r.namespace))) {
    const rules = autoscalerNamespaceRules(revisions.filter((r) => r.namespace === ns));
    if (rules.length > 0) objects.push(buildRole(RoleNames.autoscaler, ns, rules), buildRoleBinding(RoleNames.autoscaler, ns, AUTOSCALER));
  }
  objects.push(
    buildRole(RoleNames.autoscalerSystem, SYSTEM_NAMESPACE, autoscalerSystemRules(autoscalerBuckets)),
    buildRoleBinding(RoleNames.autoscalerSystem, SYSTEM_NAMESPACE, AUTOSCALER),
    buildRole(RoleNames.activatorSystem, SYSTEM_NAMESPACE, activatorSystemRules()),
    buildRoleBinding(RoleNames.activatorSystem, SYSTEM_NAMESPACE, ACTIVATOR),
  );
  return objects;
}
