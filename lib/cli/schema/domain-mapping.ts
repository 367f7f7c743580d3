/**
 * JSON schema of the `serving.knative.dev/v1beta1` DomainMapping documents the compiler reads
 * (knative/serving pkg/apis/serving/v1beta1/domainmapping_types.go; the ref is knative.dev/pkg
 * apis/duck/v1 KReference). Types, required and unknown fields only; the value rules (the name
 * is a domain, the ref's kind and namespace) are the model's (lib/model/domain-mapping.ts).
 * `spec.tls` (a certificate Secret) is not accepted: the compiler emits no TLS for mappings yet.
 */
import { DOMAIN_MAPPING_API_VERSION } from '../../model/domain-mapping';
import { Schema, mapOf, object, string } from '../../model/schema/builders';

export const DOMAIN_MAPPING_KIND = 'DomainMapping';

export const domainMappingSchema: Schema = object(
  {
    apiVersion: { const: DOMAIN_MAPPING_API_VERSION },
    kind: { const: DOMAIN_MAPPING_KIND },
    metadata: object({ name: string(), namespace: string(), labels: mapOf(string()), annotations: mapOf(string()) }, ['name']),
    spec: object({ ref: object({ apiVersion: string(), kind: string(), name: string(), namespace: string() }) }, ['ref']),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

/** Whether a parsed document is a DomainMapping (by apiVersion and kind). */
export function isDomainMapping(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  return apiVersion === DOMAIN_MAPPING_API_VERSION && kind === DOMAIN_MAPPING_KIND;
}
