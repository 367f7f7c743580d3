import { afterEach, describe, expect, it, vi } from 'vitest';
import { Drainer } from '../../../lib/runtime/queue-proxy/drain';

describe('Drainer', () => {
  afterEach(() => void vi.useRealTimers());

  it('completes when the quiet period passes with no request, each request restarting it', async () => {
    vi.useFakeTimers();
    const drainer = new Drainer(1000);
    let drained = false;
    void drainer.drain().then(() => (drained = true));
    expect(drainer.draining).toBe(true);
    await vi.advanceTimersByTimeAsync(800);
    drainer.noteRequest();
    await vi.advanceTimersByTimeAsync(800);
    expect(drained).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(drained).toBe(true);
    expect(drainer.draining).toBe(true); // stays unready after draining
  });

  it('requests before a drain do not start one', async () => {
    vi.useFakeTimers();
    const drainer = new Drainer(1000);
    drainer.noteRequest();
    expect(drainer.draining).toBe(false);
  });

  it('reset ends the drain and releases waiters', async () => {
    vi.useFakeTimers();
    const drainer = new Drainer(30_000);
    const done = drainer.drain();
    drainer.reset();
    await done;
    expect(drainer.draining).toBe(false);
  });

  it('a second drain after the quiet period resolves at once', async () => {
    vi.useFakeTimers();
    const drainer = new Drainer(100);
    const first = drainer.drain();
    await vi.advanceTimersByTimeAsync(100);
    await first;
    await drainer.drain();
    expect(drainer.draining).toBe(true);
  });
});
