import { Breaker, QueueFullError, type Release } from '../shared/breaker';
import { LbPolicy, PodSlot, policyFor } from './lb-policy';
import { PodAddress, formatAddress } from './revision';
import { ALL_PODS, PodSlicer } from './subsetting';

/**
 * Per-revision throttling (knative/serving pkg/activator/net/throttler.go): a revision breaker whose capacity is
 * this activator's slots on the usable pods (an open/closed breaker on 0/≥1 pods when CC = 0) holds
 * requests in a bounded FIFO queue while there is no room; each admitted request then reserves a
 * slot on one of this activator's pods, picked by the LB policy. With several activators in the
 * revision's public Endpoints, each takes its slice of the pods' containerConcurrency
 * (./subsetting.ts). When the slice changes, waiting requests stay queued and take the new
 * slice's free slots (within their deadline, the revision's timeout), and those in flight on pods
 * the slice lost finish there, counted on top of the new slice. A pod that refuses the connection
 * is skipped and the request tries the next one (nothing was sent, so a retry is safe).
 */

/** Every usable pod refused the connection. */
export class NoPodAcceptedError extends Error {
  constructor(tried: number) {
    super(`all ${tried} pods refused the connection`);
    this.name = 'NoPodAcceptedError';
  }
}

export class PodTracker implements PodSlot {
  inFlight = 0;
  readonly id: string;

  constructor(
    readonly address: PodAddress,
    /** This activator's slots on the pod; set by the throttler as the slicing changes. */
    public capacity: number,
  ) {
    this.id = formatAddress(address);
  }

  hasCapacity(): boolean {
    return this.inFlight < this.capacity;
  }
}

/**
 * A revision slot and a pod slot, held together; `release()` gives both back (later calls do
 * nothing), `refused()` too, and takes the pod out until it probes healthy. One per request.
 */
export class Reservation {
  private released = false;

  constructor(
    private readonly tracker: PodTracker,
    private readonly releaseRevision: Release,
    private readonly throttler: RevisionThrottler,
  ) {
    tracker.inFlight++;
  }

  get pod(): PodAddress {
    return this.tracker.address;
  }

  /** `host:port` of the pod (also the Host header the activator sends). */
  get podId(): string {
    return this.tracker.id;
  }

  /**
   * The pod refused the connection before anything was sent: the slots go back, the pod is
   * reported, and the caller may reserve again with this pod in its `tried` set.
   */
  refused(): void {
    if (this.released) return;
    this.release();
    this.throttler.podRefused(this.tracker.address);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const outsideSlice = this.tracker.inFlight > this.tracker.capacity;
    this.tracker.inFlight--;
    this.throttler.podSlotFreed(this.tracker, outsideSlice);
    this.releaseRevision();
  }
}

/** Who asked `RevisionThrottler.reserve`: told once (unless it gave up first), called as methods. */
export interface ReservationClient {
  reserved(reservation: Reservation): void;
  failed(error: Error): void;
}

/** What `reserve` returns when it answered at once: there is no wait to give up. */
const NOTHING_TO_CANCEL = (): void => undefined;

export interface ThrottlerProps {
  readonly containerConcurrency: number;
  readonly queueDepth: number;
  /** Told when a pod refused a connection, so it can be taken out until it probes healthy. */
  readonly onRefused?: (pod: PodAddress) => void;
  /** @default Math.random (injected by tests of the LB policy) */
  readonly random?: () => number;
  /**
   * How long after a change of the slicing this activator keeps off the slots others may still
   * use (./subsetting.ts). Undefined: no handover, as Knative (a queue-proxy holds any excess).
   */
  readonly handoverMs?: number;
  /** @default Date.now (injected by tests) */
  readonly now?: () => number;
}

export class RevisionThrottler {
  private readonly breaker: Breaker;
  private readonly policy: LbPolicy;
  private readonly podCapacity: number;
  private pods: PodTracker[] = [];
  /**
   * Pods gone from the usable list that still have requests in flight (capacity 0): kept so the
   * pod keeps one in-flight count if it comes back before they end.
   */
  private readonly draining = new Map<string, PodTracker>();
  /**
   * Requests in flight beyond their pod's current slots: on pods that left this activator's slice
   * (or shrank in it, or left the revision) since they were sent. They finish normally; the
   * breaker counts them on top of the slice, so they do not hold back waiting requests from the
   * slots the new slice has free (knative/serving pkg/activator/net/throttler.go `updateCapacity`
   * keeps the breaker's waiting queue when capacity changes; here the waiters also get the new
   * slots at once).
   */
  private outsideSlice = 0;
  /** Slots of this activator's current slice (the breaker's capacity less `outsideSlice`). */
  private sliceCapacity = 0;
  /** The pods this activator sends to: those it has slots on. */
  private assigned: PodTracker[] = [];
  private readonly slicer: PodSlicer;
  private activators: readonly string[] | undefined;
  private self: string | undefined;
  private handoverTimer: NodeJS.Timeout | undefined;
  /** Requests admitted by the breaker that wait for a pod slot to free up or a pod to appear. */
  private readonly slotWaiters = new Set<SlotWaiter>();

