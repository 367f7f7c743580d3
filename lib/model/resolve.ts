/**
 * Props → resolved model. Does what Knative's webhook defaulting and its configuration/route
 * controllers do before any object is built: names revisions, defaults containers and probes,
 * resolves autoscaling against config-autoscaler, and resolves traffic. Total: it never throws;
 * problems it meets (autoscaling annotations, host templates) go into the ProblemList, and
 * validate-props.ts checks everything else before the model is used.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import {
  AUTOSCALING_ANNOTATION_PREFIX,
  AutoscalingAnnotations,
  canonicalizeAutoscalingAnnotations,
  parseAutoscaling,
  parseGoDuration,
  writtenAnnotationKey,
} from '../contract/autoscaling';
import { DATA_PLANE_ANNOTATION } from '../contract/data-plane';
import { defaultRevisionTimeouts, hostTemplateProblem, Ingress, renderHostTemplate, resolveServingConfig, type ServingConfig } from '../contract/config';
import { Annotations, Labels, RevisionDefaults, USER_CONTAINER_NAME, VISIBILITY_CLUSTER_LOCAL } from '../contract/constants';
import type {
  AutoscalingProps,
  ContainerProps,
  KServiceProps,
  RevisionTemplateProps,
  Probe,
} from './kservice-props';
import { generationOfRevisionName, Names } from '../contract/naming';
import { joinPath, type ProblemList } from '../problems';
import { clone, compact, sortedRecord, type Json } from './json';
import { canonicalContainerQuantities, canonicalPodQuantities } from './quantities';
import { publicServicePort, type RevisionSpec, type RouteSpec, type ServiceSpec } from './spec';
import { chooseDataPlane, serviceDataPlane, type ChosenDataPlane } from './data-plane';
import { resolveQueueSidecarResources } from './queue-sidecar';
import { resolveTargets, trafficNames } from './traffic';

export const DEFAULT_NAMESPACE = 'default';
const CLUSTER_LOCAL_DOMAIN = 'svc.cluster.local';

/** Everything a revision is resolved against. */
export interface RevisionContext {
  readonly serviceName: string;
  readonly namespace: string;
  readonly config: ServingConfig;
  /** The service's data-plane mode: the default of templates that choose none. */
  readonly dataPlane: ChosenDataPlane;
  readonly problems: ProblemList;
}

export function resolveServiceSpec(props: KServiceProps, defaultName: string, problems: ProblemList): ServiceSpec {
  const config = resolveServingConfig(props.config);
  const name = props.name ?? defaultName;
  const namespace = props.namespace ?? DEFAULT_NAMESPACE;
  const ctx: RevisionContext = { serviceName: name, namespace, config, dataPlane: serviceDataPlane(props), problems };

  const generation = props.generation ?? 1;
  const current = resolveRevision(props, currentRevisionName(props, name), generation, '', ctx);
  const earlier = (props.revisions ?? []).map((r, i) =>
    resolveRevision(r, r.name, generationOfRevisionName(name, r.name), `revisions[${i}]`, ctx),
  );
  const all = [current, ...earlier];
  const targets = resolveTargets(props.traffic, current.name);
  const routed = new Set(targets.map((t) => t.revisionName));
  const kept = earlier.filter((r, i) => routed.has(r.name) || props.revisions?.[i].retain === true);

  return {
    name,
    namespace,
    revisions: uniqueByName([current, ...kept]),
    route: resolveRoute(props, name, namespace, config, all, problems),
    config,
  };
}

export function currentRevisionName(props: Pick<KServiceProps, 'revisionName' | 'generation'>, serviceName: string): string {
  return props.revisionName ?? Names.revision(serviceName, props.generation ?? 1);
}

function uniqueByName(revisions: RevisionSpec[]): RevisionSpec[] {
  const seen = new Set<string>();
  return revisions.filter((r) => !seen.has(r.name) && seen.add(r.name));
}

