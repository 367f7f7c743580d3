import type { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { buildRouteService } from '../builders/route-service';
import type { RouteSpec } from '../builders/spec';
import { buildIngressVirtualService, buildMeshVirtualService } from '../builders/virtual-service';
import { emitBuilt } from './emit';

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
    const spec = props.spec;
    this.services = spec.names.map((name) => emitBuilt(this, () => buildRouteService(spec, name)));
    this.ingressVirtualService = emitBuilt(this, () => buildIngressVirtualService(spec));
    this.meshVirtualService = emitBuilt(this, () => buildMeshVirtualService(spec));
  }
}
