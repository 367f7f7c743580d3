import { ApiException, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bucketNames } from '../../../lib/runtime/autoscaler/buckets';
import { BucketLeases } from '../../../lib/runtime/kube/bucket-leases';
import { createLogger } from '../../../lib/runtime/shared/logger';

// The electors against an in-memory Lease store with the API server's optimistic concurrency
// (create of an existing name and replace with a stale resourceVersion answer 409), on a fake
// clock. The same electors run against the real API server in test/cluster/autoscaler-api.test.ts.

const logger = createLogger('test', { level: 'silent' });
const BUCKETS = bucketNames('kservice-autoscaler-bucket', 10);
const LEASE_SECONDS = 15;
const RETRY_MS = 2000;
const RENEW_DEADLINE_MS = 10_000;

class LeaseStore {
  private readonly leases = new Map<string, V1Lease>();
  private version = 0;
  /** Identities whose requests fail (cut off from the API server). */
  readonly cutOff = new Set<string>();
  /** Every request as `<identity> <verb>`. */
  readonly requests: string[] = [];

  api(identity: string): CoordinationV1Api {
    const guard = (verb: string) => {
      this.requests.push(`${identity} ${verb}`);
      if (this.cutOff.has(identity)) throw new Error(`${identity}: connection refused`);
    };
    return {
      readNamespacedLease: async ({ name }: { name: string }) => {
        guard('get');
        const lease = this.leases.get(name);
        if (!lease) throw new ApiException(404, 'not found', {}, {});
        return structuredClone(lease);
      },
      createNamespacedLease: async ({ body }: { body: V1Lease }) => {
        guard('create');
        const name = body.metadata?.name ?? '';
        if (this.leases.has(name)) throw new ApiException(409, 'exists', {}, {});
        return this.store(name, body);
      },
      replaceNamespacedLease: async ({ name, body }: { name: string; body: V1Lease }) => {
        guard('replace');
        if (this.leases.get(name)?.metadata?.resourceVersion !== body.metadata?.resourceVersion) throw new ApiException(409, 'conflict', {}, {});
        return this.store(name, body);
      },
    } as unknown as CoordinationV1Api;
  }

  holder(name: string): string | undefined {
    return this.leases.get(name)?.spec?.holderIdentity ?? undefined;
  }

  private store(name: string, body: V1Lease): V1Lease {
    const stored = { ...structuredClone(body), metadata: { ...body.metadata, name, resourceVersion: String(++this.version) } };
    this.leases.set(name, stored);
    return structuredClone(stored);
  }
}

function replica(store: LeaseStore, identity: string, events: string[]) {
  return new BucketLeases({
    coordination: store.api(identity),
    namespace: 'knative-serving',
    buckets: BUCKETS,
    identity,
    fieldManager: 'test',
    logger,
    leaseDurationSeconds: LEASE_SECONDS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    onAcquired: (b) => events.push(`${Date.now()} ${identity} +${b}`),
    onLost: (b) => events.push(`${Date.now()} ${identity} -${b}`),
  });
}

/** Advances the clock in steps, checking after each that no bucket is held by two replicas. */
async function runFor(ms: number, replicas: BucketLeases[]): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    await vi.advanceTimersByTimeAsync(250);
    const held = replicas.flatMap((r) => r.heldBuckets());
    expect(new Set(held).size).toBe(held.length);
  }
}

let stopping: BucketLeases[] = [];
beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
afterEach(async () => {
  const stops = Promise.all(stopping.map((r) => r.stop()));
  await vi.runAllTimersAsync();
  await stops;
  stopping = [];
  vi.useRealTimers();
});

