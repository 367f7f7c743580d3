// Readiness (and startup) probes the way the kubelet runs them: httpGet with the probe's headers
// and a `kube-probe/<minor>` User-Agent (queue-proxy tells kubelet probes apart by it), success on
// 200–399; tcpSocket succeeds on connect. Sent from the host side of the pod bridge to the pod IP.
import { request } from 'node:http';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

export const KUBE_PROBE_USER_AGENT = 'kube-probe/1.36';

export interface ProbeResult {
  readonly ok: boolean;
  readonly message: string;
}

/** Resolves a numeric or named (containerPort name) probe port. */
export function probePort(port: number | string, container: V1Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port "${port}" is not a port name of container ${container.name}`);
  return named.containerPort;
}

function httpProbe(host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', headers: { 'User-Agent': KUBE_PROBE_USER_AGENT, ...headers }, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      res.on('end', () => resolve({ ok: code >= 200 && code < 400, message: `HTTP ${code}` }));
      res.on('error', (e) => resolve({ ok: false, message: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    req.on('error', (e) => resolve({ ok: false, message: e.message }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.on('connect', () => {
      socket.destroy();
      resolve({ ok: true, message: 'connected' });
    });
    socket.on('timeout', () => socket.destroy(new Error(`timeout after ${timeoutMs}ms`)));
    socket.on('error', (e) => resolve({ ok: false, message: e.message }));
  });
}

/** Runs one probe attempt against the pod. exec probes are not supported (no container to exec in). */
export async function runProbe(probe: V1Probe, container: V1Container, podIP: string): Promise<ProbeResult> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const g = probe.httpGet;
    if ((g.scheme ?? 'HTTP') !== 'HTTP') return { ok: false, message: `scheme ${g.scheme} not supported by the node agent` };
    const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return httpProbe(g.host ?? podIP, probePort(g.port as number | string, container), g.path ?? '/', headers, timeoutMs);
  }
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket.host ?? podIP, probePort(probe.tcpSocket.port as number | string, container), timeoutMs);
  return { ok: false, message: 'only httpGet and tcpSocket probes are supported by the node agent' };
}
