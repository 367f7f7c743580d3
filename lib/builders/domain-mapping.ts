/**
 * A DomainMapping's route, as the ingress layer renders the KIngress Knative's domain-mapping
 * reconciler makes (knative.dev/serving pkg/reconciler/domainmapping/resources/ingress.go
 * MakeIngress): one ExternalIP rule for the domain, one path with `RewriteHost` set to the target's
 * host and one split (100%) to the target Service on port 80 that appends `K-Original-Host: DOMAIN`.
 *
 * - Istio (knative-extensions/net-istio pkg/reconciler/ingress/resources/virtual_service.go):
 *   `NAME-ingress` on the external gateway, `rewrite.authority` and the split's header `set`; no
 *   mesh VirtualService (the rule is not ClusterLocal).
 * - Gateway API (knative-extensions/net-gateway-api pkg/reconciler/ingress/resources/httproute.go
 *   makeHTTPRouteRule): an HTTPRoute on the external Gateway with a `URLRewrite` hostname filter
 *   and the split's header `set` as a per-backend RequestHeaderModifier.
 *
 * The request then reaches the target's own route through its Service (a Knative Service's
 * ExternalName Service points at the local gateway), which strips the runtime-only headers as
 * every route here does (RUNTIME_ONLY_HEADERS): the app sees the rewritten host.
 * As for services, the UID label and the ingress probe paths are left out.
 */
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import type { IVirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { Annotations, Headers, ISTIO_INGRESS_CLASS, Labels } from '../contract/constants';
import { Ingress, type ServingConfig } from '../contract/config';
import { Names, childName } from '../contract/naming';
import { DOMAIN_MAPPING_TARGET_PORT, type DomainMappingSpec } from '../model/domain-mapping';
import { sortedRecord } from '../model/json';
import { GATEWAY_API_GROUP, GATEWAY_API_INGRESS_CLASS, GATEWAY_API_VERSION } from './http-route';
import { splitGatewayRef } from './serving-system';

const ISTIO_API_VERSION = 'networking.istio.io/v1beta1';
/** knative.dev/serving pkg/apis/serving/register.go DomainMappingNamespaceLabelKey. */
export const DOMAIN_MAPPING_NAMESPACE_LABEL = 'serving.knative.dev/domainMappingNamespace';

/** The KIngress's name: `kmeta.ChildName(dm.Name, "")`, the domain, hashed when over 63 characters. */
export function domainMappingIngressName(dm: DomainMappingSpec): string {
  return childName(dm.domain, '');
}

/** The route objects of a mapping for the configured ingress. */
export function buildDomainMappingRoute(dm: DomainMappingSpec, config: ServingConfig): IVirtualService | IHTTPRoute {
  return config.ingress === Ingress.GATEWAY_API ? buildDomainMappingHttpRoute(dm, config) : buildDomainMappingVirtualService(dm, config);
}

/**
 * MakeIngress's annotations: the ingress class, then the mapping's own (which win, as in
 * kmeta.UnionMaps), without kubectl's last-applied copy. The class is the configured ingress's:
 * a mapping's own class annotation names no other output here.
 */
function ingressAnnotations(dm: DomainMappingSpec, ingressClass: string): Record<string, string> {
  const copied = Object.fromEntries(Object.entries(dm.annotations).filter(([k]) => k !== Annotations.LAST_APPLIED));
  return sortedRecord({ [Annotations.INGRESS_CLASS]: ingressClass, ...copied });
}

/** The split's appended header: the domain the client asked for. */
function originalHost(dm: DomainMappingSpec): Record<string, string> {
  return { [Headers.ORIGINAL_HOST]: dm.domain };
}

export function buildDomainMappingVirtualService(dm: DomainMappingSpec, config: ServingConfig): IVirtualService {
  const ingress = domainMappingIngressName(dm);
  // Fresh arrays at each place: one shared array would be written as a YAML alias.
  const gateways = () => [config.externalGateway];
  return {
    apiVersion: ISTIO_API_VERSION,
    kind: 'VirtualService',
    metadata: {
      name: Names.ingressVirtualService(ingress),
      namespace: dm.namespace,
      // net-istio keeps only the ingress, route and route-namespace labels; a mapping's KIngress has no route.
      labels: { [Labels.INGRESS]: ingress },
      annotations: ingressAnnotations(dm, ISTIO_INGRESS_CLASS),
    },
    spec: {
      hosts: [dm.domain],
      gateways: gateways(),
      http: [{
        match: [{ authority: { prefix: dm.domain }, gateways: gateways() }],
        route: [{
          destination: { host: dm.target.host, port: { number: DOMAIN_MAPPING_TARGET_PORT } },
          weight: 100,
          headers: { request: { set: originalHost(dm) } },
        }],
        rewrite: { authority: dm.target.host },
        retries: {},
      }],
    },
  };
}

export function buildDomainMappingHttpRoute(dm: DomainMappingSpec, config: ServingConfig): IHTTPRoute {
  const ingress = domainMappingIngressName(dm);
  const gateway = splitGatewayRef(config.gatewayApi.externalGateway);
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'HTTPRoute',
    metadata: {
      name: dm.domain,
      namespace: dm.namespace,
      labels: sortedRecord({
        ...dm.labels,
        [DOMAIN_MAPPING_NAMESPACE_LABEL]: dm.namespace,
        [Labels.INGRESS]: ingress,
        [Labels.VISIBILITY]: '',
      }),
      annotations: ingressAnnotations(dm, GATEWAY_API_INGRESS_CLASS),
    },
    spec: {
      parentRefs: [{ group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gateway.namespace, name: gateway.name }],
      hostnames: [dm.domain],
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        filters: [{ type: 'URLRewrite', urlRewrite: { hostname: dm.target.host } }],
        backendRefs: [{
          group: '',
          kind: 'Service',
          name: dm.target.serviceName,
          port: DOMAIN_MAPPING_TARGET_PORT,
          weight: 100,
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: Headers.ORIGINAL_HOST, value: dm.domain }] } }],
        }],
        ...(config.gatewayApi.requestTimeoutSupported ? { timeouts: { request: '0s' } } : {}),
      }],
    },
  };
}
