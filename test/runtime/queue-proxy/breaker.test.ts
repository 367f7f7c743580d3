import { describe, expect, it } from 'vitest';
import { Breaker, QueueFullError } from '../../../lib/runtime/shared/breaker';

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('Breaker', () => {
  it('lets capacity holders in at once and queues the rest', async () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 5 });
    await breaker.acquire();
    await breaker.acquire();
    let third = false;
    void breaker.acquire().then(() => (third = true));
    await flush();
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting, third }).toEqual({ inFlight: 2, waiting: 1, third: false });
  });

  it('hands a released slot to the longest waiter (FIFO)', async () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 5 });
    const first = await breaker.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => breaker.acquire().then((release) => (order.push(n), release)));
    first();
    (await waiters[0])();
    (await waiters[1])();
    (await waiters[2])();
    expect(order).toEqual([1, 2, 3]);
    expect(breaker.inFlight).toBe(0);
  });

  it('rejects at once with QueueFullError when queueDepth callers wait', async () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    await breaker.acquire();
    void breaker.acquire();
    void breaker.acquire();
    await expect(breaker.acquire()).rejects.toBeInstanceOf(QueueFullError);
    await expect(breaker.acquire()).rejects.toThrow('pending request queue full');
    expect(breaker.waiting).toBe(2);
  });

  it('a release called twice frees one slot only', async () => {
    const breaker = new Breaker({ capacity: 2, queueDepth: 0 });
    const release = await breaker.acquire();
    await breaker.acquire();
    release();
    release();
    expect(breaker.inFlight).toBe(1);
  });

  it('an aborted waiter leaves the queue and rejects with the reason', async () => {
    const breaker = new Breaker({ capacity: 1, queueDepth: 2 });
    const held = await breaker.acquire();
    const controller = new AbortController();
    const waiting = breaker.acquire(controller.signal);
    const next = breaker.acquire();
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(breaker.waiting).toBe(1);
    held();
    await next; // the waiter behind the aborted one gets the slot
    expect(breaker.inFlight).toBe(1);
  });

  it('rejects at once with an already aborted signal', async () => {
    const breaker = new Breaker({ capacity: 5, queueDepth: 5 });
    await expect(breaker.acquire(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
    expect(breaker.inFlight).toBe(0);
  });

  it('admits waiters when capacity grows and holds new ones when it shrinks', async () => {
    const breaker = new Breaker({ capacity: 0, queueDepth: 10 });
    const waiters = [breaker.acquire(), breaker.acquire(), breaker.acquire()];
    await flush();
    expect(breaker.inFlight).toBe(0);
    breaker.setCapacity(2);
    const [a, b] = await Promise.all(waiters.slice(0, 2));
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 2, waiting: 1 });
    breaker.setCapacity(1);
    a();
    await flush();
    expect({ inFlight: breaker.inFlight, waiting: breaker.waiting }).toEqual({ inFlight: 1, waiting: 1 });
    b();
    (await waiters[2])();
    expect(breaker.inFlight).toBe(0);
  });

  it('Infinity capacity never queues', async () => {
    const breaker = new Breaker({ capacity: Infinity, queueDepth: 0 });
    await Promise.all(Array.from({ length: 1000 }, () => breaker.acquire()));
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
