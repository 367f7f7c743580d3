/**
 * One revision template, parsed once: each field is checked with Knative's rules, defaulted as
 * Knative's webhook defaults it (knative/serving pkg/apis/serving/v1/revision_defaults.go) and
 * resolved into the RevisionSpec the builders read, in the same step, so no fact is worked out
 * twice (knative/serving pkg/apis/serving/v1/revision_validation.go, pkg/apis/serving/k8s_validation.go,
 * pkg/apis/autoscaling/annotation_validation.go). Used for the service's template, its earlier
 * revisions and the CLI's Revision documents alike.
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
  type ResolvedAutoscaling,
} from '../contract/autoscaling';
import { defaultRevisionTimeouts, type ServingConfig } from '../contract/config';
import { Annotations, Ports, QUEUE_CONTAINER_NAME, RevisionDefaults, USER_CONTAINER_NAME, UserContainerEnv } from '../contract/constants';
import { DATA_PLANE_ANNOTATION } from '../contract/data-plane';
import { isDns1123Label } from '../contract/naming';
import { FieldErrors, type Parsed, type PathSegments } from '../problems';
import { chooseDataPlane, dataPlaneErrors, type ChosenDataPlane } from './data-plane';
import { clone, compact, sortedRecord, type Json } from './json';
import {
  addedCapabilitiesErrors,
  imageErrors,
  probeHandlerErrors,
  queueSidecarValueErrors,
  templateAnnotationErrors,
  timeoutSecondsErrors,
} from './knative-rules';
import type { AutoscalingProps, ContainerProps, Probe, RevisionTemplateProps } from './kservice-props';
import { canonicalContainerQuantities, canonicalPodQuantities } from './quantities';
import { resolveQueueSidecarResources } from './queue-sidecar';
import type { RevisionSpec } from './spec';

const RESERVED_ENV: readonly string[] = Object.values(UserContainerEnv);
const DEFAULT_USER_PORT = 8080;

/** What every revision of a service is parsed against. */
export interface RevisionContext {
  readonly serviceName: string;
  readonly namespace: string;
  readonly config: ServingConfig;
  /** The service's data-plane mode: the default of templates that choose none. */
  readonly dataPlane: ChosenDataPlane;
}

/**
 * The RevisionSpec of a template and every problem of it, at paths from the props' root (`at` is
 * the template's own path: `[]` for the service's template, `['revisions', i]` for an earlier one).
 * Where a value has a problem, the spec holds its default, so the rest can still be checked.
 */
export function parseRevision(
  template: RevisionTemplateProps,
  name: string,
  generation: number | undefined,
  at: PathSegments,
  ctx: RevisionContext,
): Parsed<RevisionSpec> {
  const { config } = ctx;
  const containers = parseContainers(template.containers ?? []);
  const serving = containers.value.resolved[containers.value.servingIndex];
  const containerConcurrency = template.containerConcurrency ?? config.containerConcurrency;
  const timeouts = parseTimeouts(template, config);
  const annotations = template.templateAnnotations ?? {};
  const autoscaling = parseTemplateAutoscaling(template, containerConcurrency, config);
  const chosen = chooseDataPlane(template, at, ctx.dataPlane);
  const spec: RevisionSpec = {
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
    autoscalingAnnotations: autoscaling.value.annotations,
    autoscaling: autoscaling.value.resolved,
    containers: containers.value.resolved.map((c) => c.container),
    servingContainerIndex: containers.value.servingIndex,
    servingContainerName: serving?.container.name ?? USER_CONTAINER_NAME,
    userPort: serving?.port ?? DEFAULT_USER_PORT,
    protocol: serving?.portName === 'h2c' ? 'h2c' : 'http1',
    containerConcurrency,
    ...timeouts.value,
    progressDeadlineSeconds: progressDeadline(annotations),
    pod: podFields(template),
    runtimeImage: config.runtimeImage,
    dataPlane: chosen.value.mode,
    dataPlaneSource: chosen.value.source,
    queueSidecarResources: resolveQueueSidecarResources(config.queueSidecarResources, annotations, serving?.container.resources),
  };
  const templateErrors = containers.errors.also(
    containerConcurrencyErrors(template.containerConcurrency).via('containerConcurrency'),
    timeouts.errors,
    annotationErrors(annotations).via('templateAnnotations'),
    volumeErrors(template),
    autoscaling.errors,
    chosen.errors,
  );
  return { value: spec, errors: templateErrors.via(...at).also(dataPlaneErrors(spec, autoscaling.value.given, at)) };
}

