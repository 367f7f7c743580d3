/**
 * Per-revision data-plane modes (`DataPlane`, lib/contract/data-plane.ts `DataPlaneModes`): which
 * mode a revision template chooses, and the one set of rules saying which combinations can work.
 * Both front ends (the KService construct and the CLI, which maps Knative YAML onto the same props)
 * get their mode problems from here, so they always give the same message.
 */
import { ALIASES, AutoscalerClass, AutoscalingAnnotations } from '../contract/autoscaling';
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
import { joinPath, type ProblemList } from '../problems';
import type { KServiceProps, RevisionTemplateProps } from './kservice-props';
import type { RevisionSpec, ServiceSpec } from './spec';

const MODES: readonly string[] = Object.values(DataPlaneModes);

/** A revision's mode and the props path that chose it (where its problems are reported). */
export interface ChosenDataPlane {
  readonly mode: DataPlaneMode;
  readonly path: string;
}

/** The service-level default: `dataPlane` of the KService props, else `full`. */
export function serviceDataPlane(props: Pick<KServiceProps, 'dataPlane'>): ChosenDataPlane {
  return { mode: isDataPlaneMode(props.dataPlane) ? props.dataPlane : DataPlaneModes.FULL, path: 'dataPlane' };
}

/**
 * The mode a template chooses: its typed `dataPlane`, else its `kservice.cdk8s.io/data-plane`
 * annotation, else the service's default. An unknown value is a problem (and falls back to the
 * default so resolution can go on).
 */
export function chooseDataPlane(
  template: RevisionTemplateProps,
  serviceDefault: ChosenDataPlane,
  prefix: string,
  problems: ProblemList,
): ChosenDataPlane {
  const typedPath = joinPath(prefix, 'dataPlane');
  const annotationPath = joinPath(prefix, `templateAnnotations["${DATA_PLANE_ANNOTATION}"]`);
  const typed = template.dataPlane as string | undefined;
  const annotated = template.templateAnnotations?.[DATA_PLANE_ANNOTATION];
  for (const [value, path] of [[typed, typedPath], [annotated, annotationPath]] as const) {
    if (value !== undefined && !isDataPlaneMode(value)) problems.add(path, unknownModeMessage(value));
  }
  if (isDataPlaneMode(typed)) return { mode: typed, path: typedPath };
  if (isDataPlaneMode(annotated)) return { mode: annotated, path: annotationPath };
  return serviceDefault;
}

export function unknownModeMessage(value: string): string {
  return `must be one of ${MODES.join(', ')}, got "${value}"`;
}

/**
 * The mode rules for every synthesized revision, reported at the path that chose the mode (or
 * at the field that conflicts with it):
 * - `direct`/`static`: min-scale >= 1 (nothing wakes a revision at zero without the activator);
 * - `direct` with the KPA class: max-scale = min-scale (nothing measures load, so the replicas are fixed);
 * - `activator`: the serving container's readiness probe must be one the activator can run
 *   (httpGet with the HTTP scheme, or tcpSocket), and target-burst-capacity, if set, must be -1:
 *   the activator is in the path at every scale, which is what -1 asks for, so any other value
 *   asks for something this mode cannot do and is refused rather than silently ignored;
 * - `direct`: no target-burst-capacity (there is no activator to keep in or take out of the path);
 * - `activator`/`direct`: no queue.sidecar.serving.knative.dev/* annotations (there is no sidecar).
 */
export function checkDataPlanes(spec: ServiceSpec, props: KServiceProps, problems: ProblemList): void {
  const serviceDefault = serviceDataPlane(props);
  // Unknown values were reported while resolving; here only the choice's path is wanted.
  const ignored = { add: () => undefined } as unknown as ProblemList;
  spec.revisions.forEach((rev, i) => {
    // The current template's revision comes first (resolve.ts), the kept earlier ones by name.
    const index = i === 0 ? -1 : (props.revisions ?? []).findIndex((r) => r.name === rev.name);
    const [template, prefix] = index < 0 ? [props, ''] : [props.revisions![index], `revisions[${index}]`];
    const chosen = chooseDataPlane(template, serviceDefault, prefix, ignored);
    for (const p of revisionModeProblems(rev, template, prefix, chosen.path)) problems.add(p.path, p.message);
  });
}

interface PathProblem {
  readonly path: string;
  readonly message: string;
}

