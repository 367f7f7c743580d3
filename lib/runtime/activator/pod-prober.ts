import * as http from 'node:http';
import { Headers } from '../../constants';
import { PodAddress, formatAddress } from './revision';

/**
 * Probes queue-proxies directly (reference 9, "Probing pods"): `GET /healthz` with
 * `K-Network-Probe: queue` and the activator's User-Agent; healthy means 200 with body `queue`.
 * Each address is probed every `intervalMs` with a `timeoutMs` budget, so a pod is used as soon as
 * its queue-proxy answers, before the Endpoints catch up.
 */
export const PROBE_USER_AGENT = 'Knative-Activator-Probe';

export interface ProberProps {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Called whenever the set of healthy addresses changes. */
  readonly onChange: (healthy: readonly PodAddress[]) => void;
}

export class PodProber {
  private readonly targets = new Map<string, { address: PodAddress; timer: NodeJS.Timeout | undefined; healthy: boolean }>();
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
      const target = { address, healthy: false, timer: undefined as NodeJS.Timeout | undefined };
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
    const ok = await probeQueueProxy(target.address, this.props.timeoutMs);
    if (this.targets.get(id) !== target) return; // removed while probing
    if (ok !== target.healthy) {
      target.healthy = ok;
      this.emit();
    }
    this.schedule(id, this.props.intervalMs);
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
        headers: { [Headers.NETWORK_PROBE]: 'queue', 'user-agent': PROBE_USER_AGENT },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64) body += chunk;
        });
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'queue'));
        res.on('error', () => resolve(false));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error('probe timeout')), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', () => resolve(false));
  });
}
