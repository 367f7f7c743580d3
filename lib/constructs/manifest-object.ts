import {
  ApiObject,
  App,
  ImplicitTokenResolver,
  LazyResolver,
  NumberStringUnionResolver,
  type ApiObjectProps,
  type IResolver,
  type JsonPatch,
} from 'cdk8s';
import type { Construct } from 'constructs';

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
 */
export class ManifestObject extends ApiObject {
  // ApiObject keeps its props and patches private; these mirror what the fast path needs.
  private readonly body: Record<string, unknown>;
  private hasPatches = false;

  constructor(scope: Construct, id: string, props: ApiObjectProps) {
    super(scope, id, props);
    const { metadata: _metadata, ...body } = props as unknown as Record<string, unknown>;
    this.body = body;
  }

  public override addJsonPatch(...ops: JsonPatch[]): void {
    super.addJsonPatch(...ops);
    this.hasPatches ||= ops.length > 0;
  }

  public override toJson(): any {
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
