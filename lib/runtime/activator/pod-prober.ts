import * as http from 'node:http';
import { Headers, ProbeUserAgents, ProbeValues } from '../../contract/constants';
import type { ActivatorAlwaysInPathSettings } from '../kube/revision-deployment';
import { probeOnce } from '../shared/readiness';
import { PodAddress, formatAddress } from './revision';

/**
 * Probes queue-proxies directly (knative/serving pkg/activator/net/revision_backends.go): `GET /healthz` with
 * `K-Network-Probe: queue` and the activator's User-Agent; healthy means 200 with body `queue`.
 * A pod is used as soon as its queue-proxy answers, before the Endpoints catch up.
 *
 * Pacing. A healthy pod is probed `intervalMs` after its last answer. A pod not (yet) healthy is
 * where a cold start waits: for `startWindowMs` after it appears, probes start `startGapMs` apart
 * (then `intervalMs`), measured from the start of the last probe. Before its queue-proxy listens,
 * such probes are refused at once (cheap); once it listens, the queue-proxy holds each readiness
 * probe open while it polls the app (Knative's aggressive probing,
 * lib/runtime/shared/readiness.ts), so a probe ends by its timeout after more than the gap
 * and the next one starts at once: a probe is always waiting at the queue-proxy, which answers it
 * as soon as the app is ready. With a fixed `intervalMs` pause after every failure the activator
 * learned of a started pod a median 156 ms after its app was ready (docs/runtime-performance.md,
 * "Cold start"). At most one probe per pod is in flight.
 */
export const PROBE_USER_AGENT = ProbeUserAgents.ACTIVATOR;

/** Gap between probe starts of a pod not yet healthy, during the window after it appears. */
export const STARTING_PROBE_GAP_MS = 25;
/** The window: the queue-proxy's own aggressive readiness polling gives up after 10 s too. */
export const STARTING_PROBE_WINDOW_MS = 10_000;

export interface ProberProps {
  /** Between probes of a healthy pod, and of one not healthy after the start window. */
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** @default STARTING_PROBE_GAP_MS */
  readonly startGapMs?: number;
  /** @default STARTING_PROBE_WINDOW_MS */
  readonly startWindowMs?: number;
  /** Called whenever the set of healthy addresses changes. */
  readonly onChange: (healthy: readonly PodAddress[]) => void;
  /**
   * One probe of one pod; never rejects. @default probeQueueProxy (a sidecar-less revision's
   * backend passes its app's own probe, `appProbe`)
   */
  readonly probe?: (address: PodAddress, timeoutMs: number) => Promise<boolean>;
}

interface Target {
  readonly address: PodAddress;
  timer: NodeJS.Timeout | undefined;
  healthy: boolean;
  /** When the pod was added (its start window begins). */
  readonly addedAtMs: number;
}

export class PodProber {
  private readonly targets = new Map<string, Target>();
  private stopped = false;

  constructor(private readonly props: ProberProps) {}

  /** Probes exactly these addresses from now on (new ones at once). */
  setTargets(addresses: readonly PodAddress[]): void {
    const wanted = new Map(addresses.map((a) => [formatAddress(a), a]));
    let changed = false;
    for (const [id, target] of this.targets) {
      if (wanted.has(id)) continue;
      clearTimeout(target.timer);
      this.targets.delete(id);
      changed ||= target.healthy;
    }
    for (const [id, address] of wanted) {
      if (this.targets.has(id) || this.stopped) continue;
      const target: Target = { address, healthy: false, timer: undefined, addedAtMs: Date.now() };
      this.targets.set(id, target);
      this.schedule(id, 0);
    }
    if (changed) this.emit();
  }

  /** Marks a pod unhealthy until its next successful probe (it refused a connection). */
  markUnhealthy(address: PodAddress): void {
    const target = this.targets.get(formatAddress(address));
    if (target?.healthy) {
      target.healthy = false;
      this.emit();
    }
  }

  get healthy(): PodAddress[] {
    return [...this.targets.values()].filter((t) => t.healthy).map((t) => t.address);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.targets.values()) clearTimeout(t.timer);
    this.targets.clear();
  }

  private schedule(id: string, delayMs: number): void {
    const target = this.targets.get(id);
    if (!target) return;
    clearTimeout(target.timer);
    target.timer = setTimeout(() => void this.probeOnce(id), delayMs);
    target.timer.unref();
  }

  private async probeOnce(id: string): Promise<void> {
    const target = this.targets.get(id);
    if (!target || this.stopped) return;
    const startedAt = Date.now();
    const ok = await (this.props.probe ?? probeQueueProxy)(target.address, this.props.timeoutMs);
    if (this.targets.get(id) !== target) return; // removed while probing
    if (ok !== target.healthy) {
      target.healthy = ok;
      this.emit();
    }
    this.schedule(id, ok ? this.props.intervalMs : this.retryDelay(target, startedAt));
  }

  /** Delay before the next probe of a pod not healthy: its gap, counted from the last probe's start. */
  private retryDelay(target: Target, probeStartedAtMs: number): number {
    const now = Date.now();
    const starting = now - target.addedAtMs < (this.props.startWindowMs ?? STARTING_PROBE_WINDOW_MS);
    const gap = starting ? Math.min(this.props.intervalMs, this.props.startGapMs ?? STARTING_PROBE_GAP_MS) : this.props.intervalMs;
    return Math.max(0, gap - (now - probeStartedAtMs));
  }

  private emit(): void {
    this.props.onChange(this.healthy);
  }
}

/** One probe; resolves true only for 200 + body `queue`, never rejects. */
export function probeQueueProxy(address: PodAddress, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: address.host,
        port: address.port,
        path: '/healthz',
        headers: { [Headers.NETWORK_PROBE]: ProbeValues.QUEUE, 'user-agent': PROBE_USER_AGENT },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64) body += chunk;
        });
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === ProbeValues.QUEUE));
        res.on('error', () => resolve(false));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('probe timeout')), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', () => resolve(false));
  });
}

/**
 * The app's own readiness probe, for a pod without a queue-proxy (data-plane mode `activator`):
 * what the kubelet runs (HTTP GET path/port/headers, 200-399 = ready; or a TCP connect), against
 * the pod's IP. The queue-proxy's implementation (lib/runtime/shared/readiness.ts); port 0 means
 * the pod's own port (static config). Each call is one try: the prober paces them (the queue-proxy's
 * 50 ms aggressive retries would only add load while the prober's 25 ms start gap already runs).
 */
export function appProbe(probe: ActivatorAlwaysInPathSettings['probe']): (address: PodAddress, timeoutMs: number) => Promise<boolean> {
  return (address, timeoutMs) => probeOnce({ ...probe, host: address.host, port: probe.port === 0 ? address.port : probe.port }, timeoutMs);
}
