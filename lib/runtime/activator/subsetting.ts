/**
 * How the activators listed in a revision's public Endpoints split its pods' containerConcurrency
 * between them (knative/serving pkg/activator/net/throttler.go: `assignSlice`, `pickIndices`,
 * `inferIndex`, `updateCapacity`, `handlePubEpsUpdate`). Each activator finds its index in the
 * sorted list of activator IPs and takes its slice of the pods, sorted by address:
 *
 * - pods >= activators: Knative's slices. Activator i takes pods [i·s, (i+1)·s) with
 *   s = ⌊pods / activators⌋, and activator i < (pods mod activators) also takes the i-th of the
 *   last (pods mod activators) pods. Every pod has exactly one activator, at full
 *   containerConcurrency.
 * - pods < activators: activator i takes pod i mod pods (Knative), and the activators sharing a
 *   pod split its containerConcurrency between them (Knative gives each the full value and lets
 *   the queue-proxy hold the excess; mode `activator` has no queue-proxy). Each keeps at least
 *   one slot, so no listed activator holds requests forever: the shares of a pod add up to at
 *   most its containerConcurrency as long as pods × containerConcurrency >= activators, which the
 *   autoscaler keeps true for mode `activator` (`activatorsWithASlot`, lib/contract/activator-subsetting.ts).
 *
 * An activator dropped from the list keeps its slots of the last view that listed it, on the
 * pods still there (Knative keeps its last index: it may still be sent requests while the change
 * propagates, and a draining activator serves what it holds). One that was never listed uses
 * every pod at full containerConcurrency while it knows no list (Knative's index -1), but
 * nothing once it knows a list without itself: requests reach it then only because it was just
 * added, and they wait the moment it takes to learn that rather than take slots the listed
 * activators hold.
 *
 * Changes (a pod or an activator added or removed) move pods between activators, and the
 * activators learn of them at different moments while requests sent under the old assignment
 * still run. Knative does nothing about that: the queue-proxy holds the excess, and so it is in
 * mode `full` here. Without a queue-proxy (mode `activator`) there is a handover: for
 * `handoverMs` after each change (twice that for the slots of an activator the change drops),
 * an activator takes of a pod only what the other activators cannot be using under the
 * assignments before the change or after it, and a dropped activator keeps its last slots for
 * `handoverMs` only (requests still waiting there then wait until it is listed again, or their
 * timeout). Guarantee (property-tested by simulation in test/runtime/activator/subsetting.test.ts):
 * the requests in flight to a pod never exceed its containerConcurrency as long as (1) pods ×
 * containerConcurrency >= listed activators, (2) every activator sees the same sequence of
 * (pods, activators) views, in order, and (3) with L the longest an activator, or the routers,
 * take to learn of a change after the first activator does, and D the longest request,
 * L + D <= handoverMs. Without (1), a pod's sharers hold one slot each (Knative's behaviour).
 */

/** Slots per pod (by `host:port`) for each activator (by IP). */
export type Shares = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Knative sorts both lists as strings (`sets.List`, `sort.Slice` on dest). */
function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** Every listed activator's slots on every pod; pods it does not take are absent from its map. */
export function assignShares(pods: readonly string[], activators: readonly string[], containerConcurrency: number): Map<string, Map<string, number>> {
  const p = sortedUnique(pods);
  const a = sortedUnique(activators);
  const shares = new Map(a.map((ip) => [ip, new Map<string, number>()]));
  if (p.length === 0) return shares;
  a.forEach((ip, i) => {
    const own = shares.get(ip)!;
    if (p.length >= a.length) {
      for (const pod of knativeSlice(p, i, a.length)) own.set(pod, containerConcurrency);
    } else {
      own.set(p[i % p.length], splitShare(i, p.length, a.length, containerConcurrency));
    }
  });
  return shares;
}

