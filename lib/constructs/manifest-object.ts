import {
  ApiObject,
  App,
  ImplicitTokenResolver,
  Lazy,
  LazyResolver,
  NumberStringUnionResolver,
  type ApiObjectProps,
  type IResolver,
  type JsonPatch,
} from 'cdk8s';
import type { Construct } from 'constructs';
import { isDeepStrictEqual } from 'node:util';

/**
 * An ApiObject whose body is plain JSON built by our builders, rendered without cdk8s' general
 * resolver walk when that walk cannot change anything. Renders exactly what `ApiObject.toJson()`
 * renders (test/compiler/manifest-object.test.ts compares the two).
 *
 * Why: `ApiObject.toJson()` sends every value of the object through the app's resolvers (a context
 * object, a key-path copy and an `App.of` climb per value) and then copies it again to sort keys and
 * drop nulls (`sanitizeValue`). With the three built-in resolvers, resolving plain JSON (strings,
 * numbers, booleans, null, plain objects, arrays) is the identity, so only the sanitizing copy has
 * an effect; this class does that copy alone, in one pass (docs/synthesis-performance.md).
 *
 * Anything else takes cdk8s' own path, unchanged: a JSON patch, a custom resolver on the App, or any
 * value that is not plain JSON (a `Lazy`, a class instance, a function — e.g. the ServingSystem's
 * lazily computed Deployment specs). Metadata always goes through cdk8s (`metadata.toJson()`), so
 * chart labels, chart namespaces and `metadata.add*` calls behave as on any ApiObject.
 *
 * With `produce`, the object is long-lived and its body is computed at synth time (cdk8s-plus
 * style): every `toJson()` renders `produce()`'s current result, so a KService's children keep
 * their JSON patches and `metadata.add*` calls across later `add*` calls. `props` is then the
 * first result of `produce()`; a later result may change labels and annotations (applied through
 * `metadata.add*`, so the user's own additions stay), but not the kind, name, namespace or the set
 * of top-level fields, which would make it another object: that fails loudly.
 */
export class ManifestObject extends ApiObject {
  /** The current body without metadata; for a produced object, refreshed by every `toJson()`. */
  private readonly current: { body: Record<string, unknown> };
  /** The builder's metadata the ApiObject's metadata was last brought up to date with. */
  private builtMetadata: Record<string, unknown>;
  private hasPatches = false;
  /** The last result of `produce` taken as the body (the construction-time props to begin with). */
  private lastProduced?: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: ApiObjectProps, private readonly produce?: () => ApiObjectProps) {
    const { metadata, ...body } = props as unknown as Record<string, unknown>;
    // A box rather than a field: the Lazies handed to super() must not read `this` before it exists.
    const current = { body };
    super(scope, id, produce ? withLazyBody(props, () => current.body) : props);
    this.current = current;
    this.lastProduced = props as unknown as Record<string, unknown>;
    this.builtMetadata = (metadata ?? {}) as Record<string, unknown>;
  }

  /** The current body without metadata (what the fast path renders). */
  private get body(): Record<string, unknown> {
    return this.current.body;
  }

  public override addJsonPatch(...ops: JsonPatch[]): void {
    super.addJsonPatch(...ops);
    this.hasPatches ||= ops.length > 0;
  }

  public override toJson(): any {
    if (this.produce) this.refresh(this.produce() as unknown as Record<string, unknown>);
    if (this.hasPatches || !hasOnlyBuiltInResolvers(App.of(this).resolvers)) return super.toJson();
    const body = sanitizePlainJson(this.body);
    const metadata = body === NOT_PLAIN ? NOT_PLAIN : this.plainMetadata();
    if (body === NOT_PLAIN || metadata === NOT_PLAIN) return super.toJson();
    const manifest = withManifestKeyOrder({ ...(body as Record<string, unknown>), metadata });
    // Builders compute many strings (names, hosts, JSON annotations). The yaml writer runs several
    // times slower over such strings, once they sit in the old generation, than over the
    // internalized strings JSON.parse returns (docs/synthesis-performance.md), so the manifest
    // takes a JSON round trip. Exact: sanitizePlainJson refuses what JSON would change.
    return JSON.parse(JSON.stringify(manifest));
  }

  /** cdk8s' own metadata rendering (chart labels and namespace, `metadata.add*`), checked plain. */
  private plainMetadata(): unknown {
    try {
      return sanitizePlainJson(this.metadata.toJson());
    } catch {
      return NOT_PLAIN; // cdk8s' path reports the failure with the construct path
    }
  }

  /** Takes a produced object as the current body and brings the metadata up to date with it. */
  private refresh(produced: Record<string, unknown>): void {
    // emitLazy memoizes: an unchanged source hands back the very object rendered last time.
    if (produced === this.lastProduced) return;
    this.lastProduced = produced;
    const { metadata = {}, ...body } = produced as { metadata?: Record<string, unknown> };
    const fixed = sameTopLevel(this.body, body) && produced.apiVersion === this.apiVersion && produced.kind === this.kind;
    if (!fixed) this.fail('its kind or its top-level fields changed');
    this.current.body = body;
    if (isDeepStrictEqual(metadata, this.builtMetadata)) return;
    const { labels: _l, annotations: _a, ...identity } = metadata;
    const { labels: _bl, annotations: _ba, ...builtIdentity } = this.builtMetadata;
    if (!isDeepStrictEqual(identity, builtIdentity)) this.fail('its name, namespace or other metadata changed');
    this.updateMap('label', this.builtMetadata.labels, metadata.labels, (k, v) => this.metadata.addLabel(k, v));
    this.updateMap('annotation', this.builtMetadata.annotations, metadata.annotations, (k, v) => this.metadata.addAnnotation(k, v));
    this.builtMetadata = metadata;
  }

  /** Applies the builder's changed and added keys; a key the builder dropped cannot be removed. */
  private updateMap(what: string, before: unknown, after: unknown, add: (key: string, value: string) => void): void {
    const old = (before ?? {}) as Record<string, string>;
    const now = (after ?? {}) as Record<string, string>;
    for (const key of Object.keys(old)) if (!(key in now)) this.fail(`its ${what} "${key}" was dropped`);
    for (const [key, value] of Object.entries(now)) if (old[key] !== value) add(key, value);
  }

  private fail(what: string): never {
    throw new Error(`${this.node.path}: the object was created at construction and cannot become another one at synth time (${what}); create a new construct instead`);
  }
}

