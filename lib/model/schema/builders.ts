/**
 * Tiny helpers to write JSON schemas as TypeScript values. The schemas are plain JSON Schema
 * (draft-07, as ajv's default build reads it); the helpers only remove repetition, chiefly the
 * `additionalProperties: false` that makes unknown fields errors everywhere.
 *
 * `hint` is our own annotation keyword (registered with ajv in ./check.ts): when a schema
 * with a hint fails, the hint replaces ajv's generic message, so users read
 * "must be an integer >= 0" instead of "must match pattern ^[0-9]+$".
 */
import { DNS1123_LABEL as DNS1123_LABEL_REGEX, MAX_NAME_LENGTH } from '../../contract/naming';
import { QUANTITY } from '../../contract/quantity';

export type Schema = Record<string, unknown>;

export function object(properties: Record<string, Schema>, required: string[] = []): Schema {
  const schema: Schema = { type: 'object', properties, additionalProperties: false };
  if (required.length > 0) schema.required = required;
  return schema;
}

export function mapOf(values: Schema): Schema {
  return { type: 'object', additionalProperties: values };
}

export function arrayOf(items: Schema, extra: Schema = {}): Schema {
  return { type: 'array', items, ...extra };
}

export function string(extra: Schema = {}): Schema {
  return { type: 'string', ...extra };
}

export function integer(minimum?: number, maximum?: number): Schema {
  const schema: Schema = { type: 'integer' };
  if (minimum !== undefined) schema.minimum = minimum;
  if (maximum !== undefined) schema.maximum = maximum;
  return schema;
}

export const boolean: Schema = { type: 'boolean' };

export function oneOfValues(values: readonly string[]): Schema {
  return { type: 'string', enum: [...values] };
}

export function pattern(regex: string, hint: string): Schema {
  return { type: 'string', pattern: regex, hint };
}

export function ref(name: string): Schema {
  return { $ref: `#/definitions/${name}` };
}

/** A Kubernetes IntOrString (ports named or numbered). */
export const intOrString: Schema = { type: ['integer', 'string'] };

/** DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters (contract/naming.ts). */
export const DNS1123_LABEL = DNS1123_LABEL_REGEX.source;
export const DNS1123_LABEL_HINT = "must be a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a letter or digit)";

export function dnsLabel(): Schema {
  return { type: 'string', pattern: DNS1123_LABEL, maxLength: MAX_NAME_LENGTH, hint: DNS1123_LABEL_HINT };
}

/** Kubernetes resource quantity, e.g. `100m`, `1Gi`, `0.5`, `2e3` (contract/quantity.ts). */
export const quantity: Schema = {
  type: ['string', 'number'],
  pattern: QUANTITY.source,
  hint: 'must be a Kubernetes quantity such as 100m, 0.5 or 256Mi',
};

/** Go's time.ParseDuration syntax, e.g. `30s`, `1m30s`, `1.5h`. */
export const GO_DURATION = '^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$';
