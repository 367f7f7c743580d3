import type { ApiObject } from 'cdk8s';
import { Construct, type IConstruct } from 'constructs';
import { buildDeployment } from '../builders/deployment';
import { buildHpa } from '../builders/hpa';
import { buildPrivateService } from '../builders/private-service';
import { buildPublicEndpoints } from '../builders/public-endpoints';
import { buildPublicService } from '../builders/public-service';
import type { RevisionSpec } from '../model/spec';
import { AutoscalerClass } from '../contract/autoscaling';
import { Names } from '../contract/naming';
import { runtimeOwnsEndpoints } from '../contract/data-plane';
import { emitLazy } from './emit';

const REVISION_SYMBOL = Symbol.for('cdk8s-kservice.Revision');

/**
 * One revision's objects, as `KService.revisions` and `ServingSystem.revisions` give them. Only
 * `KService` creates revisions (after validating its props), so users get this interface, not the
 * class, whose constructor takes the resolved model.
 */
export interface IRevision extends IConstruct {
  /** The Deployment: user containers, plus the queue-proxy unless the data plane has none. */
  readonly deployment: ApiObject;
  readonly privateService: ApiObject;
  readonly publicService: ApiObject;
  /** Undefined with DataPlane.DIRECT and DataPlane.STATIC, where Kubernetes fills the Endpoints. */
  readonly publicEndpoints?: ApiObject;
  /** Only for the `hpa.autoscaling.knative.dev` class. */
  readonly horizontalPodAutoscaler?: ApiObject;
  /** The revision name, e.g. `hello-00001`. */
  readonly name: string;
  readonly namespace: string;
  /** `REV-deployment`. */
  readonly deploymentName: string;
}

/** Internal: KService's handle on a revision it created. */
export interface RevisionConstructProps {
  /**
   * The resolved, validated revision (normally given by `KService`). A function is read again at
   * synth time, so the objects render its current result; that is how a KService's `add*` calls
   * reach objects that already exist. It must keep the revision's name, namespace, data plane and
   * autoscaling class, which decide which objects exist.
   */
  readonly spec: RevisionSpec | (() => RevisionSpec);
}

/**
 * One revision's objects: the Deployment (user containers + queue-proxy, unless the data plane has
 * none), the private Service, the public Service and (when the runtime owns them: DataPlane.FULL,
 * DataPlane.ACTIVATOR) its subset-less Endpoints, and an HPA for the HPA class.
 * Created by `KService`, which validates and resolves the props first.
 *
 * The objects are created once and their bodies are computed when the app is synthesized, so
 * patches and `metadata.add*` calls on them survive the KService's later `add*` calls.
 */
export class Revision extends Construct implements IRevision {
  /** True for Revision constructs, also across copies of this module (like `Chart.isChart`). */
  public static isRevision(x: unknown): x is Revision {
    return typeof x === 'object' && x !== null && REVISION_SYMBOL in x;
  }

  public readonly deployment: ApiObject;
  public readonly privateService: ApiObject;
  public readonly publicService: ApiObject;
  /** Undefined with DataPlane.DIRECT and DataPlane.STATIC, where Kubernetes fills the Endpoints. */
  public readonly publicEndpoints?: ApiObject;
  /** Only for the `hpa.autoscaling.knative.dev` class. */
  public readonly horizontalPodAutoscaler?: ApiObject;
  private readonly specOf: () => RevisionSpec;

  constructor(scope: Construct, id: string, props: RevisionConstructProps) {
    super(scope, id);
    Object.defineProperty(this, REVISION_SYMBOL, { value: true });
    const given = props.spec;
    this.specOf = typeof given === 'function' ? given : () => given;
    const spec = this.spec;
    const source = () => this.spec;
    this.deployment = emitLazy(this, source, buildDeployment);
    this.privateService = emitLazy(this, source, buildPrivateService);
    this.publicService = emitLazy(this, source, buildPublicService);
    if (runtimeOwnsEndpoints(spec.dataPlane)) this.publicEndpoints = emitLazy(this, source, buildPublicEndpoints);
    if (spec.autoscaling.class === AutoscalerClass.HPA) this.horizontalPodAutoscaler = emitLazy(this, source, buildHpa);
  }

  /** The revision as it stands now (after the KService's latest `add*` call). */
  public get spec(): RevisionSpec {
    return this.specOf();
  }

  public get name(): string {
    return this.spec.name;
  }

  public get namespace(): string {
    return this.spec.namespace;
  }

  public get deploymentName(): string {
    return Names.deployment(this.spec.name);
  }
}
