/**
 * Object-by-object, field-by-field comparison of kservice's output with the oracle's, and the
 * allowlist (oracle/allowed-differences.yaml) that every difference must match.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export const ALLOWLIST_FILE = path.join(__dirname, '..', '..', '..', 'oracle', 'allowed-differences.yaml');

export type Change = 'value' | 'only-kservice' | 'only-knative' | 'order';

/** One difference: an object (path '/') or a field (JSON pointer, arrays of named items keyed by name). */
export interface Difference {
  readonly case: string;
  readonly kind: string;
  readonly name: string; // namespace/name
  readonly path: string;
  readonly change: Change;
  readonly kservice?: unknown;
  readonly knative?: unknown;
}

export interface FieldMatcher {
  /** Kind glob. */
  readonly kind: string;
  readonly path: string;
  readonly name?: string;
  readonly change?: Change;
}

export interface AllowedDifference {
  readonly title: string;
  readonly text: string;
  /** Field differences this entry allows. */
  readonly match?: readonly FieldMatcher[];
  /** ConfigMap data standing for a kservice default that differs from Knative's. */
  readonly setting?: Record<string, Record<string, string>>;
  /** Bad-input cases (test/cli/bad-input.test.ts names) where the accept/reject decisions differ. */
  readonly decisions?: readonly string[];
  /**
   * Oracle flags that supply what Knative needs for the cases in `decisions` (kservice compiled
   * them, Knative refused): the suite then compares those cases' objects with the flags set.
   */
  readonly rerun?: readonly string[];
  /**
   * Documented only, matched against nothing: 'runtime', behaviour of the runtime, not visible in
   * compiled objects; 'net-istio', what net-istio adds to its VirtualServices beyond the KIngress
   * (the oracle stops at the KIngress: net-istio is not on the Go module proxy).
   */
  readonly scope?: 'runtime' | 'net-istio';
}

export function loadAllowlist(file = ALLOWLIST_FILE): AllowedDifference[] {
  const doc = parse(readFileSync(file, 'utf8')) as { differences: AllowedDifference[] };
  return doc.differences;
}

