import type { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { buildDeployment } from '../builders/deployment';
import { buildHpa } from '../builders/hpa';
import { buildPrivateService } from '../builders/private-service';
import { buildPublicEndpoints } from '../builders/public-endpoints';
import { buildPublicService } from '../builders/public-service';
import type { RevisionSpec } from '../builders/spec';
import { AutoscalerClass } from '../autoscaling';
import { Names } from '../naming';
import { emit } from './emit';

const REVISION_SYMBOL = Symbol.for('cdk8s-kservice.Revision');

export interface RevisionConstructProps {
  /** The resolved, validated revision (from `compileServiceSpec`, normally via `KService`). */
  readonly spec: RevisionSpec;
}

/**
 * One revision's objects: the Deployment (user containers + queue-proxy), the private Service, the
 * public Service and (runtime data plane) its subset-less Endpoints, and an HPA for the HPA class.
 * Created by `KService`, which validates and resolves the props first.
 */
export class Revision extends Construct {
  /** True for Revision constructs, also across copies of this module (like `Chart.isChart`). */
  public static isRevision(x: unknown): x is Revision {
    return typeof x === 'object' && x !== null && REVISION_SYMBOL in x;
  }

  public readonly spec: RevisionSpec;
  public readonly deployment: ApiObject;
  public readonly privateService: ApiObject;
  public readonly publicService: ApiObject;
  /** Undefined with DataPlane.STATIC, where Kubernetes fills the Endpoints. */
  public readonly publicEndpoints?: ApiObject;
  /** Only for the `hpa.autoscaling.knative.dev` class. */
  public readonly horizontalPodAutoscaler?: ApiObject;

  constructor(scope: Construct, id: string, props: RevisionConstructProps) {
    super(scope, id);
    Object.defineProperty(this, REVISION_SYMBOL, { value: true });
    const spec = props.spec;
    this.spec = spec;
    this.deployment = emit(this, buildDeployment(spec));
    this.privateService = emit(this, buildPrivateService(spec));
    this.publicService = emit(this, buildPublicService(spec));
    if (spec.dataPlane === 'runtime') this.publicEndpoints = emit(this, buildPublicEndpoints(spec));
    if (spec.autoscaling.class === AutoscalerClass.HPA) this.horizontalPodAutoscaler = emit(this, buildHpa(spec));
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