export function resolveRevision(
  template: RevisionTemplateProps,
  name: string,
  generation: number | undefined,
  path: string,
  ctx: RevisionContext,
): RevisionSpec {
  const { config } = ctx;
  const containers = resolveContainers(template.containers ?? []);
  const serving = containers.find((c) => c.serving);
  const containerConcurrency = template.containerConcurrency ?? config.containerConcurrency;
  const annotations = { ...(template.templateAnnotations ?? {}) };
  const autoscalingAnnotations = resolveAutoscalingAnnotations(template, containerConcurrency, path, ctx);
  const parsed = parseAutoscaling(autoscalingAnnotations, config, containerConcurrency);
  return {
    name,
    namespace: ctx.namespace,
    serviceName: ctx.serviceName,
    configurationName: ctx.serviceName,
    configurationGeneration: generation,
    templateLabels: { ...(template.templateLabels ?? {}) },
    // The mode annotation is the mode's input, not metadata: the builders write it where the runtime reads it.
    templateAnnotations: Object.fromEntries(
      Object.entries(annotations).filter(([k]) => !k.startsWith(AUTOSCALING_ANNOTATION_PREFIX) && k !== DATA_PLANE_ANNOTATION),
    ),
    autoscalingAnnotations: withClassAndMetric(autoscalingAnnotations, parsed.value.class, parsed.value.metric),
    autoscaling: parsed.value,
    containers: containers.map((c) => c.container),
    servingContainerName: serving?.container.name ?? USER_CONTAINER_NAME,
    userPort: serving?.port ?? 8080,
    protocol: serving?.portName === 'h2c' ? 'h2c' : 'http1',
    containerConcurrency,
    ...defaultRevisionTimeouts(config, {
      timeoutSeconds: seconds(template.timeout),
      responseStartTimeoutSeconds: seconds(template.responseStartTimeout),
      idleTimeoutSeconds: seconds(template.idleTimeout),
    }),
    progressDeadlineSeconds: progressDeadline(annotations),
    pod: podFields(template),
    runtimeImage: config.runtimeImage,
    dataPlane: chooseDataPlane(template, ctx.dataPlane, path, ctx.problems).mode,
    queueSidecarResources: resolveQueueSidecarResources(config.queueSidecarResources, annotations, serving?.container.resources),
  };
}

/** A cdk8s Duration in seconds (fractions kept, so validation can report them). */
export function seconds(d: { toSeconds(opts?: { integral?: boolean }): number } | undefined): number | undefined {
  return d === undefined ? undefined : d.toSeconds({ integral: false });
}

function progressDeadline(annotations: Record<string, string>): number {
  const raw = annotations[Annotations.PROGRESS_DEADLINE];
  const parsed = raw === undefined ? undefined : parseGoDuration(raw);
  return parsed !== undefined ? Math.round(parsed) : RevisionDefaults.PROGRESS_DEADLINE_SECONDS;
}

/**
 * Raw template annotations (aliases canonicalized) overlaid with the typed `autoscaling` props;
 * problems are reported against the prop the value came from.
 */
function resolveAutoscalingAnnotations(
  template: RevisionTemplateProps,
  containerConcurrency: number,
  path: string,
  ctx: RevisionContext,
): Record<string, string> {
  const raw = Object.fromEntries(
    Object.entries(template.templateAnnotations ?? {}).filter(([k]) => k.startsWith(AUTOSCALING_ANNOTATION_PREFIX)),
  );
  const canonical = canonicalizeAutoscalingAnnotations(raw);
  const typed = autoscalingPropsToAnnotations(template.autoscaling ?? {});
  const merged = { ...canonical.value, ...typed };
  const sourceOf = (key: string) =>
    key in typed
      ? joinPath(path, `autoscaling.${TYPED_FIELD_OF[key] ?? key}`)
      : joinPath(path, `templateAnnotations[${JSON.stringify(writtenAnnotationKey(key, raw))}]`);
  for (const p of canonical.problems) ctx.problems.add(joinPath(path, `templateAnnotations[${JSON.stringify(p.path)}]`), p.message);
  for (const p of parseAutoscaling(merged, ctx.config, containerConcurrency).problems) {
    ctx.problems.add(sourceOf(p.path), p.message);
  }
  return merged;
}

/** class and metric are always written, so the runtime never has to guess the defaults. */
function withClassAndMetric(annotations: Record<string, string>, klass: string, metric: string): Record<string, string> {
  return sortedRecord({ ...annotations, [AutoscalingAnnotations.CLASS]: klass, [AutoscalingAnnotations.METRIC]: metric });
}