/** A glob over JSON pointer segments: `*` is one segment (or part of one), `**` any number of segments. */
export function pointerGlob(pattern: string): RegExp {
  if (pattern === '/') return /^\/$/;
  const parts = pattern.split('/').slice(1).map((segment) => {
    if (segment === '**') return '(?:/[^/]*)*';
    return `/${segment.split('*').map(escapeRegExp).join('[^/]*')}`;
  });
  return new RegExp(`^${parts.join('')}$`);
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

export function matches(m: FieldMatcher, d: Difference): boolean {
  return (
    globRegExp(m.kind).test(d.kind) &&
    (m.change === undefined || m.change === d.change) &&
    (m.name === undefined || globRegExp(m.name).test(d.name)) &&
    pointerGlob(m.path).test(d.path)
  );
}

/** kind/namespace/name of an object. */
export function keyOf(o: Record<string, unknown>): string {
  const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
  return `${String(o.kind)}/${meta.namespace ?? ''}/${meta.name ?? ''}`;
}

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Arrays compared as keyed collections when every item has a distinct key on both sides:
 * named items (containers, env, ports, volumes) by name, strings (hosts, gateways) by value,
 * Istio HTTP routes by their match (authority@gateways, +header names). Anything else by index.
 */
function keysOf(a: unknown[]): string[] | undefined {
  const keys = a.map((x) => {
    if (typeof x === 'string') return x;
    if (isObject(x) && typeof x.name === 'string') return x.name;
    if (isObject(x) && Array.isArray(x.match)) return (x.match as Record<string, unknown>[]).map(matchKey).join('|');
    return undefined;
  });
  if (keys.some((k) => k === undefined)) return undefined;
  return new Set(keys).size === keys.length ? (keys as string[]) : undefined;
}

function matchKey(m: Record<string, unknown>): string {
  const authority = (m.authority ?? {}) as Record<string, string>;
  const host = authority.prefix ?? authority.exact ?? authority.regex ?? '';
  const gateways = ((m.gateways ?? []) as string[]).join(',');
  const headers = isObject(m.headers) ? `+${Object.keys(m.headers).sort().join(',')}` : '';
  return `${host}@${gateways}${headers}`;
}

export interface FieldCount {
  compared: number;
  equal: number;
}

/** Every leaf difference between two JSON values; counts compared/equal leaves into `count`. */
export function diffValues(
  ours: unknown, theirs: unknown, at: string, count: FieldCount,
  out: { path: string; change: Change; kservice?: unknown; knative?: unknown }[],
): void {
  const where = at === '' ? '/' : at;
  if (isObject(ours) && isObject(theirs)) {
    for (const key of [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].sort()) {
      const p = `${at}/${escapeSegment(key)}`;
      if (!(key in theirs)) out.push({ path: p, change: 'only-kservice', kservice: ours[key] });
      else if (!(key in ours)) out.push({ path: p, change: 'only-knative', knative: theirs[key] });
      else diffValues(ours[key], theirs[key], p, count, out);
      if (!(key in theirs) || !(key in ours)) count.compared++;
    }
    return;
  }
  if (Array.isArray(ours) && Array.isArray(theirs)) {
    const ourKeys = keysOf(ours);
    const theirKeys = keysOf(theirs);
    if (ourKeys && theirKeys) {
      const shared = ourKeys.filter((n) => theirKeys.includes(n));
      if (shared.join('\0') !== theirKeys.filter((n) => ourKeys.includes(n)).join('\0')) {
        out.push({ path: where, change: 'order', kservice: ourKeys, knative: theirKeys });
      }
      const byKey = (a: unknown[], keys: string[]) => Object.fromEntries(a.map((x, i) => [keys[i], x]));
      diffValues(byKey(ours, ourKeys), byKey(theirs, theirKeys), at, count, out);
      return;
    }
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
      const p = `${at}/${i}`;
      if (i >= theirs.length) out.push({ path: p, change: 'only-kservice', kservice: ours[i] });
      else if (i >= ours.length) out.push({ path: p, change: 'only-knative', knative: theirs[i] });
      else diffValues(ours[i], theirs[i], p, count, out);
      if (i >= theirs.length || i >= ours.length) count.compared++;
    }
    return;
  }
  count.compared++;
  if (JSON.stringify(ours) === JSON.stringify(theirs)) count.equal++;
  else out.push({ path: where, change: 'value', kservice: ours, knative: theirs });
}

export interface Comparison {
  readonly differences: Difference[];
  readonly objectsCompared: number;
  readonly objectsOnlyKservice: number;
  readonly objectsOnlyKnative: number;
  readonly fields: FieldCount;
}

/** Pairs objects by kind/namespace/name and diffs each pair. */
export function compareObjects(caseName: string, ours: Record<string, unknown>[], theirs: Record<string, unknown>[]): Comparison {
  const fields: FieldCount = { compared: 0, equal: 0 };
  const differences: Difference[] = [];
  const theirByKey = new Map(theirs.map((o) => [keyOf(o), o]));
  const ourByKey = new Map(ours.map((o) => [keyOf(o), o]));
  let objectsCompared = 0;
  let objectsOnlyKservice = 0;
  let objectsOnlyKnative = 0;
  const nameOf = (key: string) => key.split('/').slice(1).join('/');
  for (const [key, o] of ourByKey) {
    const t = theirByKey.get(key);
    if (!t) {
      objectsOnlyKservice++;
      differences.push({ case: caseName, kind: String(o.kind), name: nameOf(key), path: '/', change: 'only-kservice' });
      continue;
    }
    objectsCompared++;
    const out: { path: string; change: Change; kservice?: unknown; knative?: unknown }[] = [];
    diffValues(o, t, '', fields, out);
    for (const d of out) differences.push({ case: caseName, kind: String(o.kind), name: nameOf(key), ...d });
  }
  for (const [key, t] of theirByKey) {
    if (ourByKey.has(key)) continue;
    objectsOnlyKnative++;
    differences.push({ case: caseName, kind: String(t.kind), name: nameOf(key), path: '/', change: 'only-knative' });
  }
  return { differences, objectsCompared, objectsOnlyKservice, objectsOnlyKnative, fields };
}
