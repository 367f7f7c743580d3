import type { ApiObject } from 'cdk8s';
import { Construct, type IConstruct } from 'constructs';
import { buildHttpRouteFor, visibilitiesOf } from '../builders/http-route';
import { buildRouteService } from '../builders/route-service';
import type { RouteSpec } from '../model/spec';
import { buildIngressVirtualService, buildMeshVirtualService } from '../builders/virtual-service';
import { Ingress } from '../contract/config';
import { emitLazy } from './emit';

/**
 * A service's route objects, as `KService.route` gives them. Only `KService` creates routes (after
 * validating its props), so users get this interface, not the class, whose constructor takes the
 * resolved model.
 */
export interface IRoute extends IConstruct {
  /** Istio only (config `ingress`): the VirtualService bound to the ingress and local gateways. */
  readonly ingressVirtualService?: ApiObject;
  /** Istio only (config `ingress`): the VirtualService for mesh (sidecar) traffic. */
  readonly meshVirtualService?: ApiObject;
  /** Gateway API only (config `ingress`): the HTTPRoutes, per traffic name in the order added. */
  readonly httpRoutes: readonly ApiObject[];
  /** One ExternalName Service per traffic name, the default name first, then tags as added. */
  readonly services: readonly ApiObject[];
}

/** Internal: KService's handle on the route it created. */
export interface RouteConstructProps {
  /**
   * The resolved, validated route (normally given by `KService`). A function is read again at
   * synth time, so the objects render its current result; that is how a KService's `add*` calls
   * reach objects that already exist. Traffic names (tags) may be added, not removed.
   */
  readonly spec: RouteSpec | (() => RouteSpec);
}

/**
 * A route's objects: one ExternalName Service per traffic name (`NAME`, `TAG-NAME`) and, with
 * Istio, the `NAME-ingress` / `NAME-mesh` VirtualServices, or with the Gateway API (config
 * `ingress`) one HTTPRoute per traffic name and visibility, all with weighted routes to
 * revisions' public Services.
 *
 * The objects are created once and their bodies are computed when the app is synthesized, so
 * patches and `metadata.add*` calls on them survive the KService's later `add*` calls.
 */
export class Route extends Construct implements IRoute {
  /** Istio only (config `ingress`), as `meshVirtualService`. */
  public readonly ingressVirtualService?: ApiObject;
  public readonly meshVirtualService?: ApiObject;
  /** Gateway API only (config `ingress`): the HTTPRoutes, per traffic name in the order added. */
  public readonly httpRoutes: ApiObject[] = [];
  private readonly specOf: () => RouteSpec;
  /** One Service per traffic name, keyed by tag ('' for the default name). */
  private readonly servicesByTag = new Map<string, ApiObject>();

  constructor(scope: Construct, id: string, props: RouteConstructProps) {
    super(scope, id);
    const given = props.spec;
    this.specOf = typeof given === 'function' ? given : () => given;
    this.addMissingServices();
    if (this.spec.ingress === Ingress.GATEWAY_API) return;
    const source = () => this.spec;
    this.ingressVirtualService = emitLazy(this, source, buildIngressVirtualService);
    this.meshVirtualService = emitLazy(this, source, buildMeshVirtualService);
  }

  /** The route as it stands now (after the KService's latest `add*` call). */
  public get spec(): RouteSpec {
    return this.specOf();
  }

  /** One ExternalName Service per traffic name, the default name first, then tags as added. */
  public get services(): ApiObject[] {
    return [...this.servicesByTag.values()];
  }

  /**
   * Adds the Service of every traffic name the current spec has and this route does not yet (the
   * KService calls it after `addTraffic`); idempotent. A traffic name that disappeared from the
   * spec is an error: its Service already exists and cannot be taken back.
   */
  public addMissingServices(): void {
    const spec = this.spec;
    const tags = new Set(spec.names.map((n) => n.tag));
    const gone = [...this.servicesByTag.keys()].filter((tag) => !tags.has(tag));
    if (gone.length > 0) throw new Error(`${this.node.path}: traffic name(s) ${gone.map((t) => `"${t}"`).join(', ')} cannot be removed once their Service exists`);
    for (const name of spec.names) {
      if (this.servicesByTag.has(name.tag)) continue;
      const tag = name.tag;
      const service = emitLazy(this, () => this.spec, (route) => buildRouteService(route, trafficName(route, tag)));
      this.servicesByTag.set(tag, service);
      // A Service added after the VirtualServices sits after them in the tree; the dependency puts it
      // back before them in the output, as when the same props are given at once (see KService).
      for (const vs of [this.ingressVirtualService, this.meshVirtualService]) vs?.node.addDependency(service);
      if (spec.ingress === Ingress.GATEWAY_API) this.addHttpRoutes(spec, tag);
    }
  }

  /** The traffic name's HTTPRoutes (cluster-local, then external unless the route is cluster-local). */
  private addHttpRoutes(spec: RouteSpec, tag: string): void {
    for (const visibility of visibilitiesOf(spec, tag)) {
      this.httpRoutes.push(emitLazy(this, () => this.spec, (route) => buildHttpRouteFor(route, tag, visibility)));
    }
  }
}

function trafficName(route: RouteSpec, tag: string) {
  const name = route.names.find((n) => n.tag === tag);
  if (!name) throw new Error(`route "${route.name}" has no traffic name with tag "${tag}"`);
  return name;
}
