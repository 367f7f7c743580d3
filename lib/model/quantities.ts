/**
 * The user's quantities in canonical form (contract/quantity.ts canonicalQuantity): `cpu: 1000m`
 * or `cpu: 1` (a number) is written `"1"`, as the API server stores it and Knative's reconcilers
 * write it. Without this a GitOps engine comparing Git with the live object would see a
 * difference that is not one.
 *
 * Which fields are quantities is read from the pod spec schema (schema/podspec.ts) wherever it
 * says `quantity` (resources, emptyDir sizeLimit, resourceFieldRef divisor, ...), so a quantity
 * field added there is canonicalized too. A value that is not a quantity is left as written:
 * validation reports it.
 */
import { canonicalQuantity } from '../contract/quantity';
import { quantity, type Schema } from './schema/builders';
import { podSpecDefinitions, podSpecProperties } from './schema/podspec';

const DEFINITION_PREFIX = '#/definitions/';

/** A resolved container (the pod spec schema's `Container`) with canonical quantities. */
export function canonicalContainerQuantities<T>(container: T): T {
  return canonicalize(container, podSpecDefinitions.Container);
}

/** Pod-level fields (volumes, initContainers, ...) with canonical quantities. */
export function canonicalPodQuantities<T>(pod: T): T {
  return canonicalize(pod, { type: 'object', properties: podSpecProperties });
}

function canonicalize<T>(value: T, schema: Schema | undefined): T {
  const resolved = dereference(schema);
  if (resolved === undefined || value === null || value === undefined) return value;
  if (resolved === quantity) {
    return (typeof value === 'string' || typeof value === 'number' ? (canonicalQuantity(value) ?? value) : value) as T;
  }
  if (Array.isArray(value)) return value.map((item) => canonicalize(item, resolved.items as Schema | undefined)) as T;
  if (typeof value !== 'object') return value;
  const properties = (resolved.properties ?? {}) as Record<string, Schema>;
  const others = typeof resolved.additionalProperties === 'object' ? (resolved.additionalProperties as Schema) : undefined;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, v]) => [key, canonicalize(v, Object.hasOwn(properties, key) ? properties[key] : others)]),
  ) as T;
}

function dereference(schema: Schema | undefined): Schema | undefined {
  const ref = schema?.$ref;
  return typeof ref === 'string' && ref.startsWith(DEFINITION_PREFIX) ? podSpecDefinitions[ref.slice(DEFINITION_PREFIX.length)] : schema;
}
