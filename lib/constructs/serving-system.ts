import { Lazy, type ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { sortedUnique } from '../model/json';
import { buildRbac, type RbacRevision } from '../builders/rbac';
import {
  ACTIVATOR,
  AUTOSCALER,
  buildActivatorDeployment,
  buildActivatorPdb,
  buildActivatorService,
  buildAutoscalerDeployment,
  buildAutoscalerPdb,
  buildAutoscalerService,
  buildConfigAutoscaler,
  buildIngressGateway,
  buildLocalGateway,
  buildLocalGatewayService,
  buildServiceAccount,
  buildSystemNamespace,
  type ServingSystemSpec,
} from '../builders/serving-system';
import { buildExternalGatewayApiGateway, buildLocalGatewayApiGateway } from '../builders/gateway';
import { checkServingConfig, DEFAULT_GATEWAY_API_CONFIG, Ingress, resolveServingConfig, type ServingConfig, type ServingConfigProps } from '../contract/config';
import { AUTOSCALER_BUCKETS, Gateways } from '../contract/constants';
import { isDns1123Label } from '../contract/naming';
import { FieldErrors } from '../problems';
import { emit, emitAll, type KubeObject } from './emit';
import { Revision, type IRevision } from './revision';

export interface ServingSystemProps {
  /** Serving config: autoscaler defaults (config-autoscaler), gateways, runtime image. @default Knative defaults */
  readonly config?: ServingConfigProps;
  /** Image of the activator and autoscaler. @default config.runtimeImage, else DEFAULT_RUNTIME_IMAGE */
  readonly runtimeImage?: string;
  /** @default 2 */
  readonly activatorReplicas?: number;
  /** @default 2 */
  readonly autoscalerReplicas?: number;
  /**
   * Buckets the autoscaler's revisions are hashed into, one Lease each: a replica scrapes, decides
   * and writes for the revisions of the buckets it holds, so more buckets than one let the
   * replicas split the work. With 1 (Knative's default), one replica works (Lease
   * `kservice-autoscaler`) and the others stand by.
   * @default 1
   */
  readonly autoscalerBuckets?: number;
  /**
   * No effect any more: the runtime reads revisions in every namespace (a ClusterRole), and this
   * app's revisions decide the namespaced write Roles. Kept so existing apps still compile.
   * @deprecated
   * @default none
   */
  readonly extraNamespaces?: string[];
}

/**
 * Everything installed once per cluster: the knative-serving namespace, the Istio gateways and
 * local gateway Service, config-autoscaler, and the runtime (activator, autoscaler) with RBAC:
 * reads of Deployments and Endpoints cluster-wide, writes limited to the app's revisions.
 *
 * The revisions are discovered when the app is synthesized, so KServices added after the
 * ServingSystem count too: the per-namespace Roles are added in a validation hook (cdk8s runs
 * every construct's validations right before it renders charts; constructs has no separate
 * "prepare" phase any more).
 *
 * Gateways and the local gateway Service are emitted only while the config uses Knative's default
 * names; pointing the config at other gateways means those already exist. With config `ingress:
 * GATEWAY_API` they are Gateway API Gateways (class `gatewayApi.gatewayClassName`) instead, and
 * no Istio object is emitted.
 */
export class ServingSystem extends Construct {
  public readonly activatorDeployment: ApiObject;
  public readonly autoscalerDeployment: ApiObject;
  /** The props' config with Knative's defaults filled in. */
  private readonly config: ServingConfig;
  private readonly props: ServingSystemProps;
  private rbacObjects?: ApiObject[];

  constructor(scope: Construct, id: string, props: ServingSystemProps = {}) {
    super(scope, id);
    validateSystemProps(props);
    this.props = props;
    this.config = resolveServingConfig(props.config);

    withoutChartNamespace(emit(this, buildSystemNamespace()));
    if (this.config.ingress === Ingress.GATEWAY_API) this.emitGatewayApiGateways();
    else this.emitIstioGateways();
    emit(this, buildConfigAutoscaler(this.config));
    emitAll(this, [buildServiceAccount(ACTIVATOR), buildServiceAccount(AUTOSCALER)]);
    this.activatorDeployment = emit(this, lazySpec(buildActivatorDeployment, () => this.systemSpec()));
    this.autoscalerDeployment = emit(this, lazySpec(buildAutoscalerDeployment, () => this.systemSpec()));
    emitAll(this, [buildActivatorService(), buildAutoscalerService(), buildActivatorPdb(), buildAutoscalerPdb()]);

    this.node.addValidation({ validate: () => (this.addRbac(), []) });
  }

  private emitIstioGateways(): void {
    if (this.config.externalGateway === Gateways.EXTERNAL) emit(this, buildIngressGateway());
    if (this.config.localGateway === Gateways.LOCAL) emit(this, buildLocalGateway());
    if (this.config.localGatewayService === Gateways.LOCAL_SERVICE) emit(this, buildLocalGatewayService());
  }

  /** The Gateway API Gateways (no Istio objects); their Services come from the implementation. */
  private emitGatewayApiGateways(): void {
    const { externalGateway, localGateway } = this.config.gatewayApi;
    if (externalGateway === DEFAULT_GATEWAY_API_CONFIG.externalGateway) emit(this, buildExternalGatewayApiGateway(this.config));
    if (localGateway === DEFAULT_GATEWAY_API_CONFIG.localGateway) emit(this, buildLocalGatewayApiGateway(this.config));
  }

  /** Every revision in the app, in tree order. */
  public get revisions(): IRevision[] {
    return this.appRevisions();
  }

  /** Sorted namespaces of this app's revisions (and extraNamespaces). */
  public get namespaces(): string[] {
    return sortedUnique([...this.revisions.map((r) => r.namespace), ...(this.props.extraNamespaces ?? [])]);
  }

  private appRevisions(): Revision[] {
    return this.node.root.node.findAll().filter(Revision.isRevision);
  }

  /** Adds the Roles and RoleBindings once the app's revisions are all known (idempotent). */
  public addRbac(): ApiObject[] {
    if (this.rbacObjects) return this.rbacObjects;
    this.rbacObjects = emitAll(this, buildRbac(this.appRevisions().map(rbacRevision), this.systemSpec().autoscalerBuckets));
    // The ClusterRole and its binding are cluster-scoped: no chart namespace on them.
    for (const o of this.rbacObjects) if (o.kind.startsWith('Cluster')) withoutChartNamespace(o);
    return this.rbacObjects;
  }

  private systemSpec(): ServingSystemSpec {
    return {
      config: this.config,
      runtimeImage: this.props.runtimeImage ?? this.config.runtimeImage,
      activatorReplicas: this.props.activatorReplicas ?? 2,
      autoscalerReplicas: this.props.autoscalerReplicas ?? 2,
      autoscalerBuckets: this.props.autoscalerBuckets ?? AUTOSCALER_BUCKETS,
    };
  }
}

function rbacRevision(r: Revision): RbacRevision {
  return {
    name: r.name,
    namespace: r.namespace,
    autoscalingClass: r.spec.autoscaling.class,
    dataPlane: r.spec.dataPlane,
  };
}

/**
 * A cluster-scoped object takes no namespace, but cdk8s gives every object without one its chart's
 * namespace (ApiObject's constructor: `props.metadata?.namespace ?? this.chart.namespace`), so a
 * ServingSystem in a namespaced chart would write `namespace:` on the Namespace object. The
 * metadata's namespace is cleared after construction; cdk8s has no option for this.
 */
function withoutChartNamespace(object: ApiObject): void {
  (object.metadata as { namespace?: string }).namespace = undefined;
}

/** The object with its `spec` computed at synth time. */
function lazySpec(build: (spec: ServingSystemSpec) => IDeployment, systemSpec: () => ServingSystemSpec): KubeObject {
  const eager = build(systemSpec());
  const lazy: KubeObject & { spec: unknown } = { ...eager, spec: Lazy.any({ produce: () => build(systemSpec()).spec }) };
  return lazy;
}

function validateSystemProps(props: ServingSystemProps): void {
  FieldErrors.none
    .also(
      ...(['activatorReplicas', 'autoscalerReplicas', 'autoscalerBuckets'] as const).map((key) => {
        const n = props[key];
        return n !== undefined && !(Number.isInteger(n) && n >= 1) ? FieldErrors.of(`must be a whole number of at least 1, got ${n}`, key) : undefined;
      }),
      props.runtimeImage !== undefined && props.runtimeImage.trim() === '' ? FieldErrors.of('must not be empty', 'runtimeImage') : undefined,
      checkServingConfig(props.config).via('config'),
      ...(props.extraNamespaces ?? []).map((ns, i) => (isDns1123Label(ns) ? undefined : FieldErrors.of(`"${ns}" must be a DNS-1123 label`, 'extraNamespaces', i))),
    )
    .throwIfAny('ServingSystem');
}
