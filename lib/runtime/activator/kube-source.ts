import type { V1Deployment, V1Endpoints } from '@kubernetes/client-node';
import { runtimeOwnsEndpoints, type DataPlaneMode } from '../../contract/data-plane';
import { AUTOSCALER, Labels, Ports } from '../../contract/constants';
import { Names } from '../../contract/naming';
import { type KubeClients, loadKubeClients } from '../kube/client';
import { ResilientInformer, revisionInformers } from '../kube/informer';
import { endpointsIps, readRevisionDeployment } from '../kube/revision-deployment';
import type { Logger } from '../shared/logger';
import type { ActivatorConfig } from './config';
import type { AutoscalerPoker } from './poker';
import type { RevisionRegistry } from './registry';
import { revisionKey } from './revision';

/**
 * Feeds the registry from the cluster: revisions from their Deployments (label
 * `serving.knative.dev/revision`, one informer across all namespaces, or one per namespace in
 * KSERVICE_NAMESPACES when it is set; kube/informer.ts revisionInformers), pods from
 * each revision's private Endpoints, the activators each revision is spread over from its public
 * Endpoints (knative/serving pkg/activator/net/throttler.go `publicEndpointsUpdated`), and the
 * autoscaler's pod addresses (for `/poke`) from the
 * `autoscaler` Endpoints in SYSTEM_NAMESPACE. Returns a function that stops the informers.
 */
export async function startKubeRevisionSource(
  config: ActivatorConfig,
  registry: RevisionRegistry,
  poker: AutoscalerPoker,
  logger: Logger,
): Promise<() => Promise<void>> {
  const kube = loadKubeClients();
  const { deployments, endpoints } = revisionInformers(kube, config.namespaces, logger);
  const privateNames = new Map<string, string>(); // `ns/private Endpoints name` → revision
  const publicNames = new Map<string, string>(); // `ns/public Endpoints name` → revision
  // A pod the private Endpoints stop listing (terminating: Kubernetes drops it) leaves the
  // throttler here, so no new request goes to it; those in flight finish.
  const applyEndpoints = (ep: V1Endpoints | undefined, namespace: string, revision: string, podPort: number) => {
    const { ready, notReady } = endpointsIps(ep);
    const toAddress = (host: string) => ({ host, port: podPort });
    registry.setPods(namespace, revision, { ready: ready.map(toAddress), notReady: notReady.map(toAddress) });
  };
  const onDeployment = (d: V1Deployment) => {
    try {
      const r = readRevisionDeployment(d);
      const namespace = r.namespace;
      if (!activatorServes(r.dataPlane)) return forget(namespace, r.revision);
      registry.upsert({
        namespace,
        revision: r.revision,
        containerConcurrency: r.containerConcurrency,
        timeoutSeconds: r.timeoutSeconds,
        podPort: r.podPort,
        activatorAlwaysInPath: r.activatorAlwaysInPath,
      });
      const privateName = Names.privateService(r.revision);
      privateNames.set(objectKey(namespace, privateName), r.revision);
      applyEndpoints(endpoints.get(privateName, namespace), namespace, r.revision, r.podPort);
      const publicName = Names.publicService(r.revision);
      publicNames.set(objectKey(namespace, publicName), r.revision);
      const pub = endpoints.get(publicName, namespace);
      if (pub) registry.setActivators(namespace, r.revision, endpointsIps(pub).ready);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'ignoring Deployment');
    }
  };
  deployments.on('add', onDeployment);
  deployments.on('update', onDeployment);
  const forget = (namespace: string, revision: string) => {
    registry.remove(namespace, revision);
    privateNames.delete(objectKey(namespace, Names.privateService(revision)));
    publicNames.delete(objectKey(namespace, Names.publicService(revision)));
  };
  deployments.on('delete', (d) => {
    const revision = d.metadata?.labels?.[Labels.REVISION];
    if (revision) forget(d.metadata?.namespace ?? '', revision);
  });
  const onEndpoints = (ep: V1Endpoints) => {
    const namespace = ep.metadata?.namespace ?? '';
    const key = objectKey(namespace, ep.metadata?.name ?? '');
    const publicOf = publicNames.get(key);
    if (publicOf) return registry.setActivators(namespace, publicOf, endpointsIps(ep).ready);
    const revision = privateNames.get(key);
    const backend = revision && registry.get(namespace, revision);
    if (backend) applyEndpoints(ep, namespace, revision, backend.info.podPort);
  };
  endpoints.on('add', onEndpoints);
  endpoints.on('update', onEndpoints);
  endpoints.on('delete', (ep) => onEndpoints({ ...ep, subsets: [] }));
  // Read by name (field selector): RBAC in the system namespace is limited to this object.
  const system = systemEndpointsInformer(kube, config.systemNamespace, logger, `metadata.name=${AUTOSCALER}`);
  const onAutoscaler = (ep: V1Endpoints) => {
    if (ep.metadata?.name !== AUTOSCALER) return;
    const addresses = endpointsIps(ep).ready.map((ip) => `${ip}:${Ports.AUTOSCALER_HTTP}`);
    poker.setAddresses(addresses);
    logger.info({ addresses }, 'autoscaler addresses');
  };
  system.on('add', onAutoscaler);
  system.on('update', onAutoscaler);
  system.on('delete', (ep) => onAutoscaler({ ...ep, subsets: [] }));

  // Endpoints first, so a Deployment's add finds its pods in the cache.
  await Promise.all([endpoints.start(), system.start()]);
  await deployments.start();
  logger.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all', revisions: [...registry.all()].map((b) => revisionKey(b.info.namespace, b.info.revision)) }, 'informers synced');
  return async () => {
    await Promise.all([endpoints.stop(), system.stop(), deployments.stop()]);
  };
}

function systemEndpointsInformer(kube: KubeClients, namespace: string, logger: Logger, fieldSelector: string): ResilientInformer<V1Endpoints> {
  return new ResilientInformer<V1Endpoints>({
    kubeConfig: kube.config,
    path: `/api/v1/namespaces/${namespace}/endpoints`,
    list: () => kube.core.listNamespacedEndpoints({ namespace, fieldSelector }),
    fieldSelector,
    logger,
  });
}

/** `namespace/name` of an object, for the name → revision maps. */
function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The activator is in the path of `full` (at low scale) and `activator` revisions; never of `direct` or `static` ones. */
function activatorServes(mode: DataPlaneMode): boolean {
  return runtimeOwnsEndpoints(mode);
}
