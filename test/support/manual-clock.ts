import type { Clock } from '../../lib/runtime/shared/clock';

/**
 * A clock that moves only when told: `advance` fires the timers that fall due, in order, each at
 * its own instant, and lets the promises they started settle before the next one.
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = this.seq++;
    this.timers.set(id, { atMs: this.nowMs + Math.max(0, ms), fn });
    return () => this.timers.delete(id);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = this.nextTimer(target);
      if (!next) break;
      this.timers.delete(next.id);
      this.nowMs = Math.max(this.nowMs, next.atMs);
      next.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }

  private nextTimer(target: number): { id: number; atMs: number; fn: () => void } | undefined {
    let best: { id: number; atMs: number; fn: () => void } | undefined;
    for (const [id, t] of this.timers) if (t.atMs <= target && (!best || t.atMs < best.atMs)) best = { id, ...t };
    return best;
  }
}

/** Lets every promise that can settle now settle (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
