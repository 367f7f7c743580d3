/**
 * Requests that are probes, not traffic (knative/serving pkg/queue/sharedmain/handlers.go, pkg/queue/health/handler.go). They are answered here, never counted
 * in stats and never wait for the breaker.
 *
 * - `K-Network-Probe: queue` (kubelet, activator, autoscaler): readiness — runs the user probe;
 *   200 `queue`, or 503. While draining: 503 `shutting down`.
 * - kubelet (`User-Agent: kube-probe/…`) or activator/autoscaler probe agents without that
 *   header: 400, as Knative (the compiled kubelet probe always sends the header).
 * - `K-Network-Probe: probe` with `K-Network-Hash: h`: the ingress probe; 200 echoing the hash.
 * - any other K-Network-Probe value: 400.
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import { Headers, ProbeUserAgents, ProbeValues } from '../../contract/constants';
import type { AnyResponse } from '../shared/timeouts';

export type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;

const PROBE_HEADER = Headers.NETWORK_PROBE.toLowerCase();
const HASH_HEADER = Headers.NETWORK_HASH.toLowerCase();
const HEALTH_AGENTS = [ProbeUserAgents.KUBELET_PREFIX, ProbeUserAgents.ACTIVATOR, ProbeUserAgents.AUTOSCALING];

export type ProbeRequestKind = 'readiness' | 'network' | 'unexpected';

/** What kind of probe a request is; undefined for ordinary traffic. */
export function probeKind(req: AnyRequest): ProbeRequestKind | undefined {
  const probe = header(req, PROBE_HEADER);
  const agent = header(req, 'user-agent') ?? '';
  if (probe === ProbeValues.QUEUE) return 'readiness';
  if (HEALTH_AGENTS.some((prefix) => agent.startsWith(prefix))) return 'unexpected';
  if (probe === undefined) return undefined;
  return probe === 'probe' ? 'network' : 'unexpected';
}

export interface ProbeAnswerDeps {
  readonly isReady: () => Promise<boolean>;
  readonly isDraining: () => boolean;
}

export async function answerProbe(kind: ProbeRequestKind, req: AnyRequest, res: AnyResponse, deps: ProbeAnswerDeps): Promise<void> {
  switch (kind) {
    case 'readiness':
      if (deps.isDraining()) return send(res, 503, 'shutting down');
      return (await deps.isReady()) ? send(res, 200, ProbeValues.QUEUE) : send(res, 503, 'queue not ready');
    case 'network': {
      const hash = header(req, HASH_HEADER);
      if (hash === undefined) return send(res, 400, `no ${Headers.NETWORK_HASH} header`);
      return send(res, 200, '', { [Headers.NETWORK_HASH]: hash });
    }
    case 'unexpected':
      return send(res, 400, `unexpected ${Headers.NETWORK_PROBE} header value "${header(req, PROBE_HEADER) ?? ''}"`);
  }
}

function header(req: AnyRequest, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function send(res: AnyResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