function revisionModeProblems(rev: RevisionSpec, template: RevisionTemplateProps, prefix: string, modePath: string): PathProblem[] {
  const mode = rev.dataPlane;
  const a = rev.autoscaling;
  const out: PathProblem[] = [];
  const named = `data plane "${mode}"`;
  if (selectsPods(mode) && a.minScale < 1) {
    const hpa = a.class === AutoscalerClass.HPA ? ' (HPA class)' : '';
    out.push({ path: modePath, message: `${named} needs min-scale >= 1 (nothing can wake a revision at zero without the activator); revision "${rev.name}" has min-scale ${a.minScale}${hpa}` });
  }
  if (mode === DataPlaneModes.DIRECT && scaleOwner(a.class, mode) === 'fixed' && a.minScale >= 1 && a.maxScale !== a.minScale) {
    out.push({
      path: modePath,
      message: `${named} with the KPA class has fixed replicas (nothing measures load without the queue-proxy or the activator): set max-scale equal to min-scale (${a.minScale}); revision "${rev.name}" has max-scale ${a.maxScale === 0 ? '0 (unlimited)' : a.maxScale}. To scale on CPU or memory, use the HPA class`,
    });
  }
  if (mode === DataPlaneModes.ACTIVATOR) out.push(...activatorProbeProblems(rev, template, prefix));
  out.push(...burstCapacityProblems(mode, template, prefix));
  if (!hasQueueProxy(mode)) out.push(...kubeletProbeProblems(rev, template, prefix, named));
  if (!hasQueueProxy(mode)) {
    for (const key of Object.keys(template.templateAnnotations ?? {}).filter((k) => k.startsWith(QUEUE_SIDECAR_ANNOTATION_PREFIX)).sort()) {
      out.push({ path: joinPath(prefix, `templateAnnotations["${key}"]`), message: `${named} has no queue-proxy sidecar, so its resources cannot be set; remove the annotation` });
    }
  }
  return out;
}

/** The activator probes the app itself, and it can only send an HTTP GET or open a TCP connection. */
function activatorProbeProblems(rev: RevisionSpec, template: RevisionTemplateProps, prefix: string): PathProblem[] {
  // Resolved containers keep the template's order (resolve.ts resolveContainers).
  const index = rev.containers.findIndex((c) => c.name === rev.servingContainerName);
  const containers = template.containers ?? [];
  if (index < 0 || index >= containers.length) return [];
  const probe = containers[index]?.readinessProbe;
  const at = joinPath(prefix, `containers[${index}].readinessProbe`);
  const why = 'the activator runs the serving container\'s readiness probe in data plane "activator" and can only run httpGet (HTTP scheme) and tcpSocket probes';
  if (probe?.exec) return [{ path: `${at}.exec`, message: `is not supported: ${why}` }];
  if (probe?.grpc) return [{ path: `${at}.grpc`, message: `is not supported: ${why}` }];
  const scheme = probe?.httpGet?.scheme;
  if (scheme !== undefined && scheme.toUpperCase() !== 'HTTP') return [{ path: `${at}.httpGet.scheme`, message: `must be HTTP: ${why}` }];
  return [];
}

/**
 * Without the queue-proxy the kubelet runs every container's readiness probe as written (in `full`
 * the queue-proxy runs the serving container's, and Knative drops the others' HTTP and TCP probes).
 * The serving container's port is filled in with the user port (../builders/user-container.ts);
 * another container has no port to default to, and Kubernetes refuses a probe without one.
 */
function kubeletProbeProblems(rev: RevisionSpec, template: RevisionTemplateProps, prefix: string, named: string): PathProblem[] {
  const out: PathProblem[] = [];
  (template.containers ?? []).forEach((c, i) => {
    if (rev.containers[i]?.name === rev.servingContainerName) return;
    const probe = c.readinessProbe;
    const handler = probe?.httpGet ? 'httpGet' : probe?.tcpSocket ? 'tcpSocket' : probe?.grpc ? 'grpc' : undefined;
    const port = handler && (probe![handler] as { port?: number | string }).port;
    if (handler && (port === undefined || port === 0)) {
      out.push({ path: joinPath(prefix, `containers[${i}].readinessProbe.${handler}.port`), message: `is required: in ${named} the kubelet runs this container's probe itself, and only the serving container's port is filled in` });
    }
  });
  return out;
}

function burstCapacityProblems(mode: DataPlaneMode, template: RevisionTemplateProps, prefix: string): PathProblem[] {
  if (mode !== DataPlaneModes.ACTIVATOR && mode !== DataPlaneModes.DIRECT) return [];
  const key = AutoscalingAnnotations.TARGET_BURST_CAPACITY;
  const typed = template.autoscaling?.targetBurstCapacity;
  // The key as written: canonical or its legacy alias.
  const written = Object.keys(template.templateAnnotations ?? {}).find((k) => (ALIASES[k] ?? k) === key);
  const value = typed ?? (written === undefined ? undefined : Number(template.templateAnnotations![written]));
  if (value === undefined) return [];
  const path = joinPath(prefix, typed !== undefined ? 'autoscaling.targetBurstCapacity' : `templateAnnotations["${written}"]`);
  if (mode === DataPlaneModes.ACTIVATOR && value !== -1) {
    return [{ path, message: `data plane "activator" keeps the activator in the path at every scale (target-burst-capacity -1); ${value} asks for it to leave the path, which this mode cannot do: remove it or set -1` }];
  }
  if (mode === DataPlaneModes.DIRECT) {
    return [{ path, message: 'data plane "direct" has no activator, so target-burst-capacity has no effect: remove it' }];
  }
  return [];
}
