import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/**
 * Sets a Deployment's replicas through its scale subresource with a JSON patch
 * `add /spec/replicas`, as Knative's KPA does (knative/serving pkg/reconciler/autoscaling/kpa/scaler.go). RBAC grants `patch` on
 * `deployments/scale` for the named Deployments only. `fieldManager` names the writer in
 * managedFields (see client.ts FieldManagers).
 */
export async function patchReplicas(
  apps: AppsV1Api,
  namespace: string,
  deployment: string,
  replicas: number,
  fieldManager: string,
): Promise<void> {
  await apps.patchNamespacedDeploymentScale(
    { name: deployment, namespace, fieldManager, body: [{ op: 'add', path: '/spec/replicas', value: replicas }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
}
