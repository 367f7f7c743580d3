/**
 * Per-revision data-plane modes (`DataPlane`, lib/contract/data-plane.ts `DataPlaneModes`): which
 * mode a revision template chooses, and the one set of rules saying which combinations can work.
 * Both front ends (the KService construct and the CLI, which maps Knative YAML onto the same props)
 * get their mode problems from here, through the one parse (parse-revision.ts), so they always
 * give the same message.
 */
import { AutoscalerClass, AutoscalingAnnotations } from '../contract/autoscaling';
import {
  DATA_PLANE_ANNOTATION,
  DataPlaneModes,
  hasQueueProxy,
  isDataPlaneMode,
  QUEUE_SIDECAR_ANNOTATION_PREFIX,
  scaleOwner,
  selectsPods,
  type DataPlaneMode,
} from '../contract/data-plane';
import { FieldErrors, type Parsed, type PathSegments } from '../problems';
import type { KServiceProps, RevisionTemplateProps } from './kservice-props';
import type { RevisionSpec } from './spec';

const MODES: readonly string[] = Object.values(DataPlaneModes);

/** A revision's mode and the props path that chose it (where its problems are reported). */
export interface ChosenDataPlane {
  readonly mode: DataPlaneMode;
  /** From the props' root: `['dataPlane']`, `['revisions', 2, 'templateAnnotations', KEY]`. */
  readonly source: PathSegments;
}

/** The service-level default: `dataPlane` of the KService props, else `full`. */
export function serviceDataPlane(props: Pick<KServiceProps, 'dataPlane'>): ChosenDataPlane {
  return { mode: isDataPlaneMode(props.dataPlane) ? props.dataPlane : DataPlaneModes.FULL, source: ['dataPlane'] };
}

/**
 * The mode a template chooses: its typed `dataPlane`, else its `kservice.cdk8s.io/data-plane`
 * annotation, else the service's default. An unknown value is a problem (relative to the
 * template), and the choice falls to the next one.
 */
export function chooseDataPlane(template: RevisionTemplateProps, at: PathSegments, serviceDefault: ChosenDataPlane): Parsed<ChosenDataPlane> {
  const candidates: [unknown, PathSegments][] = [
    [template.dataPlane, ['dataPlane']],
    [template.templateAnnotations?.[DATA_PLANE_ANNOTATION], ['templateAnnotations', DATA_PLANE_ANNOTATION]],
  ];
  const errors = FieldErrors.none.also(
    ...candidates.map(([value, path]) => (value !== undefined && !isDataPlaneMode(value) ? FieldErrors.of(unknownModeMessage(String(value)), ...path) : undefined)),
  );
  const chosen = candidates.find(([value]) => isDataPlaneMode(value));
  return { value: chosen ? { mode: chosen[0] as DataPlaneMode, source: [...at, ...chosen[1]] } : serviceDefault, errors };
}

export function unknownModeMessage(value: string): string {
  return `must be one of ${MODES.join(', ')}, got "${value}"`;
}

/**
 * The mode rules of one parsed revision: they read the RevisionSpec, never the props again.
 * Problems about the mode itself are reported where the mode was chosen (`dataPlaneSource`, an
 * absolute path: it may be the service's `dataPlane`); the others at the template's conflicting
 * field (`at`, the template's path, put in front; `given`: where each autoscaling annotation the
 * template set, canonical key, was written, for those that parsed):
 * - `direct`/`static`: min-scale >= 1 (nothing wakes a revision at zero without the activator);
 * - `direct` with the KPA class: max-scale = min-scale (nothing measures load, so the replicas are fixed);
 * - `activator`: the serving container's readiness probe must be one the activator can run
 *   (httpGet with the HTTP scheme, or tcpSocket), and target-burst-capacity, if set, must be -1:
 *   the activator is in the path at every scale, which is what -1 asks for, so any other value
 *   asks for something this mode cannot do and is refused rather than silently ignored;
 * - `direct`: no target-burst-capacity (there is no activator to keep in or take out of the path);
 * - `activator`/`direct`: no queue.sidecar.serving.knative.dev/* annotations (there is no sidecar).
 */