/** knative/serving `assignSlice` for pods >= activators: a contiguous slice, plus one of the remnants. */
function knativeSlice(pods: readonly string[], index: number, activators: number): string[] {
  const size = Math.floor(pods.length / activators);
  const remnants = pods.length % activators;
  const slice = pods.slice(index * size, (index + 1) * size);
  if (index < remnants) slice.push(pods[pods.length - remnants + index]);
  return slice;
}

/**
 * Activator `index`'s slots on its pod (index mod pods) when there are fewer pods than
 * activators: the pod's sharers (every `pods`-th activator) take ⌊cc / sharers⌋ each, the first
 * (cc mod sharers) of them one more; at least 1.
 */
function splitShare(index: number, pods: number, activators: number, cc: number): number {
  const pod = index % pods;
  const sharers = Math.floor(activators / pods) + (pod < activators % pods ? 1 : 0);
  const rank = Math.floor(index / pods);
  return Math.max(1, Math.floor(cc / sharers) + (rank < cc % sharers ? 1 : 0));
}

/** Every pod at full containerConcurrency: not sliced (never listed, or unbounded concurrency). */
export const ALL_PODS = 'all';
const NONE: ReadonlyMap<string, number> = new Map();

/** The slots another activator may still be using from a view before a change, and until when. */
interface Held {
  readonly pods: ReadonlyMap<string, number>;
  readonly untilMs: number;
}

/**
 * One activator's slots on one revision's pods, from the views it is given (its own IP, the
 * revision's usable pods and the activators in its public Endpoints), with the handover above.
 */
export class PodSlicer {
  private self: string | undefined;
  /** The pods of the last view. */
  private pods: ReadonlySet<string> = new Set();
  /** The last activator list seen, whoever it held. */
  private seen: readonly string[] | undefined;
  /** Every activator's shares in the last view that listed this activator (kept while it is not listed). */
  private current: Shares | undefined;
  /** Every activator's shares in the last view with a known list. */
  private latest: Shares = new Map();
  /** Per other activator, its slots before the latest changes, while it may still use them. */
  private readonly held = new Map<string, Held>();
  /** When this activator learned it was dropped from the list; undefined while listed. */
  private droppedAtMs: number | undefined;
  /**
   * `held` when it was dropped. Its slots are then those of its last view, bounded as they were
   * then: the listed activators hold them (twice handoverMs) rather than take them.
   */
  private heldAtDrop: ReadonlyMap<string, Held> = new Map();

  constructor(
    private readonly containerConcurrency: number,
    /** Undefined: Knative's behaviour, no handover (the queue-proxy holds any excess). */
    private readonly handoverMs: number | undefined,
  ) {}

  /** When the slots next change with time alone (a handover ending; the caller recomputes then). */
  handoverEndsAt(nowMs: number): number | undefined {
    if (this.handoverMs === undefined) return undefined;
    const ends = [...this.held.values()].map((h) => h.untilMs);
    if (this.droppedAtMs !== undefined) ends.push(this.droppedAtMs + this.handoverMs);
    const future = ends.filter((t) => t > nowMs);
    return future.length > 0 ? Math.min(...future) : undefined;
  }

  /**
   * A new view: the revision's usable pods (`host:port`), the activator IPs its public Endpoints
   * list (undefined: not known, e.g. standalone without a list, or Serve mode, whose list the
   * caller leaves out) and this activator's IP (undefined: not known).
   */
  update(pods: readonly string[], activators: readonly string[] | undefined, self: string | undefined, nowMs: number): void {
    if (this.containerConcurrency === 0) return;
    this.self = self;
    if (activators !== undefined) {
      // The view before, as every activator had it (this one included, or not yet).
      const previous = assignShares([...this.pods], this.seen ?? activators.filter((ip) => ip !== self), this.containerConcurrency);
      const next = assignShares(pods, activators, this.containerConcurrency);
      if (this.handoverMs !== undefined && !sameShares(previous, next)) this.hold(previous, next, this.handoverMs, nowMs);
      this.latest = next;
      this.seen = activators;
      if (self !== undefined && activators.includes(self)) {
        this.current = next;
        this.droppedAtMs = undefined;
      } else if (this.current !== undefined && this.droppedAtMs === undefined) {
        this.droppedAtMs = nowMs;
        this.heldAtDrop = new Map(this.held);
      }
    }
    this.pods = new Set(pods);
  }

