import type { ApiObject, ApiObjectProps } from 'cdk8s';
import type { Construct } from 'constructs';
import type { Json } from '../builders/json';
import { ManifestObject } from './manifest-object';

/**
 * Adds builder output to the tree as plain-JSON ApiObjects. Neither the cdk8s-plus L2 classes nor
 * the typed L1 props are used: their IntOrString/Quantity wrappers would rewrite pass-through user
 * JSON, and the builders already produce exact manifests. `ManifestObject` renders that JSON
 * without cdk8s' resolver walk when the walk could not change it.
 */
export function emit(scope: Construct, object: Json): ApiObject {
  return new ManifestObject(scope, objectId(object), object as unknown as ApiObjectProps);
}

export function emitAll(scope: Construct, objects: readonly Json[]): ApiObject[] {
  return objects.map((o) => emit(scope, o));
}

/** A construct id unique per object: kind, namespace and name. */
export function objectId(object: Json): string {
  const meta = (object.metadata ?? {}) as { name?: string; namespace?: string };
  return [object.kind, meta.namespace, meta.name].filter(Boolean).join('-');
}
