import type { V1ConfigMap, V1Deployment, V1EndpointSubset, V1Endpoints } from '@kubernetes/client-node';
import { serverlessServiceMetadata } from '../../contract/autoscaling';
import { ACTIVATOR_SERVICE, CONFIG_AUTOSCALER, Labels } from '../../contract/constants';
import { Names } from '../../contract/naming';
import { type NewEndpointsMetadata, writeEndpointsSubsets } from '../kube/endpoints-writer';
import { FieldManagers, KubeClients } from '../kube/client';
import { ResilientInformer, revisionInformers, type SelectedInformer } from '../kube/informer';
import { endpointsIps } from '../kube/revision-deployment';
import { patchReplicas } from '../kube/scale';
import type { Logger } from '../shared/logger';
import type { ClusterView, ClusterWriter } from './controller';

export interface ClusterEvents {
  onDeployment(d: V1Deployment): void;
  onDeploymentDeleted(d: V1Deployment): void;
  /** A revision's public or private Endpoints changed (private ones matter). */
  onEndpoints(ep: V1Endpoints): void;
  onActivators(): void;
  onConfigAutoscaler(data: Record<string, string>): void;
}

/**
 * The cluster as the autoscaler sees it (informers: the revisions' Deployments and Endpoints,
 * label-selected, in all namespaces or the ones given; Endpoints and ConfigMaps in the system
 * namespace, by name) and writes it (scale subresource,
 * public Endpoints, which it creates when missing). Followers run the same informers, so a
 * takeover starts warm.
 */
export class KubeCluster implements ClusterView, ClusterWriter {
  private readonly deployments: SelectedInformer<V1Deployment>;
  private readonly endpoints: SelectedInformer<V1Endpoints>;
  private readonly system: ResilientInformer<V1Endpoints>;
  private readonly configMaps: ResilientInformer<V1ConfigMap>;

  constructor(
    private readonly kube: KubeClients,
    /** Empty: all namespaces (one watch per resource). */
    namespaces: readonly string[],
    private readonly systemNamespace: string,
    logger: Logger,
  ) {
    const common = { kubeConfig: kube.config, logger };
    ({ deployments: this.deployments, endpoints: this.endpoints } = revisionInformers(kube, namespaces, logger));
    // System objects are read by name (field selector): RBAC there is limited to those names.
    this.system = this.endpointsInformer(systemNamespace, logger, `metadata.name=${ACTIVATOR_SERVICE}`);
    const configSelector = `metadata.name=${CONFIG_AUTOSCALER}`;
    this.configMaps = new ResilientInformer<V1ConfigMap>({
      ...common,
      path: `/api/v1/namespaces/${systemNamespace}/configmaps`,
      list: () => kube.core.listNamespacedConfigMap({ namespace: systemNamespace, fieldSelector: configSelector }),
      fieldSelector: configSelector,
    });
  }

  /** Wires the handlers and waits for every informer's first list. */
  async start(events: ClusterEvents): Promise<void> {
    this.endpoints.on('add', (ep) => events.onEndpoints(ep));
    this.endpoints.on('update', (ep) => events.onEndpoints(ep));
    this.endpoints.on('delete', (ep) => events.onEndpoints({ ...ep, subsets: [] }));
    const onSystem = (ep: V1Endpoints) => {
      if (ep.metadata?.name === ACTIVATOR_SERVICE) events.onActivators();
    };
    this.system.on('add', onSystem);
    this.system.on('update', onSystem);
    this.system.on('delete', onSystem);
    const onConfig = (cm: V1ConfigMap, deleted = false) => {
      if (cm.metadata?.name === CONFIG_AUTOSCALER) events.onConfigAutoscaler(deleted ? {} : (cm.data ?? {}));
    };
    this.configMaps.on('add', (cm) => onConfig(cm));
    this.configMaps.on('update', (cm) => onConfig(cm));
    this.configMaps.on('delete', (cm) => onConfig(cm, true));
    this.deployments.on('add', (d) => events.onDeployment(d));
    this.deployments.on('update', (d) => events.onDeployment(d));
    this.deployments.on('delete', (d) => events.onDeploymentDeleted(d));
    // Endpoints and config first, so revisions arrive with their pods and settings known.
    await Promise.all([this.system.start(), this.configMaps.start(), this.endpoints.start()]);
    await this.deployments.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.system, this.configMaps, this.endpoints, this.deployments].map((i) => i.stop()));
  }

  readyPodIps(namespace: string, revision: string): readonly string[] {
    const name = Names.privateService(revision);
    return endpointsIps(this.endpoints.get(name, namespace)).ready;
  }

  activatorIps(): readonly string[] {
    return endpointsIps(this.system.get(ACTIVATOR_SERVICE, this.systemNamespace)).ready;
  }

  publicSubsets(namespace: string, name: string): readonly V1EndpointSubset[] | undefined {
    const ep = this.endpoints.get(name, namespace);
    return ep ? (ep.subsets ?? []) : undefined;
  }

  async setReplicas(namespace: string, deployment: string, replicas: number): Promise<void> {
    await patchReplicas(this.kube.apps, namespace, deployment, replicas, FieldManagers.AUTOSCALER);
  }

  /**
   * Writes the subsets; creates the object when it is missing (a GitOps engine left it out: Argo
   * CD 3.x excludes Endpoints by default), with the labels and annotations the compiled object
   * has, computed by the compiler's own rule from the revision's live pod template.
   */
  async writePublicSubsets(namespace: string, name: string, subsets: V1EndpointSubset[]): Promise<void> {
    const createWith = this.publicEndpointsMetadata(namespace, name);
    // From the informer cache: one request per write, no GET before it (a 409 is retried by the
    // write queue once the cache caught up).
    const fromCache = { object: this.endpoints.get(name, namespace) };
    await writeEndpointsSubsets(this.kube.core, namespace, name, subsets, FieldManagers.AUTOSCALER, { createWith, fromCache });
  }

  /**
   * The compiled public Endpoints' labels and annotations, from the Deployment of the revision it
   * belongs to, which also becomes its owner.
   */
  private publicEndpointsMetadata(namespace: string, name: string): NewEndpointsMetadata | undefined {
    const deployment = this.deployments.list(namespace).find((d) => {
      const revision = d.metadata?.labels?.[Labels.REVISION];
      return revision !== undefined && Names.publicService(revision) === name;
    });
    const revision = deployment?.metadata?.labels?.[Labels.REVISION];
    if (revision === undefined) return undefined;
    const { name: owner, uid } = deployment?.metadata ?? {};
    return {
      ...serverlessServiceMetadata(revision, 'Public', deployment?.spec?.template?.metadata ?? {}),
      ...(owner && uid ? { owner: { name: owner, uid } } : {}),
    };
  }

  private endpointsInformer(namespace: string, logger: Logger, fieldSelector: string): ResilientInformer<V1Endpoints> {
    return new ResilientInformer<V1Endpoints>({
      kubeConfig: this.kube.config,
      logger,
      path: `/api/v1/namespaces/${namespace}/endpoints`,
      list: () => this.kube.core.listNamespacedEndpoints({ namespace, fieldSelector }),
      fieldSelector,
    });
  }
}
