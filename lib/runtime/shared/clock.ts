/**
 * Time as a dependency: what a component that waits needs (the current instant and a timer), so
 * its tests run on a manual clock, step by step, with no real waiting (see
 * test/support/manual-clock.ts). The process uses `systemClock`.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** A source of numbers in [0, 1), e.g. for jitter; tests pass a fixed sequence. */
export type RandomSource = () => number;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    // A pending retry must not keep a stopping process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