describe('BucketLeases', () => {
  it('two replicas starting together split the buckets, every bucket held by exactly one', async () => {
    const store = new LeaseStore();
    const events: string[] = [];
    const a = replica(store, 'a', events);
    const b = replica(store, 'b', events);
    stopping = [a, b];
    a.start();
    b.start();
    await runFor(30_000, [a, b]);
    expect([...a.heldBuckets(), ...b.heldBuckets()].sort()).toEqual(BUCKETS);
    expect(a.heldBuckets().length).toBe(5);
    expect(b.heldBuckets().length).toBe(5);
    for (const bucket of BUCKETS) expect(store.holder(bucket)).toBe(a.holds(bucket) ? 'a' : 'b');
  });

  it('a lone replica takes every bucket', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'a', []);
    stopping = [a];
    a.start();
    await runFor(30_000, [a]);
    expect(a.heldBuckets()).toEqual(BUCKETS);
  });

  it('a holder renews each Lease with one request per retry period, no read before it; a Lease written by someone else is read again', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'a', []);
    stopping = [a];
    a.start();
    await runFor(30_000, [a]);
    expect(a.heldBuckets()).toEqual(BUCKETS);
    store.requests.length = 0;
    await runFor(20_000, [a]);
    // 10 retry periods × 10 Leases, each a replace from the Lease written last.
    expect(store.requests.filter((r) => r !== 'a replace')).toEqual([]);
    expect(store.requests.length).toBeGreaterThanOrEqual(10 * BUCKETS.length - BUCKETS.length);
    expect(store.requests.length).toBeLessThanOrEqual(10 * BUCKETS.length + BUCKETS.length);
    // Another writer bumps one Lease (still naming a): the next renewal gets 409, reads it, and keeps it.
    const other = store.api('tool');
    const lease = await other.readNamespacedLease({ name: BUCKETS[0], namespace: 'knative-serving' });
    await other.replaceNamespacedLease({ name: BUCKETS[0], namespace: 'knative-serving', body: lease });
    store.requests.length = 0;
    await runFor(4_000, [a]);
    expect(store.requests.filter((r) => r === 'a get')).toHaveLength(1);
    expect(a.heldBuckets()).toEqual(BUCKETS);
  });

  it("a replica cut off from the API server stops its buckets' work at the renew deadline, and the other has them all within a lease duration after", async () => {
    const store = new LeaseStore();
    const events: string[] = [];
    const a = replica(store, 'a', events);
    const b = replica(store, 'b', events);
    stopping = [a, b];
    a.start();
    b.start();
    await runFor(30_000, [a, b]);
    const bHeld = b.heldBuckets();
    expect(bHeld.length).toBe(5);

    const cutAt = Date.now();
    store.cutOff.add('b');
    await runFor(RENEW_DEADLINE_MS + RETRY_MS + 1000, [a, b]);
    // b has stopped every bucket's work: before its Leases could expire for anyone else.
    expect(b.heldBuckets()).toEqual([]);
    const lostAt = events.filter((e) => e.includes(' b -')).map((e) => Number(e.split(' ')[0]));
    expect(lostAt).toHaveLength(5);
    for (const t of lostAt) expect(t - cutAt).toBeLessThan(LEASE_SECONDS * 1000);

    await runFor(LEASE_SECONDS * 1000, [a, b]);
    expect(a.heldBuckets()).toEqual(BUCKETS);
    // a took each of b's buckets only after b had let it go.
    for (const bucket of bHeld) {
      const lost = events.findIndex((e) => e.endsWith(` b -${bucket}`));
      const taken = events.findIndex((e) => e.endsWith(` a +${bucket}`));
      expect(lost).toBeGreaterThanOrEqual(0);
      expect(taken).toBeGreaterThan(lost);
      expect(Number(events[taken].split(' ')[0]) - Number(events[lost].split(' ')[0])).toBeLessThanOrEqual(LEASE_SECONDS * 1000);
    }
  });

  it('a replica that stops releases its buckets and the others take them over at once', async () => {
    const store = new LeaseStore();
    const a = replica(store, 'a', []);
    const b = replica(store, 'b', []);
    stopping = [a, b];
    a.start();
    b.start();
    await runFor(30_000, [a, b]);
    const stopped = b.stop();
    await runFor(RETRY_MS * 2, [a, b]);
    await stopped;
    expect(b.heldBuckets()).toEqual([]);
    expect(a.heldBuckets()).toEqual(BUCKETS);
  });

  it('after one of three replicas dies, the two survivors share its buckets', async () => {
    const store = new LeaseStore();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => replica(store, id, []));
    stopping = [a, b, c];
    for (const r of [a, b, c]) r.start();
    await runFor(40_000, [a, b, c]);
    for (const r of [a, b, c]) expect(r.heldBuckets().length).toBeGreaterThanOrEqual(3);
    store.cutOff.add('c');
    await runFor((LEASE_SECONDS + 5) * 1000, [a, b, c]);
    expect([...a.heldBuckets(), ...b.heldBuckets()].sort()).toEqual(BUCKETS);
    expect(Math.abs(a.heldBuckets().length - b.heldBuckets().length)).toBeLessThanOrEqual(1);
  });
});
