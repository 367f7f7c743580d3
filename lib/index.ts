/**
 * cdk8s-kservice: Knative Serving's object graph compiled ahead of time.
 *
 * Constructs: `KService` (a Knative Service: revisions + route), `ServingSystem` (gateways,
 * runtime, RBAC; once per cluster), and their parts `Revision` and `Route`.
 * Builders (`builders/*`) are pure functions from the resolved model to plain manifests.
 */
export * from './kservice-props';
export { KService } from './constructs/kservice';
export { Revision, type RevisionConstructProps } from './constructs/revision';
export { Route, type RouteConstructProps } from './constructs/route';
export { ServingSystem, type ServingSystemProps } from './constructs/serving-system';
export { compileServiceSpec, validateKServiceProps } from './validate-props';
export type { RevisionSpec, RouteSpec, ServiceSpec, TrafficName, TrafficSplit, Protocol, DataPlaneMode } from './builders/spec';
export { resolveServiceSpec } from './builders/resolve';
export { buildDeployment, buildPodSpec } from './builders/deployment';
export { buildQueueProxyContainer, queueProxyEnv, readinessProbeForQueue } from './builders/queue-proxy-container';
export { buildUserContainers } from './builders/user-container';
export { buildPrivateService } from './builders/private-service';
export { buildPublicService } from './builders/public-service';
export { buildPublicEndpoints } from './builders/public-endpoints';
export { buildHpa } from './builders/hpa';
export { buildRouteServices } from './builders/route-service';
export { buildIngressVirtualService, buildMeshVirtualService } from './builders/virtual-service';
export { buildRbac, AUTOSCALER_LEASE } from './builders/rbac';
export * from './config';
export * from './constants';
export { childName, Names } from './naming';
export { ValidationError, ProblemList, type Problem } from './problems';
export {
  AutoscalingAnnotations,
  AutoscalerClass,
  Metric,
  parseAutoscaling,
  canonicalizeAutoscalingAnnotations,
  autoscalerConfigToData,
  autoscalerConfigFromData,
  type ResolvedAutoscaling,
} from './autoscaling';
