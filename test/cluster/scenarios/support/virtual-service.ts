// What Istio does with a compiled VirtualService, for one request: find the HTTP route whose
// authority prefix matches the host, pick a weighted destination, and set the route's request
// headers. The pick is smooth weighted round robin (deterministic), so a 50/50 split of 2N
// requests is exactly N and N; Envoy picks randomly, which a test could only check statistically.
import type { KubernetesObject } from '@kubernetes/client-node';

interface Destination {
  readonly destination: { readonly host: string };
  readonly weight?: number;
  readonly headers?: { readonly request?: { readonly set?: Record<string, string> } };
}

interface HttpRoute {
  readonly match?: ReadonlyArray<{ readonly authority?: { readonly prefix?: string } }>;
  readonly route: readonly Destination[];
}

export interface RoutedRequest {
  /** First label of the destination host: the revision's public Service. */
  readonly revision: string;
  readonly headers: Record<string, string>;
}

export class VirtualServiceRouter {
  private readonly current = new Map<Destination, number>();

  constructor(private readonly vs: KubernetesObject & { spec?: { http?: HttpRoute[] } }) {}

  /** True if some HTTP route of the VirtualService matches the host. */
  matches(host: string): boolean {
    return (this.vs.spec?.http ?? []).some((r) => r.match?.some((m) => m.authority?.prefix !== undefined && host.startsWith(m.authority.prefix)));
  }

  /** The route for `host`, or an error naming the hosts the VirtualService does match. */
  private routeFor(host: string): HttpRoute {
    const routes = this.vs.spec?.http ?? [];
    const found = routes.find((r) => r.match?.some((m) => m.authority?.prefix !== undefined && host.startsWith(m.authority.prefix)));
    if (!found) {
      const prefixes = routes.flatMap((r) => r.match?.map((m) => m.authority?.prefix) ?? []);
      throw new Error(`VirtualService ${this.vs.metadata?.name} has no route for host ${host} (prefixes: ${prefixes.join(', ')})`);
    }
    return found;
  }

  /** Nginx's smooth weighted round robin over the route's destinations. */
  pick(host: string): RoutedRequest {
    const dests = this.routeFor(host).route;
    const total = dests.reduce((s, d) => s + (d.weight ?? 100), 0);
    let best: Destination | undefined;
    for (const d of dests) {
      const w = (this.current.get(d) ?? 0) + (d.weight ?? 100);
      this.current.set(d, w);
      if (!best || w > (this.current.get(best) ?? 0)) best = d;
    }
    if (!best) throw new Error(`VirtualService ${this.vs.metadata?.name}: empty route for ${host}`);
    this.current.set(best, (this.current.get(best) ?? 0) - total);
    return { revision: best.destination.host.split('.')[0], headers: { ...best.headers?.request?.set } };
  }
}
