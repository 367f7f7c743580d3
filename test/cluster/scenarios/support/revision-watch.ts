/**
 * What the scaling scenarios watch of one revision from the start: its public Endpoints (IPs) and
 * its Deployment's spec.replicas as timelines, and a router that sends requests where the public
 * Endpoints point (as kube-proxy would).
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment, type V1Endpoints } from '@kubernetes/client-node';
import { Names } from '../../../../lib/contract/naming';
import { PublicEndpointsRouter } from './router';
import { endpointIPs } from './serving';
import { Timeline } from './watch';

export interface RevisionWatch {
  readonly endpoints: Timeline<V1Endpoints, string[]>;
  readonly replicas: Timeline<V1Deployment, number | undefined>;
  readonly router: PublicEndpointsRouter;
}

export async function watchRevision(kc: KubeConfig, namespace: string, revision: string): Promise<RevisionWatch> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const endpoints = new Timeline(kc, `/api/v1/namespaces/${namespace}/endpoints`, () => core.listNamespacedEndpoints({ namespace }), revision, endpointIPs);
  const replicas = new Timeline(kc, `/apis/apps/v1/namespaces/${namespace}/deployments`, () => apps.listNamespacedDeployment({ namespace }), Names.deployment(revision), (d: V1Deployment | undefined) => d?.spec?.replicas);
  const router = new PublicEndpointsRouter(kc, namespace);
  await Promise.all([endpoints.start(), replicas.start(), router.start()]);
  return { endpoints, replicas, router };
}
