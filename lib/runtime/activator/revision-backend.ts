import { PodProber, appProbe, probeQueueProxy } from './pod-prober';
import { RevisionLoad } from './revision-load';
import { PodAddress, RevisionInfo, formatAddress } from './revision';
import { RevisionThrottler } from './throttler';

export interface BackendOptions {
  readonly queueDepth: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** This activator's pod IP (POD_IP), to find its index among a revision's activators; undefined = unknown. */
  readonly selfIp?: string;
  /** See ThrottlerProps.handoverMs; used for revisions without a queue-proxy (mode `activator`) only. */
  readonly handoverMs?: number;
  /** Told when the revision's usable pods change (e.g. to log, or to stop poking). */
  readonly onPodsChanged?: (backend: RevisionBackend) => void;
  /** Told when a pod refused a connection (for the refusal counter). */
  readonly onRefused?: (backend: RevisionBackend, pod: PodAddress) => void;
}

/** The pods a source knows for a revision: ready per Kubernetes, and the rest. */
export interface PodSet {
  readonly ready: readonly PodAddress[];
  readonly notReady: readonly PodAddress[];
}

/**
 * One revision at this activator: its throttler, its load (revision-load.ts) and the prober of its pods.
 * A pod is usable when Kubernetes lists it as ready, or as soon as its queue-proxy (sidecar-less:
 * its app's own readiness probe) answers a probe. A pod that refused a connection is set aside until it answers a probe again.
 */
export class RevisionBackend {
  readonly load = new RevisionLoad(Date.now());
  private throttlerNow: RevisionThrottler;
  private readonly prober: PodProber;
  private pods: PodSet = { ready: [], notReady: [] };
  /** The activators in the revision's public Endpoints; undefined until a source tells, or in Serve mode. */
  private activators: readonly string[] | undefined;
  private readonly suspect = new Set<string>();

  constructor(
    private infoNow: RevisionInfo,
    private readonly options: BackendOptions,
  ) {
    this.throttlerNow = this.newThrottler();
    this.prober = new PodProber({
      intervalMs: options.probeIntervalMs,
      timeoutMs: options.probeTimeoutMs,
      onChange: (healthy) => this.onProbeChange(healthy),
      // Read per probe: an updated Deployment may change the app's probe.
      probe: (address, timeoutMs) => {
        const activatorAlwaysInPath = this.infoNow.activatorAlwaysInPath;
        return activatorAlwaysInPath ? appProbe(activatorAlwaysInPath.probe)(address, timeoutMs) : probeQueueProxy(address, timeoutMs);
      },
    });
  }

  get info(): RevisionInfo {
    return this.infoNow;
  }

  get throttler(): RevisionThrottler {
    return this.throttlerNow;
  }

  /** Usable pods right now. */
  get readyPods(): number {
    return this.throttlerNow.podCount;
  }

  /** A revision's containerConcurrency (or data-plane mode) never changes in Knative; if it does here, start afresh. */
  updateInfo(info: RevisionInfo): void {
    const changed = info.containerConcurrency !== this.infoNow.containerConcurrency || !info.activatorAlwaysInPath !== !this.infoNow.activatorAlwaysInPath;
    this.infoNow = info;
    if (changed) {
      this.throttlerNow = this.newThrottler();
      this.refresh();
    }
  }

  setPods(pods: PodSet): void {
    this.pods = pods;
    const known = new Set([...pods.ready, ...pods.notReady].map(formatAddress));
    for (const id of this.suspect) if (!known.has(id)) this.suspect.delete(id);
    this.reprobe();
    this.refresh();
  }

  /**
   * The addresses the revision's public Endpoints list: activators in Proxy mode. In Serve mode
   * they are its pods, and are ignored (knative/serving throttler.go `handlePubEpsUpdate`: this
   * activator is not in the path; it keeps its slice).
   */
  setActivators(ips: readonly string[]): void {
    const podHosts = new Set([...this.pods.ready, ...this.pods.notReady].map((a) => a.host));
    this.activators = ips.some((ip) => podHosts.has(ip)) ? undefined : ips;
    this.throttlerNow.updateActivators(this.activators, this.options.selfIp);
  }

  stop(): void {
    this.prober.stop();
  }

  private onRefused(pod: PodAddress): void {
    this.options.onRefused?.(this, pod);
    this.suspect.add(formatAddress(pod));
    this.prober.markUnhealthy(pod);
    this.reprobe();
    this.refresh();
  }

  private onProbeChange(healthy: readonly PodAddress[]): void {
    for (const a of healthy) this.suspect.delete(formatAddress(a));
    this.refresh();
  }

  /** Probe what Kubernetes does not vouch for: not-ready pods and suspects. */
  private reprobe(): void {
    const targets = [...this.pods.notReady, ...this.pods.ready.filter((a) => this.suspect.has(formatAddress(a)))];
    this.prober.setTargets(targets);
  }

  private refresh(): void {
    const probed = new Set(this.prober.healthy.map(formatAddress));
    const usable = [...this.pods.ready, ...this.pods.notReady].filter((a) => {
      const id = formatAddress(a);
      return probed.has(id) || (this.pods.ready.includes(a) && !this.suspect.has(id));
    });
    const before = this.throttlerNow.podCount;
    this.throttlerNow.updatePods(usable);
    if (usable.length !== before) this.options.onPodsChanged?.(this);
  }

  private newThrottler(): RevisionThrottler {
    const throttler = new RevisionThrottler({
      containerConcurrency: this.infoNow.containerConcurrency,
      queueDepth: this.options.queueDepth,
      // With a queue-proxy in each pod, an overlap while the activators learn of a change is held
      // there, as in Knative; without one, the handover keeps it from reaching the app.
      handoverMs: this.infoNow.activatorAlwaysInPath ? this.options.handoverMs : undefined,
      onRefused: (pod) => this.onRefused(pod),
    });
    if (this.activators !== undefined) throttler.updateActivators(this.activators, this.options.selfIp);
    return throttler;
  }
}