function containerConcurrencyErrors(cc: number | undefined): FieldErrors {
  if (cc === undefined || (Number.isInteger(cc) && cc >= 0 && cc <= RevisionDefaults.CONTAINER_CONCURRENCY_MAX)) return FieldErrors.none;
  return FieldErrors.of(`must be a whole number from 0 to ${RevisionDefaults.CONTAINER_CONCURRENCY_MAX}, got ${cc}`);
}

/**
 * The three timeouts, checked (whole seconds, at least 0; timeout at most
 * max-revision-timeout-seconds, knative-rules.ts timeoutSecondsErrors) and defaulted from config.
 */
function parseTimeouts(t: RevisionTemplateProps, config: ServingConfig): Parsed<ReturnType<typeof defaultRevisionTimeouts>> {
  const timeout = parseDuration(t.timeout);
  const responseStart = parseDuration(t.responseStartTimeout);
  const idle = parseDuration(t.idleTimeout);
  const errors = timeout.errors.also(timeoutSecondsErrors(timeout.value, config.maxRevisionTimeoutSeconds)).via('timeout').also(
    // Knative bounds neither by the timeout (knative-rules.ts timeoutSecondsErrors).
    responseStart.errors.via('responseStartTimeout'),
    idle.errors.via('idleTimeout'),
  );
  const value = defaultRevisionTimeouts(config, {
    timeoutSeconds: seconds(t.timeout),
    responseStartTimeoutSeconds: seconds(t.responseStartTimeout),
    idleTimeoutSeconds: seconds(t.idleTimeout),
  });
  return { value, errors };
}

/** A duration in whole seconds, at least 0; its value, or undefined when unset or wrong. */
function parseDuration(d: RevisionTemplateProps['timeout']): Parsed<number | undefined> {
  const s = seconds(d);
  if (s === undefined) return { value: undefined, errors: FieldErrors.none };
  if (!Number.isInteger(s)) return { value: undefined, errors: FieldErrors.of(`must be a whole number of seconds, got ${s}s`) };
  if (s < 0) return { value: undefined, errors: FieldErrors.of(`must be at least 0s, got ${s}s`) };
  return { value: s, errors: FieldErrors.none };
}

/** A cdk8s Duration in seconds (fractions kept, so the parse can report them). */
export function seconds(d: { toSeconds(opts?: { integral?: boolean }): number } | undefined): number | undefined {
  return d === undefined ? undefined : d.toSeconds({ integral: false });
}

function annotationErrors(annotations: Readonly<Record<string, string>>): FieldErrors {
  return queueSidecarValueErrors(annotations).also(templateAnnotationErrors(annotations));
}

function progressDeadline(annotations: Readonly<Record<string, string>>): number {
  const raw = annotations[Annotations.PROGRESS_DEADLINE];
  const parsed = raw === undefined ? undefined : parseGoDuration(raw);
  return parsed !== undefined ? Math.round(parsed) : RevisionDefaults.PROGRESS_DEADLINE_SECONDS;
}

/**
 * Volume names are unique and every mount names a volume (knative/serving
 * pkg/apis/serving/k8s_validation.go validateVolumes, validateVolumeMounts).
 */
