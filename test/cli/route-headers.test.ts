/**
 * Clients must not be able to set the headers only the runtime sets (K-Proxy-Request hid a
 * client's load from the autoscaler; K-Original-Host changed the Host the app saw): every HTTP
 * route of every compiled VirtualService removes them, and no route sets one of them itself.
 */
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Headers, RUNTIME_ONLY_HEADERS } from '../../lib/contract/constants';
import { HELLO, run } from './helpers';

interface HttpRoute {
  headers?: { request?: { remove?: string[]; set?: Record<string, string> } };
  route: Array<{ headers?: { request?: { set?: Record<string, string> } } }>;
}
interface VirtualService {
  kind: string;
  metadata: { name: string };
  spec: { http: HttpRoute[] };
}

const TAGGED = `${HELLO}  traffic:
    - latestRevision: true
      percent: 100
    - latestRevision: true
      tag: candidate
      percent: 0
`;
const CLUSTER_LOCAL = HELLO.replace('  name: hello\n', '  name: local\n  labels:\n    networking.knative.dev/visibility: cluster-local\n');

async function virtualServices(input: string): Promise<VirtualService[]> {
  const result = await run(['compile', '-'], input);
  expect(result.stderr).toBe('');
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as VirtualService)
    .filter((o) => o.kind === 'VirtualService');
}

describe('routes strip the headers only the runtime sets', () => {
  it('lists every header the queue-proxy and activator trust from a request', () => {
    expect([...RUNTIME_ONLY_HEADERS].sort()).toEqual([Headers.NETWORK_HASH, Headers.NETWORK_PROBE, Headers.ORIGINAL_HOST, Headers.PROXY_REQUEST].sort());
    // The routing headers are set by every destination instead (asserted below), so not removed.
    expect(RUNTIME_ONLY_HEADERS).not.toContain(Headers.REVISION);
    expect(RUNTIME_ONLY_HEADERS).not.toContain(Headers.NAMESPACE);
  });

  it.each([
    ['an external service with a tag', TAGGED, ['hello-ingress', 'hello-mesh']],
    ['a cluster-local service', CLUSTER_LOCAL, ['local-ingress', 'local-mesh']],
  ])('removes them on every HTTP route of %s', async (_name, input, names) => {
    const services = await virtualServices(input);
    expect(services.map((s) => s.metadata.name).sort()).toEqual(names);
    for (const vs of services) {
      expect(vs.spec.http.length, vs.metadata.name).toBeGreaterThan(0);
      for (const http of vs.spec.http) {
        expect(http.headers?.request?.remove, vs.metadata.name).toEqual([...RUNTIME_ONLY_HEADERS]);
        for (const destination of http.route) {
          const set = Object.keys(destination.headers?.request?.set ?? {});
          expect(set.sort(), 'each destination sets the routing headers').toEqual([Headers.NAMESPACE, Headers.REVISION].sort());
          expect(set.filter((h) => RUNTIME_ONLY_HEADERS.includes(h))).toEqual([]);
        }
      }
    }
  });
});
