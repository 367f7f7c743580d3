/**
 * cdk8s-kservice: Knative Serving's object graph compiled ahead of time.
 *
 * The public API, and nothing else: every name here is a semver promise, and
 * api/cdk8s-kservice.api.md (checked by test/shared/api-report.test.ts, updated with
 * `npm run api:update`) shows the whole surface, so a change to it is a visible diff.
 *
 * Not exported: the resolved model (`ServiceSpec`, `RevisionSpec`, ...), which is internal and may
 * change; the `Revision` and `Route` classes, whose constructors take that model and so would
 * bypass validation (users get their objects through `IRevision` and `IRoute`); the resolved config
 * and the runtime's contract values; builders, validators and the CLI (lib/builders, lib/model,
 * lib/cli, lib/runtime): the constructs are how they are used.
 */

// The constructs users create.
export { KService } from './constructs/kservice';
export { ServingSystem, type ServingSystemProps } from './constructs/serving-system';

// What KService gives back (`revisions`, `route`, `ServingSystem.revisions`): the objects, for
// patches and `metadata.add*` calls, without a way to create one around validation.
export type { IRevision } from './constructs/revision';
export type { IRoute } from './constructs/route';

// KService's props and the value types inside them.
export type {
  AutoscalingProps,
  ContainerProps,
  EnvFromSource,
  EnvSourceReference,
  ExecProbeAction,
  GrpcProbeAction,
  HostAlias,
  HttpGetProbeAction,
  KServiceProps,
  LocalObjectReference,
  PodDnsConfig,
  PodDnsConfigOption,
  PortName,
  Probe,
  ProbeHttpHeader,
  RevisionProps,
  RevisionTemplateProps,
  TcpSocketProbeAction,
  Toleration,
  TrafficTargetProps,
} from './model/kservice-props';

// The enums users pass in those props.
export { AutoscalingClass, AutoscalingMetric, DataPlane, Visibility } from './model/kservice-props';

// The serving config (KService `config`, ServingSystem `config`), as users write it, and its enum.
export { Ingress, type AutoscalerConfigProps, type GatewayApiConfigProps, type QueueSidecarResourcesProps, type ServingConfigProps } from './contract/config';

// The image the runtime defaults to, for users who pin or mirror it (`runtimeImage`).
export { DEFAULT_RUNTIME_IMAGE } from './contract/constants';

// Raised by the constructs on bad props: every problem with its property path.
export { ValidationError, type Problem } from './problems';
