/**
 * cdk8s-kservice: Knative Serving's object graph compiled ahead of time.
 *
 * The public API: the constructs `KService` (a Knative Service: revisions + route),
 * `ServingSystem` (gateways, runtime, RBAC; once per cluster) and their parts `Revision` and
 * `Route`; their props and value types; the resolved model they expose (`KService.spec`,
 * `Revision.spec`, `Route.spec`); and `ValidationError`, raised on bad props.
 *
 * Builders, validators and runtime contract values are internal (lib/builders, lib/cli,
 * lib/runtime) and not exported: the constructs are how the builders are used.
 */
export {
  AutoscalingClass,
  AutoscalingMetric,
  DataPlane,
  Visibility,
  type AutoscalingProps,
  type ContainerProps,
  type KServiceProps,
  type PortName,
  type Probe,
  type RevisionProps,
  type RevisionTemplateProps,
  type TrafficTargetProps,
} from './model/kservice-props';
export { KService } from './constructs/kservice';
export { Revision, type RevisionConstructProps } from './constructs/revision';
export { Route, type RouteConstructProps } from './constructs/route';
export { ServingSystem, type ServingSystemProps } from './constructs/serving-system';
export {
  Ingress,
  type AutoscalerConfigProps,
  type GatewayApiConfigProps,
  type QueueSidecarResourcesProps,
  type ServingConfig,
  type ServingConfigProps,
} from './contract/config';
export { DEFAULT_RUNTIME_IMAGE } from './contract/constants';
export type { DataPlaneMode, Protocol, RevisionSpec, RouteSpec, ServiceSpec, TrafficName, TrafficSplit } from './model/spec';
export type { ResolvedAutoscaling } from './contract/autoscaling';
export { ValidationError, type Problem } from './problems';