export function dataPlaneErrors(rev: RevisionSpec, given: ReadonlyMap<string, PathSegments>, at: PathSegments): FieldErrors {
  const { dataPlane: mode, dataPlaneSource: source } = rev;
  const a = rev.autoscaling;
  const named = `data plane "${mode}"`;
  let errors = FieldErrors.none;
  if (selectsPods(mode) && a.minScale < 1) {
    const hpa = a.class === AutoscalerClass.HPA ? ' (HPA class)' : '';
    errors = errors.also(FieldErrors.of(`${named} needs min-scale >= 1 (nothing can wake a revision at zero without the activator); revision "${rev.name}" has min-scale ${a.minScale}${hpa}`, ...source));
  }
  if (mode === DataPlaneModes.DIRECT && scaleOwner(a.class, mode) === 'fixed' && a.minScale >= 1 && a.maxScale !== a.minScale) {
    errors = errors.also(FieldErrors.of(
      `${named} with the KPA class has fixed replicas (nothing measures load without the queue-proxy or the activator): set max-scale equal to min-scale (${a.minScale}); revision "${rev.name}" has max-scale ${a.maxScale === 0 ? '0 (unlimited)' : a.maxScale}. To scale on CPU or memory, use the HPA class`,
      ...source,
    ));
  }
  const inTemplate = FieldErrors.none.also(
    mode === DataPlaneModes.ACTIVATOR ? activatorProbeErrors(rev) : undefined,
    burstCapacityErrors(rev, given),
    hasQueueProxy(mode) ? undefined : kubeletProbeErrors(rev, named),
    hasQueueProxy(mode) ? undefined : queueSidecarAnnotationErrors(rev, named),
  );
  return errors.also(inTemplate.via(...at));
}

/** The activator probes the app itself, and it can only send an HTTP GET or open a TCP connection. */
function activatorProbeErrors(rev: RevisionSpec): FieldErrors {
  const index = rev.servingContainerIndex;
  const probe = rev.containers[index]?.readinessProbe;
  const at = ['containers', index, 'readinessProbe'];
  const why = 'the activator runs the serving container\'s readiness probe in data plane "activator" and can only run httpGet (HTTP scheme) and tcpSocket probes';
  if (probe?.exec) return FieldErrors.of(`is not supported: ${why}`, ...at, 'exec');
  if (probe?.grpc) return FieldErrors.of(`is not supported: ${why}`, ...at, 'grpc');
  const scheme = probe?.httpGet?.scheme;
  if (scheme !== undefined && scheme.toUpperCase() !== 'HTTP') return FieldErrors.of(`must be HTTP: ${why}`, ...at, 'httpGet', 'scheme');
  return FieldErrors.none;
}

/**
 * Without the queue-proxy the kubelet runs every container's readiness probe as written (in `full`
 * the queue-proxy runs the serving container's, and Knative drops the others' HTTP and TCP probes).
 * The serving container's port is filled in with the user port (../builders/user-container.ts);
 * another container has no port to default to, and Kubernetes refuses a probe without one.
 */
function kubeletProbeErrors(rev: RevisionSpec, named: string): FieldErrors {
  return FieldErrors.none.also(
    ...rev.containers.map((c, i) => {
      if (i === rev.servingContainerIndex) return undefined;
      const probe = c.readinessProbe;
      const handler = probe?.httpGet ? 'httpGet' : probe?.tcpSocket ? 'tcpSocket' : probe?.grpc ? 'grpc' : undefined;
      const port = handler && (probe![handler] as { port?: number | string }).port;
      if (!handler || (port !== undefined && port !== 0)) return undefined;
      return FieldErrors.of(`is required: in ${named} the kubelet runs this container's probe itself, and only the serving container's port is filled in`, 'containers', i, 'readinessProbe', handler, 'port');
    }),
  );
}

function queueSidecarAnnotationErrors(rev: RevisionSpec, named: string): FieldErrors {
  const keys = Object.keys(rev.templateAnnotations).filter((k) => k.startsWith(QUEUE_SIDECAR_ANNOTATION_PREFIX)).sort();
  return FieldErrors.none.also(
    ...keys.map((key) => FieldErrors.of(`${named} has no queue-proxy sidecar, so its resources cannot be set; remove the annotation`, 'templateAnnotations', key)),
  );
}

function burstCapacityErrors(rev: RevisionSpec, given: ReadonlyMap<string, PathSegments>): FieldErrors {
  const mode = rev.dataPlane;
  if (mode !== DataPlaneModes.ACTIVATOR && mode !== DataPlaneModes.DIRECT) return FieldErrors.none;
  // Set by the template (typed or annotation, canonical or alias); the config's default is not asked for.
  const path = given.get(AutoscalingAnnotations.TARGET_BURST_CAPACITY);
  if (path === undefined) return FieldErrors.none;
  const value = rev.autoscaling.targetBurstCapacity;
  if (mode === DataPlaneModes.ACTIVATOR && value !== -1) {
    return FieldErrors.of(`data plane "activator" keeps the activator in the path at every scale (target-burst-capacity -1); ${value} asks for it to leave the path, which this mode cannot do: remove it or set -1`, ...path);
  }
  if (mode === DataPlaneModes.DIRECT) return FieldErrors.of('data plane "direct" has no activator, so target-burst-capacity has no effect: remove it', ...path);
  return FieldErrors.none;
}
