// The ingress side of the request path, reduced to what matters for the runtime: Istio routes a
// request for a revision to an address of the revision's public Endpoints (activator pods in Proxy
// mode, revision pods in Serve mode) on port 8012, with the Knative-Serving-Revision/-Namespace
// headers the VirtualService sets. The router watches the Endpoints (as Istio's control plane
// does) and picks one address per request; no retries, so every failure is visible.
import { CoreV1Api, makeInformer, type KubeConfig, type V1Endpoints } from '@kubernetes/client-node';
import { Headers, Ports } from '../../../../lib/contract/constants';
import { httpTry, type HttpOptions, type HttpResult } from './http';
import { endpointIPs } from './serving';

export function revisionHeaders(namespace: string, revision: string): Record<string, string> {
  return { [Headers.REVISION]: revision, [Headers.NAMESPACE]: namespace };
}

export class PublicEndpointsRouter {
  private readonly informer;
  private next = 0;

  constructor(kc: KubeConfig, readonly namespace: string) {
    const core = kc.makeApiClient(CoreV1Api);
    this.informer = makeInformer<V1Endpoints>(kc, `/api/v1/namespaces/${namespace}/endpoints`, () => core.listNamespacedEndpoints({ namespace }));
    this.informer.on('error', () => setTimeout(() => void this.informer.start().catch(() => undefined), 300));
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  /** The public Endpoints addresses of a revision as the router currently sees them. */
  addresses(revision: string): string[] {
    return endpointIPs(this.informer.get(revision, this.namespace));
  }

  /** Sends one request to the revision (round robin over its public addresses). */
  async request(revision: string, path = '/', opts: HttpOptions = {}): Promise<HttpResult> {
    const ips = this.addresses(revision);
    if (ips.length === 0) return { status: 0, body: `no public endpoints for ${revision}`, headers: {}, ms: 0 };
    const ip = ips[this.next++ % ips.length];
    return httpTry(`http://${ip}:${Ports.QUEUE_HTTP}${path}`, {
      ...opts,
      headers: { ...revisionHeaders(this.namespace, revision), ...opts.headers },
    });
  }
}