function volumeErrors(t: RevisionTemplateProps): FieldErrors {
  const volumes = new Map<string, number>();
  let errors = FieldErrors.none;
  (t.volumes ?? []).forEach((volume, i) => {
    const first = volumes.get(volume.name);
    if (first !== undefined) errors = errors.also(FieldErrors.of(`duplicate volume name "${volume.name}" (volume ${first} has it too)`, 'volumes', i, 'name'));
    else volumes.set(volume.name, i);
  });
  (t.containers ?? []).forEach((container, c) => {
    (container.volumeMounts ?? []).forEach((mount, m) => {
      if (!volumes.has(mount.name)) errors = errors.also(FieldErrors.of(`no volume named "${mount.name}" in volumes`, 'containers', c, 'volumeMounts', m, 'name'));
    });
  });
  return errors;
}

interface ResolvedContainer {
  readonly container: IContainer;
  readonly port?: number;
  readonly portName?: string;
}

interface ParsedContainers {
  readonly resolved: readonly ResolvedContainer[];
  /** The one container with a port, or the only container. */
  readonly servingIndex: number;
}

/** The serving container: the one with a port, or the first (the only one, when valid). */
export function servingContainerIndex(containers: readonly ContainerProps[]): number {
  const withPort = containers.findIndex(hasPort);
  return withPort >= 0 ? withPort : 0;
}

function hasPort(c: ContainerProps): boolean {
  return c.port !== undefined || c.portName !== undefined;
}

/**
 * The containers, checked and defaulted as Knative's webhook does: names from the
 * container-name template (`user-container`, or `user-container-N` with several), and the serving
 * container's readiness probe (TCP on the user port when none, successThreshold 1, k8s timing
 * defaults when a period is set).
 */
function parseContainers(containers: readonly ContainerProps[]): Parsed<ParsedContainers> {
  const servingIndex = servingContainerIndex(containers);
  const resolved = containers.map((c, i) => {
    const name = c.name ?? (containers.length === 1 ? USER_CONTAINER_NAME : `${USER_CONTAINER_NAME}-${i}`);
    const serving = i === servingIndex;
    return { container: toContainer(c, name, serving), port: serving ? (c.port ?? DEFAULT_USER_PORT) : undefined, portName: c.portName };
  });
  return { value: { resolved, servingIndex }, errors: containerErrors(containers, servingIndex).via('containers') };
}

function containerErrors(containers: readonly ContainerProps[], servingIndex: number): FieldErrors {
  if (containers.length === 0) return FieldErrors.of('at least one container is required');
  const withPort = containers.filter(hasPort).length;
  const servingErrors = containers.length > 1 && withPort !== 1
    ? FieldErrors.of(`with several containers exactly one must set a port (the serving container), found ${withPort}`)
    : FieldErrors.none;
  const names = new Set<string>();
  return servingErrors.also(
    ...containers.map((c, i) => {
      const duplicate = c.name !== undefined && names.has(c.name);
      if (c.name !== undefined) names.add(c.name);
      return oneContainerErrors(c, i === servingIndex, duplicate).via(i);
    }),
  );
}

function oneContainerErrors(c: ContainerProps, serving: boolean, duplicateName: boolean): FieldErrors {
  return FieldErrors.none.also(
    imageErrors(c.image).via('image'),
    addedCapabilitiesErrors(c.securityContext?.capabilities?.add).via('securityContext', 'capabilities', 'add'),
    ...(['readinessProbe', 'livenessProbe', 'startupProbe'] as const).map((kind) => probeHandlerErrors(c[kind], kind === 'readinessProbe' && serving).via(kind)),
    c.name === undefined ? undefined : containerNameErrors(c.name, duplicateName).via('name'),
    c.port === undefined ? undefined : portErrors(c.port).via('port'),
    c.portName !== undefined && c.portName !== 'http1' && c.portName !== 'h2c' ? FieldErrors.of(`must be "http1" or "h2c", got "${c.portName}"`, 'portName') : undefined,
    envErrors(c.env).via('env'),
  );
}

function containerNameErrors(name: string, duplicate: boolean): FieldErrors {
  return FieldErrors.none.also(
    isDns1123Label(name) ? undefined : FieldErrors.of(`"${name}" must be a DNS-1123 label`),
    name === QUEUE_CONTAINER_NAME ? FieldErrors.of(`"${QUEUE_CONTAINER_NAME}" is reserved for the sidecar`) : undefined,
    duplicate ? FieldErrors.of(`duplicate container name "${name}"`) : undefined,
  );
}

