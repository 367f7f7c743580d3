/**
 * The route's k8s Services (knative/serving pkg/reconciler/route/resources/service.go): one ExternalName Service per traffic name (`NAME`, and
 * `TAG-NAME` per tag) pointing at the local gateway Service, so `NAME.NS.svc.cluster.local`
 * resolves to the Istio gateway. This is the state Knative's route controller reaches once net-istio
 * reports its private load balancer (the placeholder step is skipped).
 */
import type { IService } from 'kubernetes-models/v1/Service';
import { routeServiceLabels } from './meta';
import { H2C_APP_PROTOCOL, type RouteSpec, type TrafficName } from '../model/spec';

export function buildRouteServices(route: RouteSpec): IService[] {
  return route.names.map((name) => buildRouteService(route, name));
}

export function buildRouteService(route: RouteSpec, name: TrafficName): IService {
  const annotations = { ...route.annotations };
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: name.hostName,
      namespace: route.namespace,
      labels: routeServiceLabels(route),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      type: 'ExternalName',
      externalName: route.localGatewayService,
      sessionAffinity: 'None',
      ports: [{ name: 'http2', appProtocol: H2C_APP_PROTOCOL, port: 80, targetPort: 80 }],
    },
  };
}
