import type { ActivatorAlwaysInPathSettings } from '../kube/revision-deployment';

/** What the activator needs to know about one revision. */
export interface RevisionInfo {
  readonly namespace: string;
  readonly revision: string;
  /** 0 = unlimited. */
  readonly containerConcurrency: number;
  /** Bounds the whole request at the activator, including the time it is held. */
  readonly timeoutSeconds: number;
  /**
   * Where requests go on each pod: the queue-proxy's port (8012, or 8013 for h2c) in data-plane
   * mode `full`, the app's own port in mode `activator`.
   */
  readonly podPort: number;
  /**
   * Mode `activator` (no queue-proxy in the pod): the activator also enforces the response-start
   * and idle timeouts, probes the app itself, and passes requests on as the queue-proxy would
   * (original Host). Absent in mode `full`.
   */
  readonly activatorAlwaysInPath?: ActivatorAlwaysInPathSettings;
}

export function revisionKey(namespace: string, revision: string): string {
  return `${namespace}/${revision}`;
}

/** A pod's queue-proxy (or, sidecar-less, its app), as `host:port`. */
export interface PodAddress {
  readonly host: string;
  readonly port: number;
}

export function formatAddress(a: PodAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `host:port` or `[v6]:port`; undefined when malformed. */
export function parseAddress(text: string): PodAddress | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}