function portErrors(port: number): FieldErrors {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return FieldErrors.of(`must be a port number from 1 to 65535, got ${port}`);
  if (Ports.RESERVED.includes(port)) return FieldErrors.of(`port ${port} is reserved (queue-proxy and the runtime use ${Ports.RESERVED.join(', ')})`);
  return FieldErrors.none;
}

function envErrors(env: ContainerProps['env']): FieldErrors {
  if (env === undefined) return FieldErrors.none;
  const names = Array.isArray(env) ? (env as { name: string }[]).map((e) => e.name) : Object.keys(env);
  return FieldErrors.none.also(
    ...names.map((n, i) => (RESERVED_ENV.includes(n) ? FieldErrors.of(`${n} is reserved (set by the platform)`, ...(Array.isArray(env) ? [i, 'name'] : [n])) : undefined)),
  );
}

function toContainer(c: ContainerProps, name: string, serving: boolean): IContainer {
  const port = serving && hasPort(c) ? [compact({ containerPort: c.port ?? DEFAULT_USER_PORT, name: c.portName })] : undefined;
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

function defaultReadinessProbe(probe: Probe | undefined): Probe {
  const p = probe ?? {};
  const hasHandler = p.tcpSocket || p.httpGet || p.exec || p.grpc;
  return {
    ...p,
    ...(hasHandler ? {} : { tcpSocket: { port: 0 } }),
    successThreshold: p.successThreshold || 1,
    ...(p.periodSeconds ? { failureThreshold: p.failureThreshold || 3, timeoutSeconds: p.timeoutSeconds || 1 } : {}),
  };
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

interface TemplateAutoscaling {
  /** Canonical `autoscaling.knative.dev/*` annotations, class and metric defaulted (written for the runtime). */
  readonly annotations: Record<string, string>;
  readonly resolved: ResolvedAutoscaling;
  /** The keys the template set (typed or as annotations) that parsed, and where each was written. */
  readonly given: ReadonlyMap<string, PathSegments>;
}

/**
 * Raw template annotations (aliases canonicalized) overlaid with the typed `autoscaling` props,
 * parsed once by the contract's parser (the runtime reads the same annotations with it). The
 * typed props become annotations first because the annotations are what the Deployment carries;
 * problems are reported at the prop the value came from.
 */
function parseTemplateAutoscaling(template: RevisionTemplateProps, containerConcurrency: number, config: ServingConfig): Parsed<TemplateAutoscaling> {
  const raw = Object.fromEntries(
    Object.entries(template.templateAnnotations ?? {}).filter(([k]) => k.startsWith(AUTOSCALING_ANNOTATION_PREFIX)),
  );
  const canonical = canonicalizeAutoscalingAnnotations(raw);
  const typed = autoscalingPropsToAnnotations(template.autoscaling ?? {});
  const merged = { ...canonical.value, ...typed };
  const parsed = parseAutoscaling(merged, config, containerConcurrency);
  const sourceOf = (key: string): PathSegments =>
    key in typed ? ['autoscaling', TYPED_FIELD_OF[key] ?? key] : ['templateAnnotations', writtenAnnotationKey(key, raw)];
  const errors = FieldErrors.none.also(
    ...canonical.problems.map((p) => FieldErrors.of(p.message, 'templateAnnotations', p.path)),
    ...parsed.problems.map((p) => FieldErrors.of(p.message, ...sourceOf(p.path))),
  );
  const { class: klass, metric } = parsed.value;
  const annotations = sortedRecord({ ...merged, [AutoscalingAnnotations.CLASS]: klass, [AutoscalingAnnotations.METRIC]: metric });
  const troubled = new Set(parsed.problems.map((p) => p.path));
  const given = new Map(Object.keys(merged).filter((key) => !troubled.has(key)).map((key) => [key, sourceOf(key)] as const));
  return { value: { annotations, resolved: parsed.value, given }, errors };
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
function autoscalingPropsToAnnotations(a: AutoscalingProps): Record<string, string> {
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
