import { AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/**
 * Sets a Deployment's replicas through its scale subresource with a JSON patch
 * `add /spec/replicas`, as Knative's KPA does (reference 8). RBAC grants `patch` on
 * `deployments/scale` for the named Deployments only.
 */
export async function patchReplicas(apps: AppsV1Api, namespace: string, deployment: string, replicas: number): Promise<void> {
  await apps.patchNamespacedDeploymentScale(
    { name: deployment, namespace, body: [{ op: 'add', path: '/spec/replicas', value: replicas }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
}
