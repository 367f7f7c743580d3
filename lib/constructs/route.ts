import type { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { buildRouteServices } from '../builders/route-service';
import type { RouteSpec } from '../builders/spec';
import { buildIngressVirtualService, buildMeshVirtualService } from '../builders/virtual-service';
import { emit } from './emit';

export interface RouteConstructProps {
  /** The resolved, validated route (from `compileServiceSpec`, normally via `KService`). */
  readonly spec: RouteSpec;
}

/**
 * A route's objects: one ExternalName Service per traffic name (`NAME`, `TAG-NAME`) and the
 * `NAME-ingress` / `NAME-mesh` VirtualServices with weighted routes to revisions' public Services.
 */
export class Route extends Construct {
  public readonly spec: RouteSpec;
  public readonly services: ApiObject[];
  public readonly ingressVirtualService: ApiObject;
  public readonly meshVirtualService: ApiObject;

  constructor(scope: Construct, id: string, props: RouteConstructProps) {
    super(scope, id);
    this.spec = props.spec;
    this.services = buildRouteServices(props.spec).map((s) => emit(this, s));
    this.ingressVirtualService = emit(this, buildIngressVirtualService(props.spec));
    this.meshVirtualService = emit(this, buildMeshVirtualService(props.spec));
  }
}
