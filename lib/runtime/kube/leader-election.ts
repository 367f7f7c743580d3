import { CoordinationV1Api, V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger';
import { describeApiError, isConflict, isNotFound } from './client';

/**
 * Lease-based leader election (coordination.k8s.io/v1). client-node 1.4 ships no leader-election
 * helper, so this is a small one in client-go's manner: the holder renews `renewTime` every
 * `retryPeriodMs`; others take the Lease over once they have seen it unchanged for
 * `leaseDurationSeconds` (measured on their own clock from when they observed it, so clock skew
 * between pods does not matter). Every write is a replace carrying the read resourceVersion, so
 * of two candidates racing for an expired Lease exactly one succeeds (the other gets 409).
 */
export interface LeaderElectionProps {
  readonly coordination: CoordinationV1Api;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** Names the writer of the Lease in managedFields (client.ts FieldManagers). */
  readonly fieldManager: string;
  readonly logger: Logger;
  /** @default 15 */
  readonly leaseDurationSeconds?: number;
  /** The leader steps down when it could not renew for this long. @default 10000 */
  readonly renewDeadlineMs?: number;
  /** @default 2000 */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  /**
   * Asked before taking a Lease that nobody holds: `absent` when it does not exist yet, else it
   * is released or expired. False waits for the next attempt. Renewals never ask. @default always true
   */
  readonly mayAcquire?: (absent: boolean) => boolean;
  /** Told on each read who holds the Lease and since when (our clock) it has been unchanged. */
  readonly onObserved?: (holder: string | undefined, unchangedSinceMs: number) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

export class LeaderElector {
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  /** The Lease as last seen and when (our clock): the basis of the expiry check. */
  private observed: { resourceVersion: string; atMs: number } | undefined;
  /** The Lease as our last write of it returned it, while we lead: the next renewal's basis. */
  private lastWritten: V1Lease | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly props: LeaderElectionProps) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.loop();
  }

  /** Stops campaigning; a leader gives the Lease up so a follower takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.leading) {
      await withDeadline(this.release(), this.attemptTimeoutMs, 'releasing the lease').catch((err) =>
        this.props.logger.warn({ err: describeApiError(err) }, 'could not release the lease'),
      );
      this.setLeading(false);
    }
  }

  private loop(): void {
    if (this.stopped) return;
    // API requests carry no timeout of their own: an attempt that never answers must count as a
    // failed renewal, or a leader cut off from the API server would go on believing it leads.
    this.running = withDeadline(this.tryAcquireOrRenew(), this.attemptTimeoutMs, 'lease attempt')
      .then((ok) => this.afterAttempt(ok))
      .catch((err) => {
        this.props.logger.warn({ err: describeApiError(err) }, 'lease attempt failed');
        this.afterAttempt(false);
      })
      .finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(() => this.loop(), this.props.retryPeriodMs ?? 2000);
        this.timer.unref();
      });
  }

  private afterAttempt(ok: boolean): void {
    const now = this.now();
    if (ok) {
      this.lastRenewMs = now;
      if (!this.leading) this.setLeading(true);
    } else if (this.leading && now - this.lastRenewMs > (this.props.renewDeadlineMs ?? 10_000)) {
      this.setLeading(false);
    }
  }

  /** True when this candidate holds the Lease after the attempt. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const fast = await this.renewFromLastWrite();
    if (fast !== undefined) return fast;
    const { coordination, namespace, name, identity, fieldManager } = this.props;
    let lease: V1Lease;
    try {
      lease = await coordination.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return this.create();
    }
    const spec = lease.spec ?? {};
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    const now = this.now();
    if (this.observed?.resourceVersion !== resourceVersion) this.observed = { resourceVersion, atMs: now };
    this.props.onObserved?.(spec.holderIdentity ?? undefined, this.observed.atMs);
    const heldByOther = spec.holderIdentity && spec.holderIdentity !== identity;
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (heldByOther && this.observed.atMs + durationMs > now) return false;
    if (spec.holderIdentity !== identity && !this.mayAcquire(false)) return false;

    const takingOver = spec.holderIdentity !== identity;
    const renewed: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        renewTime: new V1MicroTime(now),
        acquireTime: takingOver ? new V1MicroTime(now) : spec.acquireTime,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && spec.holderIdentity ? 1 : 0),
      },
    };
    try {
      const written = await coordination.replaceNamespacedLease({ name, namespace, fieldManager, body: renewed });
      this.observed = { resourceVersion: written.metadata?.resourceVersion ?? '', atMs: now };
      this.lastWritten = written;
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else wrote it first
      throw err;
    }
  }

  /**
   * The leader's renewal in one request, as client-go's fast path (k8s.io/client-go
   * tools/leaderelection/leaderelection.go tryAcquireOrRenew, "update optimistically assuming
   * that the record observed last time is the current version"): the Lease we wrote last, with a
   * new renewTime, replaced without reading it first. Its resourceVersion guards it: if anyone
   * wrote the Lease since, the answer is 409 and the attempt falls back to read it (undefined).
   * Every renewal is a request of the client's rate limit (./rate-limiter.ts), so this halves
   * the Lease requests of a replica holding many buckets.
   */
  private async renewFromLastWrite(): Promise<boolean | undefined> {
    const last = this.lastWritten;
    this.lastWritten = undefined;
    if (!this.leading || last?.spec?.holderIdentity !== this.props.identity) return undefined;
    const { coordination, namespace, name, fieldManager } = this.props;
    const now = this.now();
    try {
      const body: V1Lease = { ...last, spec: { ...last.spec, renewTime: new V1MicroTime(now) } };
      const written = await coordination.replaceNamespacedLease({ name, namespace, fieldManager, body });
      this.observed = { resourceVersion: written.metadata?.resourceVersion ?? '', atMs: now };
      this.lastWritten = written;
      return true;
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  private async create(): Promise<boolean> {
    const { coordination, namespace, name, identity, fieldManager } = this.props;
    const now = this.now();
    if (!this.mayAcquire(true)) return false;
    try {
      this.lastWritten = await coordination.createNamespacedLease({
        namespace,
        fieldManager,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.leaseDurationSeconds,
            acquireTime: new V1MicroTime(now),
            renewTime: new V1MicroTime(now),
            leaseTransitions: 0,
          },
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // created by another candidate just now
      throw err;
    }
  }

  /** Empties the holder so followers need not wait out the lease duration. */
  private async release(): Promise<void> {
    const { coordination, namespace, name, identity, fieldManager } = this.props;
    const lease = await coordination.readNamespacedLease({ name, namespace });
    if (lease.spec?.holderIdentity !== identity) return;
    await coordination.replaceNamespacedLease({
      name,
      namespace,
      fieldManager,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1 } },
    });
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    if (!leading) this.lastWritten = undefined;
    this.props.logger.info({ identity: this.props.identity, lease: this.props.name }, leading ? 'became leader' : 'stopped leading');
    if (leading) this.props.onStartedLeading();
    else this.props.onStoppedLeading();
  }

  /** Each attempt must end well inside the renew deadline so a stuck leader steps down in time. */
  private get attemptTimeoutMs(): number {
    return Math.max(100, Math.floor((this.props.renewDeadlineMs ?? 10_000) / 2));
  }

  private get leaseDurationSeconds(): number {
    return this.props.leaseDurationSeconds ?? 15;
  }

  private now(): number {
    return (this.props.now ?? Date.now)();
  }

  private mayAcquire(absent: boolean): boolean {
    return this.props.mayAcquire?.(absent) ?? true;
  }
}

/** Rejects when `promise` has not settled within `ms`; the late result, if any, is dropped. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
