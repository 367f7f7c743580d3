import type { CoordinationV1Api } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger';
import { LeaderElector } from './leader-election';

/**
 * One Lease per bucket, one elector each (knative.dev/pkg leaderelection/context.go,
 * `standardBuilder.buildElector`: every replica campaigns for every bucket). A replica works on
 * the buckets it holds; losing a Lease (no renewal for the renew deadline, which is shorter than
 * the lease duration) ends that bucket's work before another replica can take it over.
 *
 * Splitting: Knative lets whoever comes first take every bucket. Here a replica takes a free or
 * expired bucket only while no live peer holds fewer buckets than it does, so the survivors of a
 * dead replica share its buckets out; and it creates at most one missing Lease per retry period,
 * so replicas starting together (the first start of the system) interleave and split them. A peer is live while
 * one of its Leases was seen renewed within `3 × retryPeriodMs`, well inside a lease duration, so
 * a dead peer stops counting before its Leases expire and its buckets move at expiry. A replica
 * that holds nothing is invisible in the Leases: one that (re)starts while the others hold every
 * bucket gets buckets only when one is freed (a peer stops or dies), as in Knative.
 */
export interface BucketLeasesProps {
  readonly coordination: CoordinationV1Api;
  readonly namespace: string;
  /** The Lease names, one per bucket (../autoscaler/buckets.ts bucketNames). */
  readonly buckets: readonly string[];
  readonly identity: string;
  readonly fieldManager: string;
  readonly logger: Logger;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** This replica holds `bucket` from now on. */
  readonly onAcquired: (bucket: string) => void;
  /** This replica no longer holds `bucket` (its work must stop now). */
  readonly onLost: (bucket: string) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

export class BucketLeases {
  private readonly held = new Set<string>();
  private readonly electors: LeaderElector[];
  /** Per bucket, its holder as last read. */
  private readonly holders = new Map<string, string | undefined>();
  /** Per holder identity, the latest time one of its Leases was seen to change. */
  private readonly lastRenewalSeen = new Map<string, number>();
  /** When this replica last tried to create a missing Lease. */
  private lastCreateMs: number | undefined;

  constructor(private readonly props: BucketLeasesProps) {
    this.electors = props.buckets.map((bucket) => this.elector(bucket));
  }

  holds(bucket: string): boolean {
    return this.held.has(bucket);
  }

  /** The buckets held now, sorted. */
  heldBuckets(): string[] {
    return [...this.held].sort();
  }

  start(): void {
    for (const e of this.electors) e.start();
  }

  /** Stops campaigning and releases every held Lease, so the peers take them over at once. */
  async stop(): Promise<void> {
    await Promise.all(this.electors.map((e) => e.stop()));
  }

  private elector(bucket: string): LeaderElector {
    const p = this.props;
    return new LeaderElector({
      coordination: p.coordination,
      namespace: p.namespace,
      name: bucket,
      identity: p.identity,
      fieldManager: p.fieldManager,
      logger: p.logger,
      leaseDurationSeconds: p.leaseDurationSeconds,
      renewDeadlineMs: p.renewDeadlineMs,
      retryPeriodMs: p.retryPeriodMs,
      now: p.now,
      mayAcquire: (absent) => this.mayAcquire(absent),
      onObserved: (holder, unchangedSinceMs) => this.observed(bucket, holder, unchangedSinceMs),
      onStartedLeading: () => {
        this.held.add(bucket);
        p.onAcquired(bucket);
      },
      onStoppedLeading: () => {
        this.held.delete(bucket);
        p.onLost(bucket);
      },
    });
  }

  private mayAcquire(absent: boolean): boolean {
    if (this.aLivePeerHoldsFewer()) return false;
    if (!absent) return true;
    const now = this.now();
    if (this.lastCreateMs !== undefined && now - this.lastCreateMs < this.props.retryPeriodMs) return false;
    this.lastCreateMs = now;
    return true;
  }

  private now(): number {
    return (this.props.now ?? Date.now)();
  }

  private observed(bucket: string, holder: string | undefined, unchangedSinceMs: number): void {
    this.holders.set(bucket, holder);
    if (holder === undefined || holder === this.props.identity) return;
    this.lastRenewalSeen.set(holder, Math.max(this.lastRenewalSeen.get(holder) ?? 0, unchangedSinceMs));
  }

  /** Whether a peer seen renewing lately holds fewer buckets than this replica. */
  private aLivePeerHoldsFewer(): boolean {
    const now = this.now();
    const liveWithin = 3 * this.props.retryPeriodMs;
    const counts = new Map<string, number>();
    for (const holder of this.holders.values()) {
      if (holder === undefined || holder === this.props.identity) continue;
      if (now - (this.lastRenewalSeen.get(holder) ?? 0) > liveWithin) continue;
      counts.set(holder, (counts.get(holder) ?? 0) + 1);
    }
    return [...counts.values()].some((n) => n < this.held.size);
  }
}