const A = AutoscalingAnnotations;
const TYPED_FIELD_OF: Record<string, keyof AutoscalingProps> = {
  [A.CLASS]: 'class',
  [A.METRIC]: 'metric',
  [A.TARGET]: 'target',
  [A.TARGET_UTILIZATION_PERCENTAGE]: 'targetUtilizationPercentage',
  [A.MIN_SCALE]: 'minScale',
  [A.MAX_SCALE]: 'maxScale',
  [A.INITIAL_SCALE]: 'initialScale',
  [A.ACTIVATION_SCALE]: 'activationScale',
  [A.WINDOW]: 'window',
  [A.PANIC_WINDOW_PERCENTAGE]: 'panicWindowPercentage',
  [A.PANIC_THRESHOLD_PERCENTAGE]: 'panicThresholdPercentage',
  [A.SCALE_DOWN_DELAY]: 'scaleDownDelay',
  [A.SCALE_TO_ZERO_POD_RETENTION_PERIOD]: 'scaleToZeroPodRetentionPeriod',
  [A.TARGET_BURST_CAPACITY]: 'targetBurstCapacity',
};

/** Typed autoscaling props as Knative's canonical annotations (durations as Go durations). */
export function autoscalingPropsToAnnotations(a: AutoscalingProps): Record<string, string> {
  const duration = (d: AutoscalingProps['window']) => (d === undefined ? undefined : `${seconds(d)}s`);
  const num = (n: number | undefined) => (n === undefined ? undefined : String(n));
  const entries: [string, string | undefined][] = [
    [A.CLASS, a.class?.value],
    [A.METRIC, a.metric?.value],
    [A.TARGET, num(a.target)],
    [A.TARGET_UTILIZATION_PERCENTAGE, num(a.targetUtilizationPercentage)],
    [A.MIN_SCALE, num(a.minScale)],
    [A.MAX_SCALE, num(a.maxScale)],
    [A.INITIAL_SCALE, num(a.initialScale)],
    [A.ACTIVATION_SCALE, num(a.activationScale)],
    [A.WINDOW, duration(a.window)],
    [A.PANIC_WINDOW_PERCENTAGE, num(a.panicWindowPercentage)],
    [A.PANIC_THRESHOLD_PERCENTAGE, num(a.panicThresholdPercentage)],
    [A.SCALE_DOWN_DELAY, duration(a.scaleDownDelay)],
    [A.SCALE_TO_ZERO_POD_RETENTION_PERIOD, duration(a.scaleToZeroPodRetentionPeriod)],
    [A.TARGET_BURST_CAPACITY, num(a.targetBurstCapacity)],
  ];
  return Object.fromEntries(entries.filter((e): e is [string, string] => e[1] !== undefined));
}

interface ResolvedContainer {
  readonly container: IContainer;
  readonly serving: boolean;
  readonly port?: number;
  readonly portName?: string;
}

/**
 * Knative's webhook defaulting of containers: names from the container-name template
 * (`user-container`, or `user-container-N` with several), and the serving container's readiness
 * probe (TCP on the user port when none, successThreshold 1, k8s timing defaults when a period is set).
 */
export function resolveContainers(containers: readonly ContainerProps[]): ResolvedContainer[] {
  const servingIndex = servingContainerIndex(containers);
  return containers.map((c, i) => {
    const name = c.name ?? (containers.length === 1 ? USER_CONTAINER_NAME : `${USER_CONTAINER_NAME}-${i}`);
    const serving = i === servingIndex;
    return { container: toContainer(c, name, serving), serving, port: serving ? (c.port ?? 8080) : undefined, portName: c.portName };
  });
}

/** The one container with a port, or the only container. */
export function servingContainerIndex(containers: readonly ContainerProps[]): number {
  const withPort = containers.findIndex((c) => c.port !== undefined || c.portName !== undefined);
  return withPort >= 0 ? withPort : 0;
}

function toContainer(c: ContainerProps, name: string, serving: boolean): IContainer {
  const port = serving && (c.port !== undefined || c.portName !== undefined)
    ? [compact({ containerPort: c.port ?? 8080, name: c.portName })]
    : undefined;
  const container = clone(
    compact({
      name,
      image: c.image,
      command: c.command,
      args: c.args,
      workingDir: c.workingDir,
      ports: port,
      envFrom: c.envFrom,
      env: envList(c.env),
      resources: c.resources,
      volumeMounts: c.volumeMounts,
      livenessProbe: c.livenessProbe,
      readinessProbe: serving ? defaultReadinessProbe(c.readinessProbe) : c.readinessProbe,
      startupProbe: c.startupProbe,
      terminationMessagePath: c.terminationMessagePath,
      terminationMessagePolicy: c.terminationMessagePolicy,
      imagePullPolicy: c.imagePullPolicy,
      securityContext: c.securityContext,
    }) as IContainer,
  );
  return canonicalContainerQuantities(container);
}

