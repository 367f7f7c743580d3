import { describe, expect, it } from 'vitest';
import { BucketSet, bucketName, bucketNames, fnv1a64, revisionKey } from '../../../lib/runtime/autoscaler/buckets';

const TEN = bucketNames('autoscaler-bucket', 10);

describe('bucket names', () => {
  it('are Knative-shaped: prefix-NN-of-MM, lower case', () => {
    expect(bucketName('Autoscaler-Bucket', 3, 10)).toBe('autoscaler-bucket-03-of-10');
    expect(TEN[0]).toBe('autoscaler-bucket-00-of-10');
    expect(TEN[9]).toBe('autoscaler-bucket-09-of-10');
    expect(new Set(TEN).size).toBe(10);
  });

  it('refuse a bucket count that is not a whole number ≥ 1', () => {
    expect(() => bucketNames('b', 0)).toThrow(/bucket count must be a whole number ≥ 1, got 0/);
    expect(() => bucketNames('b', 1.5)).toThrow(/got 1.5/);
  });
});

describe('fnv1a64', () => {
  // Reference values from Go's hash/fnv New64a (go 1.x stdlib), computed outside this repository.
  it('matches Go hash/fnv New64a', () => {
    expect(fnv1a64('').toString(16)).toBe('cbf29ce484222325');
    expect(fnv1a64('default/hello-00001').toString(16)).toBe('aabc5b900235fe0f');
  });
});

describe('BucketSet.owner', () => {
  it('picks the bucket knative.dev/pkg hash ChooseSubset(names, 1, key) picks', () => {
    // Owners computed with a Go program following knative.dev/pkg hash/hash.go step by step on
    // Go's hash/fnv (names in sorted order; the order matters only on an angle collision).
    const set = new BucketSet(TEN);
    expect(set.owner('default/hello-00001')).toBe('autoscaler-bucket-05-of-10');
    expect(set.owner('default/hello-00002')).toBe('autoscaler-bucket-08-of-10');
    expect(set.owner('ns-a/web-00007')).toBe('autoscaler-bucket-06-of-10');
    expect(set.owner('team/x-00001')).toBe('autoscaler-bucket-02-of-10');
    expect(set.owner('kube/ü-00001')).toBe('autoscaler-bucket-05-of-10');
  });

  it('is stable: the same on every replica, whatever order the names come in, and on every call', () => {
    const a = new BucketSet(TEN);
    const b = new BucketSet([...TEN].reverse());
    for (let i = 0; i < 500; i++) {
      const key = revisionKey(`ns-${i % 7}`, `rev-${i}`);
      expect(b.owner(key)).toBe(a.owner(key));
      expect(a.owner(key)).toBe(a.owner(key));
    }
  });

  it('spreads 10,000 revisions over 10 buckets within ±25% of an even share', () => {
    const set = new BucketSet(TEN);
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const owner = set.owner(revisionKey(`team-${i % 37}`, `svc-${i}-00001`));
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(TEN);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(750);
      expect(n).toBeLessThan(1250);
    }
  });

  it('with one bucket, it owns everything', () => {
    const set = new BucketSet(['only']);
    expect(set.owner('a/b')).toBe('only');
    expect(set.owner('c/d')).toBe('only');
  });

  it('refuses an empty set', () => {
    expect(() => new BucketSet([])).toThrow(/at least one bucket/);
  });
});