  /**
   * This activator's slots per pod now: ALL_PODS when not sliced (unbounded concurrency, or no
   * list and own IP known yet: Knative's index -1); none while a known list leaves it out and it
   * was never in one (it is not in the path yet: requests reaching it wait until it learns that
   * it was added, rather than take slots the listed activators hold). Dropped from the list, it
   * keeps its slots of the last view that listed it, on the pods still there (for handoverMs, if set).
   */
  ownShares(nowMs: number): ReadonlyMap<string, number> | typeof ALL_PODS {
    const self = this.self;
    if (this.containerConcurrency === 0 || self === undefined) return ALL_PODS;
    if (this.current === undefined) return this.seen === undefined ? ALL_PODS : NONE;
    if (this.handoverMs !== undefined && this.droppedAtMs !== undefined && nowMs >= this.droppedAtMs + this.handoverMs) return NONE;
    const own = new Map<string, number>();
    for (const [pod, share] of this.current.get(self) ?? NONE) {
      if (!this.pods.has(pod)) continue;
      const others = this.droppedAtMs === undefined ? this.othersMost(pod, self, nowMs, this.held, this.latest) : this.othersMost(pod, self, nowMs, this.heldAtDrop, this.current);
      own.set(pod, Math.max(0, Math.min(share, this.containerConcurrency - others)));
    }
    return own;
  }

  /**
   * The slots the other activators may be using on `pod` during a handover: theirs in `view`, or
   * more they still hold from before. 0 outside a handover: the view's shares already add up to at
   * most containerConcurrency (with pods × CC < activators they do not, and every sharer keeps
   * its slot).
   */
  private othersMost(pod: string, self: string, nowMs: number, heldNow: ReadonlyMap<string, Held>, view: Shares): number {
    if (![...heldNow.values()].some((h) => h.untilMs > nowMs)) return 0;
    let sum = 0;
    for (const ip of new Set([...heldNow.keys(), ...view.keys()])) {
      if (ip === self) continue;
      const held = heldNow.get(ip);
      const before = held && held.untilMs > nowMs ? (held.pods.get(pod) ?? 0) : 0;
      sum += Math.max(before, view.get(ip)?.get(pod) ?? 0);
    }
    return sum;
  }

  /**
   * A change: every activator's slots before it are held for handoverMs (merged with what is
   * still held). Those of an activator the change drops are held for twice as long: it may use
   * them for handoverMs after it learns of the drop, which may be up to a handover later.
   */
  private hold(previous: Shares, next: Shares, handoverMs: number, nowMs: number): void {
    for (const [ip, pods] of previous) {
      const untilMs = nowMs + (next.has(ip) ? 1 : 2) * handoverMs;
      const still = this.held.get(ip);
      const active = still && still.untilMs > nowMs ? still : undefined;
      this.held.set(ip, {
        pods: active ? mostOf(active.pods, pods) : pods,
        untilMs: Math.max(untilMs, active?.untilMs ?? 0),
      });
    }
    for (const [ip, h] of this.held) if (h.untilMs <= nowMs) this.held.delete(ip);
  }
}

function mostOf(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map(a);
  for (const [pod, n] of b) out.set(pod, Math.max(out.get(pod) ?? 0, n));
  return out;
}

function sameShares(a: Shares, b: Shares): boolean {
  if (a.size !== b.size) return false;
  for (const [ip, pods] of a) {
    const other = b.get(ip);
    if (other === undefined || other.size !== pods.size) return false;
    for (const [pod, n] of pods) if (other.get(pod) !== n) return false;
  }
  return true;
}
