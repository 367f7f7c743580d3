/**
 * The Gateway API Gateways (gateway.networking.k8s.io/v1) the HTTPRoutes attach to, one for
 * external and one for cluster-local traffic, as net-gateway-api's install examples declare them
 * (knative-extensions/net-gateway-api third_party/istio/300-gateway.yaml, 300-gateway-local.yaml):
 * a plain HTTP listener (port 80 unless `gatewayApi.listenerPort`) that accepts routes from every namespace. The implementation
 * (gatewayClassName) deploys the proxies and their Services.
 */
import type { ServingConfig } from '../contract/config';
import { GATEWAY_API_VERSION } from './http-route';
import type { IGateway } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway';
import { splitGatewayRef } from './serving-system';

/** Name of the one listener every HTTPRoute attaches through. */
export const GATEWAY_API_LISTENER = 'http';

export function buildGatewayApiGateway(ref: string, gatewayClassName: string, port: number): IGateway {
  const { namespace, name } = splitGatewayRef(ref);
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: {
      gatewayClassName,
      listeners: [{ name: GATEWAY_API_LISTENER, port, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
    },
  };
}

export function buildExternalGatewayApiGateway(config: Pick<ServingConfig, 'gatewayApi'>): IGateway {
  return buildGatewayApiGateway(config.gatewayApi.externalGateway, config.gatewayApi.gatewayClassName, config.gatewayApi.listenerPort);
}

export function buildLocalGatewayApiGateway(config: Pick<ServingConfig, 'gatewayApi'>): IGateway {
  return buildGatewayApiGateway(config.gatewayApi.localGateway, config.gatewayApi.gatewayClassName, config.gatewayApi.listenerPort);
}
