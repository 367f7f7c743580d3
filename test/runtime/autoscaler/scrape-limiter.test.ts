import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RevisionStagger, ScrapeLimiter } from '../../../lib/runtime/autoscaler/scrape-limiter';

beforeEach(() => vi.useFakeTimers({ now: 0 }));
afterEach(() => vi.useRealTimers());

const after = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('ScrapeLimiter', () => {
  it('never has more than maxConcurrent scrapes in flight, and runs every one', async () => {
    const limiter = new ScrapeLimiter(8);
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    const scrape = async (ms: number) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      expect(limiter.inFlight).toBeLessThanOrEqual(8);
      await after(ms);
      inFlight--;
      done++;
    };
    const all = Array.from({ length: 300 }, (_, i) => limiter.run(() => scrape(1 + ((i * 37) % 50))));
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(done).toBe(300);
    expect(peak).toBe(8);
    expect(limiter.inFlight).toBe(0);
    expect(limiter.queued).toBe(0);
  });

  it('starts waiting scrapes in the order they came, and frees the slot of a failed scrape', async () => {
    const limiter = new ScrapeLimiter(1);
    const started: string[] = [];
    const failing = limiter.run(async () => {
      started.push('a');
      await after(10);
      throw new Error('scrape failed');
    });
    const b = limiter.run(async () => void started.push('b'));
    const c = limiter.run(async () => void started.push('c'));
    const failed = expect(failing).rejects.toThrow('scrape failed');
    expect(limiter.queued).toBe(2);
    await vi.advanceTimersByTimeAsync(10);
    await failed;
    await Promise.all([b, c]);
    expect(started).toEqual(['a', 'b', 'c']);
    expect(limiter.inFlight).toBe(0);
  });

  it('refuses a cap below 1', () => {
    expect(() => new ScrapeLimiter(0)).toThrow(/maxConcurrent must be a whole number ≥ 1, got 0/);
  });
});

describe('RevisionStagger', () => {
  it('gives each revision a fixed offset within the period, spread over it', () => {
    const stagger = new RevisionStagger({ periodMs: 1000 });
    const other = new RevisionStagger({ periodMs: 1000 });
    const tenths = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const key = `ns/rev-${i}`;
      const offset = stagger.offsetMs(key);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(1000);
      expect(other.offsetMs(key)).toBe(offset);
      tenths.add(Math.floor(offset / 100));
    }
    expect(tenths.size).toBe(10);
  });

  it("starts a revision's work at its offset after the round's start", async () => {
    const stagger = new RevisionStagger({ periodMs: 1000 });
    const key = 'default/hello-00001';
    const offset = stagger.offsetMs(key);
    const startedAt: number[] = [];
    const run = stagger.schedule(key, 0, async (at) => void startedAt.push(at, Date.now()));
    await vi.advanceTimersByTimeAsync(Math.max(0, offset - 1));
    expect(startedAt).toEqual(offset === 0 ? [0, 0] : []);
    await vi.advanceTimersByTimeAsync(1);
    await run;
    expect(startedAt).toEqual([offset, offset]);
  });

  it("skips a revision's round while its previous work is still running, so its scrapes never overlap", async () => {
    const stagger = new RevisionStagger({ periodMs: 1000 });
    const key = 'ns/slow-00001';
    let running = 0;
    let overlapped = false;
    let runs = 0;
    const work = async () => {
      running++;
      overlapped ||= running > 1;
      runs++;
      await after(2500); // slower than the period
      running--;
    };
    const rounds: Promise<void>[] = [];
    for (let round = 0; round < 6; round++) {
      rounds.push(stagger.schedule(key, round * 1000, work));
      expect(stagger.isRunning(key)).toBe(true);
      await vi.advanceTimersByTimeAsync(1000);
    }
    await vi.runAllTimersAsync();
    await Promise.all(rounds);
    expect(overlapped).toBe(false);
    // 6 rounds of 1 s with work of 2.5 s: the work runs in rounds 0 and 3 only.
    expect(runs).toBe(2);
    expect(stagger.isRunning(key)).toBe(false);
  });
});
