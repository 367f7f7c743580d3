/** Small helpers for building plain JSON objects (Kubernetes manifests) deterministically. */

export type Json = Record<string, unknown>;

/**
 * Drops keys whose value is undefined, keeping the order of the rest (YAML stays stable). Builders
 * name the object's type (`compact<IPodSpec>({...})`) so a misspelt field is a type error.
 */
export function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** A copy with keys sorted, as Go's encoding/json writes maps (labels, annotations). */
export function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Deep copy of pass-through JSON, so builders never alias (and never mutate) user props. */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Sorted, de-duplicated strings. */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}
