/**
 * Least-privilege RBAC for the runtime, computed from the graph: namespaced Roles only, nothing
 * cluster-wide. Knative's controllers hold cluster-wide roles because revisions appear at run time;
 * ours are known at synth time, so every write is limited to the exact objects that exist.
 *
 * `list` and `watch` are not limited by resourceNames: the runtime's informers list and watch the
 * whole namespace (a name-limited list only works with a matching field selector per object), so a
 * name restriction there would only break them. Writes (`update`/`patch`) are name-limited, and so
 * is the one `create` in a revision namespace (public Endpoints, below).
 */
import { scaleOwner, type DataPlaneMode } from '../contract/autoscaling';
import { ACTIVATOR, ACTIVATOR_SERVICE, AUTOSCALER, AUTOSCALER_LEASE, CONFIG_AUTOSCALER, SYSTEM_NAMESPACE } from '../contract/constants';
import { Names } from '../contract/naming';
import { runtimeOwnsEndpoints } from '../model/data-plane';
import { sortedUnique, type Json } from '../model/json';

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

/** Our autoscaler scales it: the one rule in ../autoscaling.ts `scaleOwner`. */
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

function rule(apiGroup: string, resource: string, verbs: string[], resourceNames?: string[]): PolicyRule {
  return { apiGroups: [apiGroup], resources: [resource], verbs, ...(resourceNames ? { resourceNames } : {}) };
}

/**
 * The autoscaler in one namespace: read Deployments and Endpoints, scale exactly the Deployments
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
    rule('apps', 'deployments', READ),
    rule('', 'endpoints', READ),
    ...(deployments.length ? [rule('apps', 'deployments/scale', ['get', 'patch', 'update'], deployments)] : []),
    ...(endpoints.length ? [rule('', 'endpoints', ['create', 'get', 'update', 'patch'], endpoints)] : []),
  ];
}

/** The activator in one namespace: read-only. */
export function activatorNamespaceRules(): PolicyRule[] {
  return [rule('apps', 'deployments', READ), rule('', 'endpoints', READ)];
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
 * election creates its Lease by POST; renewals can.
 */
export function autoscalerSystemRules(): PolicyRule[] {
  return [
    rule('coordination.k8s.io', 'leases', ['create']),
    rule('coordination.k8s.io', 'leases', ['get', 'update'], [AUTOSCALER_LEASE]),
    ...systemReadRules(),
  ];
}

export function activatorSystemRules(): PolicyRule[] {
  return systemReadRules();
}

export function buildRole(name: string, namespace: string, rules: PolicyRule[]): Json {
  return { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules };
}

/** Binds a Role to the component's ServiceAccount in knative-serving. */
export function buildRoleBinding(name: string, namespace: string, serviceAccount: string): Json {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name, namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: SYSTEM_NAMESPACE }],
  };
}

export const RoleNames = {
  autoscaler: 'kservice-autoscaler',
  activator: 'kservice-activator',
  autoscalerSystem: 'kservice-autoscaler-system',
  activatorSystem: 'kservice-activator-system',
} as const;

/**
 * Every Role and RoleBinding: per namespace that holds revisions (or is watched anyway), then
 * knative-serving.
 */
export function buildRbac(revisions: readonly RbacRevision[], extraNamespaces: readonly string[] = []): Json[] {
  const namespaces = sortedUnique([...revisions.map((r) => r.namespace), ...extraNamespaces]);
  const objects: Json[] = [];
  for (const ns of namespaces) {
    const inNs = revisions.filter((r) => r.namespace === ns);
    objects.push(
      buildRole(RoleNames.autoscaler, ns, autoscalerNamespaceRules(inNs)),
      buildRoleBinding(RoleNames.autoscaler, ns, AUTOSCALER),
      buildRole(RoleNames.activator, ns, activatorNamespaceRules()),
      buildRoleBinding(RoleNames.activator, ns, ACTIVATOR),
    );
  }
  objects.push(
    buildRole(RoleNames.autoscalerSystem, SYSTEM_NAMESPACE, autoscalerSystemRules()),
    buildRoleBinding(RoleNames.autoscalerSystem, SYSTEM_NAMESPACE, AUTOSCALER),
    buildRole(RoleNames.activatorSystem, SYSTEM_NAMESPACE, activatorSystemRules()),
    buildRoleBinding(RoleNames.activatorSystem, SYSTEM_NAMESPACE, ACTIVATOR),
  );
  return objects;
}
