/**
 * The autoscaler's shards: revisions hashed by `namespace/name` into a fixed set of buckets, one
 * Lease each (../kube/bucket-leases.ts); a replica scrapes, decides and writes only for the
 * revisions of the buckets it holds (knative/serving pkg/autoscaler/bucket/bucket.go,
 * pkg/autoscaler/statforwarder).
 *
 * The owner of a key is chosen as knative.dev/pkg hash/hash.go ChooseSubset picks one item: the
 * buckets' names and the key are hashed with FNV-1a 64 onto a circle of 2048 angles, and the
 * bucket at or after the key's start angle owns it. So with the same bucket names a revision
 * lands in the same bucket as in Knative, and changing the bucket count moves only some keys.
 * Pure and deterministic: every replica computes the same owner without talking to the others.
 */

/** The angles of the hash circle (knative.dev/pkg hash/hash.go `universe`). */
const UNIVERSE = 1n << 11n;
const START_SALT = 'start-angle-salt';
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text` (Go's hash/fnv New64a). */
export function fnv1a64(text: string): bigint {
  let h = FNV64_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= BigInt(byte);
    h = (h * FNV64_PRIME) & MASK64;
  }
  return h;
}

export { bucketName, bucketNames } from '../../contract/naming';

/** Revisions are few enough to remember every owner; the cap only bounds a churning set. */
const OWNER_CACHE_SIZE = 65_536;

export class BucketSet {
  /** Bucket names, sorted: the collision salting below depends on the order, so fix it. */
  readonly names: readonly string[];
  private readonly cache = new Map<string, string>();

  constructor(names: readonly string[]) {
    if (names.length === 0) throw new Error('a bucket set needs at least one bucket');
    this.names = [...new Set(names)].sort();
  }

  /** The bucket that owns `key` (a revision's `namespace/name`). */
  owner(key: string): string {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const owner = this.names.length === 1 ? this.names[0] : this.choose(key);
    if (this.cache.size >= OWNER_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, owner);
    return owner;
  }

  /**
   * ChooseSubset(names, 1, key): each name gets an angle from hash(name + key) (re-hashed with
   * the previous hash appended, in hex, while it collides with an earlier name's); the owner is
   * the name with the smallest angle ≥ hash(key + start salt), wrapping around.
   */
  private choose(key: string): string {
    const start = fnv1a64(key + START_SALT) % UNIVERSE;
    const byAngle = new Map<bigint, string>();
    for (const name of this.names) {
      let input = name + key;
      let h = fnv1a64(input);
      while (byAngle.has(h % UNIVERSE)) {
        input += h.toString(16);
        h = fnv1a64(input);
      }
      byAngle.set(h % UNIVERSE, name);
    }
    const angles = [...byAngle.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const at = angles.find((a) => a >= start) ?? angles[0];
    return byAngle.get(at) as string;
  }
}

/** The bucket key of a revision (types.NamespacedName.String() in Knative). */
export function revisionKey(namespace: string, revision: string): string {
  return `${namespace}/${revision}`;
}
