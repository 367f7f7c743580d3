import type { ApiObject, ApiObjectProps } from 'cdk8s';
import type { Construct } from 'constructs';
import { ManifestObject } from './manifest-object';

/**
 * What a builder returns: a Kubernetes object, typed by its own interface (kubernetes-models,
 * Istio, Gateway API). Only the fields that name it are read here.
 */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/**
 * Adds builder output to the tree as plain-JSON ApiObjects. Neither the cdk8s-plus L2 classes nor
 * the typed L1 props are used: their IntOrString/Quantity wrappers would rewrite pass-through user
 * JSON, and the builders already produce exact manifests. `ManifestObject` renders that JSON
 * without cdk8s' resolver walk when the walk could not change it.
 */
export function emit(scope: Construct, object: KubeObject): ApiObject {
  return new ManifestObject(scope, objectId(object), object as unknown as ApiObjectProps);
}

/**
 * Adds a long-lived object whose body is `build(source())` computed at synth time, so patches and
 * `metadata.add*` calls on it survive later changes of the source (see `ManifestObject`). The build
 * is memoized on the source's identity: an unchanged source is built once, at construction.
 */
export function emitLazy<S>(scope: Construct, source: () => S, build: (source: S) => KubeObject): ApiObject {
  let built = source();
  let object = build(built);
  const produce = (): KubeObject => {
    const now = source();
    if (now !== built) [built, object] = [now, build(now)];
    return object;
  };
  return new ManifestObject(scope, objectId(object), object as unknown as ApiObjectProps, produce as unknown as () => ApiObjectProps);
}

export function emitAll(scope: Construct, objects: readonly KubeObject[]): ApiObject[] {
  return objects.map((o) => emit(scope, o));
}

/** A construct id unique per object: kind, namespace and name. */
export function objectId(object: KubeObject): string {
  return [object.kind, object.metadata?.namespace, object.metadata?.name].filter(Boolean).join('-');
}