function envList(env: ContainerProps['env']): IEnvVar[] | undefined {
  if (env === undefined) return undefined;
  if (Array.isArray(env)) return [...(env as readonly IEnvVar[])];
  return Object.entries(env as Record<string, string>).map(([name, value]) => ({ name, value }));
}

export function defaultReadinessProbe(probe: Probe | undefined): Probe {
  const p: Probe = { ...(probe ?? {}) };
  if (!p.tcpSocket && !p.httpGet && !p.exec && !p.grpc) p.tcpSocket = { port: 0 };
  p.successThreshold = p.successThreshold || 1;
  if (p.periodSeconds) {
    p.failureThreshold = p.failureThreshold || 3;
    p.timeoutSeconds = p.timeoutSeconds || 1;
  }
  return p;
}

/** Pod-level fields Knative allows, passed through as written (quantities in canonical form). */
function podFields(t: RevisionTemplateProps): Json {
  const pod = clone(
    compact({
      serviceAccountName: t.serviceAccountName,
      imagePullSecrets: t.imagePullSecrets,
      volumes: t.volumes,
      nodeSelector: t.nodeSelector,
      tolerations: t.tolerations,
      affinity: t.affinity,
      securityContext: t.securityContext,
      runtimeClassName: t.runtimeClassName,
      priorityClassName: t.priorityClassName,
      enableServiceLinks: t.enableServiceLinks,
      automountServiceAccountToken: t.automountServiceAccountToken,
      hostAliases: t.hostAliases,
      dnsPolicy: t.dnsPolicy,
      dnsConfig: t.dnsConfig,
      initContainers: t.initContainers,
      topologySpreadConstraints: t.topologySpreadConstraints,
      schedulerName: t.schedulerName,
    }) as Json,
  );
  return canonicalPodQuantities(pod);
}

export function isClusterLocal(props: Pick<KServiceProps, 'visibility' | 'labels'>, config: ServingConfig): boolean {
  if (props.visibility !== undefined) return props.visibility === VISIBILITY_CLUSTER_LOCAL;
  return props.labels?.[Labels.VISIBILITY] === VISIBILITY_CLUSTER_LOCAL || config.domain === CLUSTER_LOCAL_DOMAIN;
}

function resolveRoute(
  props: KServiceProps,
  name: string,
  namespace: string,
  config: ServingConfig,
  revisions: readonly RevisionSpec[],
  problems: ProblemList,
): RouteSpec {
  const clusterLocal = isClusterLocal(props, config);
  const byName = new Map(revisions.map((r) => [r.name, r]));
  const render = (template: string, field: 'domainTemplate' | 'tagTemplate', fields: Record<string, string>) => {
    try {
      return renderHostTemplate(template, fields);
    } catch (e) {
      // A field Knative does not offer was reported once, by checkServingConfig; one it offers
      // but the compiler cannot fill ({{.Annotations}}, {{.Labels}}) is reported here.
      if (hostTemplateProblem(field, template) === undefined) problems.add(`config.${field}`, (e as Error).message);
      return fields.Name ?? name;
    }
  };
  const targets = resolveTargets(props.traffic, currentRevisionName(props, name));
  return {
    name,
    namespace,
    clusterLocal,
    labels: sortedRecord({ ...(props.labels ?? {}), [Labels.SERVICE]: name }),
    annotations: sortedRecord(
      Object.fromEntries(Object.entries(props.annotations ?? {}).filter(([k]) => k !== Annotations.LAST_APPLIED)),
    ),
    names: trafficNames(targets, {
      hostName: (tag) => (tag === '' ? name : render(config.tagTemplate, 'tagTemplate', { Tag: tag, Name: name })),
      externalHost: (hostName) =>
        clusterLocal
          ? undefined
          : render(config.domainTemplate, 'domainTemplate', { Name: hostName, Namespace: namespace, Domain: config.domain }),
      servicePort: (rev) => publicServicePort(byName.get(rev) ?? { protocol: 'http1' }),
    }),
    externalGateway: config.externalGateway,
    localGateway: config.localGateway,
    localGatewayService: config.ingress === Ingress.GATEWAY_API ? config.gatewayApi.localGatewayService : config.localGatewayService,
    ingress: config.ingress,
    gatewayApi: config.gatewayApi,
  };
}