/** The props handed to ApiObject for a produced object: each top-level field a Lazy of the current body. */
function withLazyBody(props: ApiObjectProps, current: () => Record<string, unknown>): ApiObjectProps {
  const { apiVersion, kind, metadata, ...body } = props as unknown as Record<string, unknown>;
  const lazyBody = Object.fromEntries(Object.keys(body).map((key) => [key, Lazy.any({ produce: () => current()[key] })]));
  return { apiVersion, kind, metadata, ...lazyBody } as unknown as ApiObjectProps;
}

function sameTopLevel(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined).sort().join('\n');
  return keys(a) === keys(b);
}

/** Returned by `sanitizePlainJson` for input cdk8s' resolvers could act on. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/**
 * What `sanitizeValue(resolve(value), { sortKeys: true })` returns for plain JSON: a deep copy
 * with object keys sorted and null/undefined properties dropped. `NOT_PLAIN` when any value is not
 * plain JSON, or is one JSON cannot carry unchanged (a non-finite number, -0, a null, undefined or
 * missing array item).
 */
export function sanitizePlainJson(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  const type = typeof value;
  if (type === 'string' || type === 'boolean') return value;
  if (type === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
  if (type !== 'object') return NOT_PLAIN;
  if (Array.isArray(value)) return Object.getPrototypeOf(value) === Array.prototype ? sanitizeArray(value) : NOT_PLAIN;
  // The test cdk8s' resolver uses to descend into a dictionary (an own `constructor` key fails it).
  if ((value as { constructor?: unknown }).constructor !== Object) return NOT_PLAIN;
  return sanitizeRecord(value as Record<string, unknown>);
}

function sanitizeArray(items: readonly unknown[]): unknown[] | typeof NOT_PLAIN {
  const copy: unknown[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = sanitizePlainJson(items[i]);
    // cdk8s keeps a null item (as undefined) and a hole; neither is worth a fast path.
    if (item === NOT_PLAIN || item === undefined) return NOT_PLAIN;
    copy.push(item);
  }
  return copy;
}

function sanitizeRecord(record: Record<string, unknown>): Record<string, unknown> | typeof NOT_PLAIN {
  // A resolve() method would make the object a token for cdk8s' ImplicitTokenResolver.
  if (typeof record.resolve === 'function') return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) {
    if (key === '__proto__') return NOT_PLAIN; // assigning it would set the copy's prototype
    const item = sanitizePlainJson(record[key]);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    if (item !== undefined) copy[key] = item;
  }
  return copy;
}

/** cdk8s' top-level order: apiVersion, kind, metadata, then the rest (already sorted). */
function withManifestKeyOrder(json: Record<string, unknown>): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  for (const key of ['apiVersion', 'kind', 'metadata', ...Object.keys(json)]) {
    if (json[key] !== undefined && !(key in ordered)) ordered[key] = json[key];
  }
  return ordered;
}

/** True when the App resolves with cdk8s' three built-in resolvers and nothing else. */
function hasOnlyBuiltInResolvers(resolvers: readonly IResolver[]): boolean {
  return (
    resolvers.length === 3 &&
    resolvers[0] instanceof LazyResolver &&
    resolvers[1] instanceof ImplicitTokenResolver &&
    resolvers[2] instanceof NumberStringUnionResolver
  );
}