  constructor(private readonly props: ThrottlerProps) {
    this.podCapacity = props.containerConcurrency > 0 ? props.containerConcurrency : Infinity;
    this.breaker = new Breaker({ capacity: 0, queueDepth: props.queueDepth });
    this.policy = policyFor(props.containerConcurrency, props.random);
    this.slicer = new PodSlicer(props.containerConcurrency, props.handoverMs);
  }

  get podCount(): number {
    return this.pods.length;
  }

  /** Requests holding a revision slot (being proxied, or about to be). */
  get inFlight(): number {
    return this.breaker.inFlight;
  }

  /** Requests held in the queue. */
  get waiting(): number {
    return this.breaker.waiting;
  }

  /** This activator's slots on the revision now (not counting requests still in flight outside them). */
  get capacity(): number {
    return this.sliceCapacity;
  }

  /** This activator's slots per pod id (0 for pods of other activators). */
  get podCapacities(): ReadonlyMap<string, number> {
    return new Map(this.pods.map((p) => [p.id, p.capacity]));
  }

  /**
   * Replaces the usable pods; trackers (and their in-flight counts) of pods that stay, or come
   * back while requests are still in flight to them, are kept.
   */
  updatePods(addresses: readonly PodAddress[]): void {
    const existing = new Map([...this.draining, ...this.pods.map((p): [string, PodTracker] => [p.id, p])]);
    this.pods = addresses.map((a) => existing.get(formatAddress(a)) ?? new PodTracker(a, 0));
    this.draining.clear();
    for (const p of this.pods) existing.delete(p.id);
    for (const gone of existing.values()) {
      gone.capacity = 0;
      if (gone.inFlight > 0) this.draining.set(gone.id, gone);
    }
    this.reslice();
  }

  /**
   * The activators in the revision's public Endpoints (IPs; undefined = not known) and this
   * activator's own IP (undefined = not known): together they decide this activator's slice.
   */
  updateActivators(activators: readonly string[] | undefined, self: string | undefined): void {
    this.activators = activators;
    this.self = self;
    this.reslice();
  }

  /** Sets every tracker's capacity from the slicing, and the breaker's to their sum. */
  private reslice(): void {
    const cc = this.props.containerConcurrency;
    const nowMs = (this.props.now ?? Date.now)();
    this.slicer.update(this.pods.map((p) => p.id), this.activators, this.self, nowMs);
    const shares = this.slicer.ownShares(nowMs);
    let total = 0;
    let outside = 0;
    for (const p of this.pods) {
      p.capacity = shares === ALL_PODS ? this.podCapacity : (shares.get(p.id) ?? 0);
      total += p.capacity;
      outside += Math.max(0, p.inFlight - p.capacity);
    }
    for (const p of this.draining.values()) outside += p.inFlight;
    this.assigned = this.pods.filter((p) => p.capacity > 0);
    this.sliceCapacity = cc === 0 ? (this.pods.length > 0 ? Infinity : 0) : total;
    this.outsideSlice = outside;
    this.breaker.setCapacity(this.sliceCapacity + outside);
    this.scheduleHandoverEnd(nowMs);
    this.wakeSlotWaiters();
  }


  /** The slots held back during a handover come back when it ends. */
  private scheduleHandoverEnd(nowMs: number): void {
    clearTimeout(this.handoverTimer);
    const endsAt = this.slicer.handoverEndsAt(nowMs);
    if (endsAt === undefined) return;
    this.handoverTimer = setTimeout(() => this.reslice(), endsAt - nowMs);
    this.handoverTimer.unref();
  }

  /**
   * The one way in: `client.reserved` gets a revision slot and a pod slot picked by the LB policy
   * (skipping pods in `tried`, ids `host:port`, that already refused this request) — at once,
   * from inside this call, when there is room — or `client.failed` gets a QueueFullError or a
   * NoPodAcceptedError. Returns a function that gives up waiting (no callback follows it).
   * Callbacks, no promise or AbortSignal, and no allocation but the Reservation when there is room.
   */
  reserve(tried: ReadonlySet<string>, client: ReservationClient): () => void {
    const releaseRevision = this.breaker.tryAcquire();
    if (releaseRevision !== undefined && this.slotWaiters.size === 0 && this.takePodSlot(tried, client, releaseRevision)) return NOTHING_TO_CANCEL;
    return this.reserveLater(tried, client, releaseRevision);
  }

