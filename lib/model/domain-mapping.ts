/**
 * A DomainMapping (`serving.knative.dev/v1beta1`): the custom domain (its name) and the Service it
 * maps to. Knative's rules, one parse (knative/serving pkg/apis/serving/v1beta1
 * domainmapping_validation.go; the ref is knative.dev/pkg apis/duck/v1 KReference.Validate):
 * the name is a fully qualified domain name, not under the cluster-local domain; the ref names a
 * kind, apiVersion and name, in the mapping's own namespace.
 *
 * Targets: a Knative Service (`serving.knative.dev/v1`) or a plain Kubernetes Service (`v1`).
 * Knative resolves the ref to its address and accepts any addressable whose URL is a cluster-local
 * Service host (pkg/reconciler/domainmapping/reconciler.go resolveRef); compiled statically, the
 * address is known for these two kinds only: `NAME.NS.svc.cluster.local`, served by the Service
 * NAME (the KService's route placeholder Service, or the plain Service itself). The plain Service
 * target is what Knative allows with `autocreate-cluster-domain-claims` off too: no
 * ClusterDomainClaim is emitted, so the cluster's operator owns domain claims.
 */
import { FieldErrors, type Parsed } from '../problems';

export const DOMAIN_MAPPING_API_VERSION = 'serving.knative.dev/v1beta1';
/** Knative's cluster-local domain (knative.dev/pkg network.GetClusterDomainName default). */
export const CLUSTER_DOMAIN = 'cluster.local';
/** The port MakeIngress sends to on the target Service (pkg/reconciler/domainmapping/resources/ingress.go). */
export const DOMAIN_MAPPING_TARGET_PORT = 80;

/** The ref kinds a mapping can name, by apiVersion/kind. */
export const DOMAIN_MAPPING_TARGETS = {
  'serving.knative.dev/v1/Service': 'KnativeService',
  'v1/Service': 'Service',
} as const;
export type DomainMappingTargetKind = (typeof DOMAIN_MAPPING_TARGETS)[keyof typeof DOMAIN_MAPPING_TARGETS];

/** The mapping as written (metadata and spec.ref fields), the namespace already defaulted. */
export interface DomainMappingInput {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ref: {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly name?: string;
    readonly namespace?: string;
  };
}

export interface DomainMappingSpec {
  /** The custom domain: the mapping's name. */
  readonly domain: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly target: {
    readonly kind: DomainMappingTargetKind;
    /** The Service that receives the traffic (MakeIngress's backendServiceName). */
    readonly serviceName: string;
    /** The host the request is rewritten to (MakeIngress's hostName): the target's address. */
    readonly host: string;
  };
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_DOMAIN_LENGTH = 253;

/**
 * k8s.io/apimachinery validation.IsFullyQualifiedDomainName: a DNS-1123 subdomain (a trailing dot
 * allowed) of at least two labels.
 */
export function fullyQualifiedDomainNameErrors(name: string): FieldErrors {
  const domain = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = domain.split('.');
  if (domain.length === 0 || domain.length > MAX_DOMAIN_LENGTH || !labels.every((l) => l.length <= 63 && DNS1123_LABEL.test(l))) {
    return FieldErrors.of(`invalid name "${name}": must be a domain name of lower-case letters, digits, "-" and ".", at most ${MAX_DOMAIN_LENGTH} characters`);
  }
  if (labels.length < 2) return FieldErrors.of(`invalid name "${name}": should be a domain with at least two segments separated by dots`);
  if (domain.endsWith(`.${CLUSTER_DOMAIN}`)) {
    return FieldErrors.of(`invalid name "${name}": must not be a subdomain of cluster local domain "${CLUSTER_DOMAIN}"`);
  }
  return FieldErrors.none;
}

/** KReference.Validate, with the kinds a static compile can resolve. Paths are relative to the ref. */
function refErrors(ref: DomainMappingInput['ref'], namespace: string): FieldErrors {
  let errors = FieldErrors.none;
  for (const field of ['name', 'kind', 'apiVersion'] as const) {
    if (!ref[field]) errors = errors.also(FieldErrors.of('missing field', field));
  }
  if (ref.namespace !== undefined && ref.namespace !== namespace) {
    errors = errors.also(FieldErrors.of(`mismatched namespaces: must be the DomainMapping's namespace "${namespace}", got "${ref.namespace}"`, 'namespace'));
  }
  if (ref.kind && ref.apiVersion && targetKindOf(ref) === undefined) {
    errors = errors.also(FieldErrors.of(`must name a Knative Service (serving.knative.dev/v1 Service) or a Kubernetes Service (v1 Service), got ${ref.apiVersion} ${ref.kind}`, 'kind'));
  }
  return errors;
}

function targetKindOf(ref: DomainMappingInput['ref']): DomainMappingTargetKind | undefined {
  return (DOMAIN_MAPPING_TARGETS as Record<string, DomainMappingTargetKind>)[`${ref.apiVersion}/${ref.kind}`];
}

/** The mapping with Knative's rules applied; errors at paths from the document's root. */
export function parseDomainMapping(input: DomainMappingInput): Parsed<DomainMappingSpec> {
  const errors = fullyQualifiedDomainNameErrors(input.name).via('metadata', 'name')
    .also(refErrors(input.ref, input.namespace).via('spec', 'ref'));
  const serviceName = input.ref.name ?? '';
  return {
    errors,
    value: {
      domain: input.name,
      namespace: input.namespace,
      labels: input.labels ?? {},
      annotations: input.annotations ?? {},
      target: {
        kind: targetKindOf(input.ref) ?? 'KnativeService',
        serviceName,
        host: `${serviceName}.${input.namespace}.svc.${CLUSTER_DOMAIN}`,
      },
    },
  };
}
