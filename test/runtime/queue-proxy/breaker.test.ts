import { describe, expect, it } from 'vitest';
import { Breaker, type Release } from '../../../lib/runtime/shared/breaker';

/** One caller: a slot at once (tryAcquire), else a place in the queue (wait), else turned away. */
function enter(breaker: Breaker) {
  const caller: { release?: Release; leave?: () => void; full: boolean } = { full: false };
  caller.release = breaker.tryAcquire();
  if (caller.release !== undefined) return caller;
  caller.leave = breaker.wait((release) => (caller.release = release));
  caller.full = caller.leave === undefined;
  return caller;
}

describe('Breaker', () => {
  it('lets capacity holders in at once and queues the rest', () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 5 });
    const [a, b, c] = [enter(breaker), enter(breaker), enter(breaker)];
    expect([a, b, c].map((x) => x.release !== undefined)).toEqual([true, true, false]);
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 2, waiting: 1 });
  });

  it('hands a released slot to the longest waiter (FIFO)', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 5 });
    const first = enter(breaker);
    const order: number[] = [];
    for (const n of [1, 2, 3]) breaker.wait((release) => (order.push(n), release()));
    first.release!();
    expect(order).toEqual([1, 2, 3]);
    expect(breaker.inFlight).toBe(0);
  });

  it('turns a caller away at once when queueDepth callers wait', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const callers = [enter(breaker), enter(breaker), enter(breaker), enter(breaker)];
    expect(callers.map((c) => c.full)).toEqual([false, false, false, true]);
    expect(breaker.waiting).toBe(2);
  });

  it('tryAcquire never jumps the queue', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const held = enter(breaker);
    const queued = enter(breaker);
    breaker.setCapacity(1);
    held.release!();
    expect(queued.release).toBeDefined();
    expect(breaker.tryAcquire()).toBeUndefined();
  });

  it('a release called twice frees one slot only', () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 0 });
    const first = enter(breaker);
    enter(breaker);
    first.release!();
    first.release!();
    expect(breaker.inFlight).toBe(1);
  });

  it('a waiter that leaves is never granted, and the one behind it is', () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const held = enter(breaker);
    const leaving = enter(breaker);
    const next = enter(breaker);
    leaving.leave!();
    expect(breaker.waiting).toBe(1);
    held.release!();
    expect(leaving.release).toBeUndefined();
    expect(next.release).toBeDefined();
    expect(breaker.inFlight).toBe(1);
  });

  it('admits waiters when capacity grows and holds new ones when it shrinks', () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 10 });
    const [a, b, c] = [enter(breaker), enter(breaker), enter(breaker)];
    expect(breaker.inFlight).toBe(0);
    breaker.setCapacity(2);
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 2, waiting: 1 });
    breaker.setCapacity(1);
    a.release!();
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 1, waiting: 1 });
    b.release!();
    c.release!();
    expect(breaker.inFlight).toBe(0);
  });

  it('Infinity capacity never queues', () => {
    const breaker = new Breaker({ capacity: Infinity, queueDepth: 0 });
    const callers = Array.from({ length: 1000 }, () => enter(breaker));
    expect(callers.every((c) => c.release !== undefined)).toBe(true);
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 1000, waiting: 0 });
  });

  it.each([
    [{ capacity: -1, queueDepth: 1 }, 'capacity'],
    [{ capacity: NaN, queueDepth: 1 }, 'capacity'],
    [{ capacity: 1, queueDepth: -1 }, 'queueDepth'],
  ])('rejects bad props %o', (props, field) => {
    expect(() => new Breaker(props)).toThrow(field);
  });
});