  /**
   * Takes a slot on a pod picked by the LB policy and tells the client (or fails it when every
   * pod was tried); false, with nothing done, when every untried pod is full. Picking and taking
   * are one synchronous step, so no other request can slip in. (Also used by PendingReservation.)
   */
  takePodSlot(tried: ReadonlySet<string>, client: ReservationClient, releaseRevision: Release): boolean {
    const untried = tried.size === 0 ? this.assigned : this.assigned.filter((p) => !tried.has(p.id));
    if (this.assigned.length > 0 && untried.length === 0) {
      releaseRevision();
      client.failed(new NoPodAcceptedError(tried.size));
      return true;
    }
    const pick = this.policy(untried);
    if (pick === undefined) return false;
    client.reserved(new Reservation(pick, releaseRevision, this));
    return true;
  }

  /** `reserve` when the request has to wait: for a revision slot (`releaseRevision` undefined), or for a pod slot. */
  private reserveLater(tried: ReadonlySet<string>, client: ReservationClient, releaseRevision: Release | undefined): () => void {
    const pending = new PendingReservation(this, tried, client);
    if (releaseRevision !== undefined) {
      pending.granted(releaseRevision);
    } else {
      const leave = this.breaker.wait(pending.granted.bind(pending));
      if (leave === undefined) {
        client.failed(new QueueFullError());
        return NOTHING_TO_CANCEL;
      }
      pending.leaveRevisionQueue = leave;
    }
    return pending.cancel.bind(pending);
  }

  /** For PendingReservation: whether admitted requests already wait for a pod slot (they go first). */
  hasSlotWaiters(): boolean {
    return this.slotWaiters.size > 0;
  }

  /** For PendingReservation: waits for a pod slot to free up or a pod to appear. */
  joinSlotQueue(waiter: SlotWaiter): void {
    this.slotWaiters.add(waiter);
  }

  /** For PendingReservation: stops waiting for a pod slot. */
  leaveSlotQueue(waiter: SlotWaiter): void {
    this.slotWaiters.delete(waiter);
  }

  /**
   * A pod slot was given back (before its revision slot): requests waiting for one try again.
   * One in flight outside the slice gives its revision slot back for good, so the breaker's
   * capacity shrinks by one first and the revision slot it frees goes to no one.
   */
  podSlotFreed(tracker: PodTracker, outsideSlice: boolean): void {
    if (outsideSlice) {
      this.outsideSlice--;
      if (tracker.inFlight === 0 && this.draining.get(tracker.id) === tracker) this.draining.delete(tracker.id);
      this.breaker.setCapacity(this.sliceCapacity + this.outsideSlice);
    }
    this.wakeSlotWaiters();
  }

  /** For Reservation.refused: the pod is taken out until it probes healthy. */
  podRefused(pod: PodAddress): void {
    this.props.onRefused?.(pod);
  }

  private wakeSlotWaiters(): void {
    if (this.slotWaiters.size === 0) return;
    for (const waiter of [...this.slotWaiters]) waiter.wake();
  }
}

/** Waits for a pod slot to free up or a pod to appear. */
interface SlotWaiter {
  wake(): void;
}

/**
 * A `reserve` that has to wait: first (maybe) for a revision slot, then (maybe) for a pod slot.
 * A state machine in one object: at saturation every request takes this path
 * (docs/runtime-performance.md, "Activator path profile").
 */
class PendingReservation implements SlotWaiter {
  private state: 'waiting for the revision' | 'waiting for a pod' | 'done' = 'waiting for the revision';
  /** Leaves the revision's queue (the breaker's); set while waiting there. */
  leaveRevisionQueue: (() => void) | undefined;
  private releaseRevision: Release | undefined;

  constructor(
    private readonly throttler: RevisionThrottler,
    private readonly tried: ReadonlySet<string>,
    private readonly client: ReservationClient,
  ) {}

  /** The revision slot is ours. */
  granted(release: Release): void {
    this.leaveRevisionQueue = undefined;
    if (this.state === 'done') return release(); // cancelled meanwhile
    this.releaseRevision = release;
    if (this.throttler.hasSlotWaiters()) return this.waitForPod(); // those already admitted go first
    this.tryPod();
  }

  /** A pod slot may have freed up (or a pod appeared). */
  wake(): void {
    this.throttler.leaveSlotQueue(this);
    this.tryPod();
  }

  cancel(): void {
    const state = this.state;
    this.state = 'done';
    if (state === 'waiting for the revision') {
      this.leaveRevisionQueue?.();
    } else if (state === 'waiting for a pod') {
      this.throttler.leaveSlotQueue(this);
      this.releaseRevision!();
    }
  }

  private tryPod(): void {
    // 'done' before the client hears: it may give up from inside its callback.
    this.state = 'done';
    if (!this.throttler.takePodSlot(this.tried, this.client, this.releaseRevision!)) this.waitForPod();
  }

  private waitForPod(): void {
    this.state = 'waiting for a pod';
    this.throttler.joinSlotQueue(this);
  }
}
