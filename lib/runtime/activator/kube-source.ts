import type { V1Deployment, V1Endpoints } from '@kubernetes/client-node';
import { DataPlaneModes, type DataPlaneMode } from '../../contract/autoscaling';
import { AUTOSCALER, Labels, Ports, SystemEnv } from '../../contract/constants';
import { Names } from '../../contract/naming';
import { loadKubeClients } from '../kube/client';
import { ResilientInformer } from '../kube/informer';
import { endpointsIps, readRevisionDeployment } from '../kube/revision-deployment';
import { ConfigError } from '../shared/env';
import type { Logger } from '../shared/logger';
import type { ActivatorConfig } from './config';
import type { AutoscalerPoker } from './poker';
import type { RevisionRegistry } from './registry';
import { revisionKey } from './revision';

/**
 * Feeds the registry from the cluster: revisions from their Deployments (label
 * `serving.knative.dev/revision`, one informer per namespace in KSERVICE_NAMESPACES), pods from
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
  if (config.namespaces.length === 0) {
    throw new ConfigError(SystemEnv.KSERVICE_NAMESPACES, 'is required (namespaces to serve), unless ACTIVATOR_STATIC_CONFIG is set');
  }
  const kube = loadKubeClients();
  const endpointsInformers: ResilientInformer<V1Endpoints>[] = [];
  const deploymentInformers: ResilientInformer<V1Deployment>[] = [];
  for (const namespace of config.namespaces) {
    const endpoints = endpointsInformer(kube.config, namespace, logger);
    const deployments = new ResilientInformer<V1Deployment>({
      kubeConfig: kube.config,
      path: `/apis/apps/v1/namespaces/${namespace}/deployments`,
      list: () => kube.apps.listNamespacedDeployment({ namespace, labelSelector: Labels.REVISION }),
      labelSelector: Labels.REVISION,
      logger,
    });
    const privateNames = new Map<string, string>(); // private Endpoints name → revision
    const publicNames = new Map<string, string>(); // public Endpoints name → revision
    // A pod the private Endpoints stop listing (terminating: Kubernetes drops it) leaves the
    // throttler here, so no new request goes to it; those in flight finish.
    const applyEndpoints = (ep: V1Endpoints | undefined, revision: string, podPort: number) => {
      const { ready, notReady } = endpointsIps(ep);
      const toAddress = (host: string) => ({ host, port: podPort });
      registry.setPods(namespace, revision, { ready: ready.map(toAddress), notReady: notReady.map(toAddress) });
    };
    const onDeployment = (d: V1Deployment) => {
      try {
        const r = readRevisionDeployment(d);
        if (!activatorServes(r.dataPlane)) return forget(r.revision);
        registry.upsert({
          namespace,
          revision: r.revision,
          containerConcurrency: r.containerConcurrency,
          timeoutSeconds: r.timeoutSeconds,
          podPort: r.podPort,
          sidecarless: r.sidecarless,
        });
        const privateName = Names.privateService(r.revision);
        privateNames.set(privateName, r.revision);
        applyEndpoints(endpoints.get(privateName, namespace), r.revision, r.podPort);
        const publicName = Names.publicService(r.revision);
        publicNames.set(publicName, r.revision);
        const pub = endpoints.get(publicName, namespace);
        if (pub) registry.setActivators(namespace, r.revision, endpointsIps(pub).ready);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'ignoring Deployment');
      }
    };
    deployments.on('add', onDeployment);
    deployments.on('update', onDeployment);
    const forget = (revision: string) => {
      registry.remove(namespace, revision);
      privateNames.delete(Names.privateService(revision));
      publicNames.delete(Names.publicService(revision));
    };
    deployments.on('delete', (d) => {
      const revision = d.metadata?.labels?.[Labels.REVISION];
      if (revision) forget(revision);
    });
    const onEndpoints = (ep: V1Endpoints) => {
      const name = ep.metadata?.name ?? '';
      const publicOf = publicNames.get(name);
      if (publicOf) return registry.setActivators(namespace, publicOf, endpointsIps(ep).ready);
      const revision = privateNames.get(name);
      const backend = revision && registry.get(namespace, revision);
      if (backend) applyEndpoints(ep, revision, backend.info.podPort);
    };
    endpoints.on('add', onEndpoints);
    endpoints.on('update', onEndpoints);
    endpoints.on('delete', (ep) => onEndpoints({ ...ep, subsets: [] }));
    endpointsInformers.push(endpoints);
    deploymentInformers.push(deployments);
  }
  // Read by name (field selector): RBAC in the system namespace is limited to this object.
  const system = endpointsInformer(kube.config, config.systemNamespace, logger, `metadata.name=${AUTOSCALER}`);
  const onAutoscaler = (ep: V1Endpoints) => {
    if (ep.metadata?.name !== AUTOSCALER) return;
    const addresses = endpointsIps(ep).ready.map((ip) => `${ip}:${Ports.AUTOSCALER_HTTP}`);
    poker.setAddresses(addresses);
    logger.info({ addresses }, 'autoscaler addresses');
  };
  system.on('add', onAutoscaler);
  system.on('update', onAutoscaler);
  system.on('delete', (ep) => onAutoscaler({ ...ep, subsets: [] }));
  endpointsInformers.push(system);

  // Endpoints first, so a Deployment's add finds its pods in the cache.
  await Promise.all(endpointsInformers.map((i) => i.start()));
  await Promise.all(deploymentInformers.map((i) => i.start()));
  logger.info({ namespaces: config.namespaces, revisions: [...registry.all()].map((b) => revisionKey(b.info.namespace, b.info.revision)) }, 'informers synced');
  return async () => {
    await Promise.all([...endpointsInformers, ...deploymentInformers].map((i) => i.stop()));
  };
}

function endpointsInformer(
  kubeConfig: ReturnType<typeof loadKubeClients>['config'],
  namespace: string,
  logger: Logger,
  fieldSelector?: string,
): ResilientInformer<V1Endpoints> {
  const core = loadKubeClients(kubeConfig).core;
  return new ResilientInformer<V1Endpoints>({
    kubeConfig,
    path: `/api/v1/namespaces/${namespace}/endpoints`,
    list: () => core.listNamespacedEndpoints({ namespace, fieldSelector }),
    fieldSelector,
    logger,
  });
}

/** The activator is in the path of `full` (at low scale) and `activator` revisions; never of `direct` or `static` ones. */
function activatorServes(mode: DataPlaneMode): boolean {
  return mode === DataPlaneModes.FULL || mode === DataPlaneModes.ACTIVATOR;
}
