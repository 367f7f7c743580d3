/**
 * Validation of KService props and of the resolved model, with Knative's rules (knative/serving
 * pkg/apis/serving/v1/*_validation.go, pkg/apis/serving/k8s_validation.go, pkg/apis/autoscaling/annotation_validation.go). Every problem is collected with its property path and raised once as a ValidationError
 * before anything is added to the construct tree, so nothing is ever half-synthesized.
 */
import { checkServingConfig } from '../contract/config';
import { Labels, Ports, QUEUE_CONTAINER_NAME, RevisionDefaults, UserContainerEnv, VISIBILITY_CLUSTER_LOCAL } from '../contract/constants';
import { currentRevisionName, resolveServiceSpec, seconds } from './resolve';
import type { ServiceSpec } from './spec';
import { Visibility, type KServiceProps, type RevisionTemplateProps } from './kservice-props';
import {
  addedCapabilitiesProblem,
  imageReferenceProblem,
  probeHandlerProblem,
  queueSidecarAnnotationProblems,
  revisionNamePrefixProblem,
  serviceAnnotationProblems,
  templateAnnotationProblems,
  timeoutSecondsProblem,
  unknownRevisionProblem,
} from './knative-rules';
import { generationOfRevisionName, isDns1035Label, isDns1123Label, MAX_NAME_LENGTH } from '../contract/naming';
import { joinPath, ProblemList } from '../problems';
import { checkPropsShape } from './props-shape';
import { checkDataPlanes } from './data-plane';

const RESERVED_ENV: readonly string[] = Object.values(UserContainerEnv);
const DEFAULT_SERVICE_NAME_HINT = 'a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters';

/**
 * Validates props, resolves them and validates the model. Returns the model or throws one
 * ValidationError listing every problem.
 */
export function compileServiceSpec(props: KServiceProps, defaultName: string): ServiceSpec {
  const problems = new ProblemList();
  // Wrong JavaScript types stop here, before any rule below reads them (props-shape.ts).
  checkPropsShape(props, problems);
  const name = props !== null && typeof props === 'object' && typeof props.name === 'string' ? props.name : defaultName;
  problems.throwIfAny(`KService "${name}"`);
  // A broken serving config would make every rule below that reads it report again (as the CLI
  // stops at a broken --config): it is judged alone first.
  checkServingConfig(props.config, problems);
  problems.throwIfAny(`KService "${name}"`);
  validateKServiceProps(props, defaultName, problems);
  const spec = resolveServiceSpec(props, defaultName, problems);
  validateServiceSpec(spec, props, problems);
  problems.throwIfAny(`KService "${props.name ?? defaultName}"`);
  return spec;
}

export function validateKServiceProps(props: KServiceProps, defaultName: string, problems: ProblemList): void {
  const name = props.name ?? defaultName;
  if (!isDns1035Label(name)) problems.add('name', `"${name}" must be ${DEFAULT_SERVICE_NAME_HINT}`);
  if (props.namespace !== undefined && !isDns1123Label(props.namespace)) {
    problems.add('namespace', `"${props.namespace}" must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`);
  }
  if (props.visibility !== undefined && !Object.values(Visibility).includes(props.visibility)) {
    problems.add('visibility', `must be one of ${Object.values(Visibility).join(', ')}, got "${props.visibility}"`);
  }
  // Knative reads only cluster-local from this label (knative/serving
  // pkg/reconciler/route/visibility/visibility.go); any other value would silently mean external.
  const visibilityLabel = props.labels?.[Labels.VISIBILITY];
  if (visibilityLabel !== undefined && visibilityLabel !== VISIBILITY_CLUSTER_LOCAL) {
    problems.add(`labels[${JSON.stringify(Labels.VISIBILITY)}]`, `must be ${VISIBILITY_CLUSTER_LOCAL} (omit the label for external visibility)`);
  }
  for (const { key, message } of serviceAnnotationProblems(props.annotations ?? {})) {
    problems.add(`annotations[${JSON.stringify(key)}]`, message);
  }
  if (props.generation !== undefined && !(Number.isInteger(props.generation) && props.generation >= 1)) {
    problems.add('generation', `must be a whole number of at least 1, got ${props.generation}`);
  }
  if (props.revisionName !== undefined) validateRevisionName(props.revisionName, name, 'revisionName', problems);
  validateTemplate(props, '', props.config?.maxRevisionTimeoutSeconds, problems);
  validateRevisions(props, name, problems);
  validateTraffic(props, name, problems);
}

function validateRevisionName(revisionName: string, serviceName: string, path: string, problems: ProblemList): void {
  // A generated name is as valid as the service name, which is checked (and reported) once, there.
  if (generationOfRevisionName(serviceName, revisionName) !== undefined) return;
  if (!isDns1123Label(revisionName)) {
    problems.add(path, `"${revisionName}" must be a DNS-1123 label (lowercase letters, digits and "-", at most ${MAX_NAME_LENGTH} characters)`);
  }
  const prefix = revisionNamePrefixProblem(serviceName, revisionName);
  if (prefix) problems.add(path, prefix);
}

function validateRevisions(props: KServiceProps, serviceName: string, problems: ProblemList): void {
  const seen = new Map<string, string>([[currentRevisionName(props, serviceName), 'the current template\'s revision']]);
  (props.revisions ?? []).forEach((rev, i) => {
    const path = `revisions[${i}]`;
    validateRevisionName(rev.name, serviceName, `${path}.name`, problems);
    const earlier = seen.get(rev.name);
    if (earlier) problems.add(`${path}.name`, `two revisions are named "${rev.name}" (also ${earlier})`);
    else seen.set(rev.name, path);
    validateTemplate(rev, path, props.config?.maxRevisionTimeoutSeconds, problems);
  });
}

/** The template rules: containers, ports, env, concurrency, timeouts. */
export function validateTemplate(
  t: RevisionTemplateProps,
  prefix: string,
  maxTimeoutSeconds: number | undefined,
  problems: ProblemList,
): void {
  const at = (p: string) => joinPath(prefix, p);
  validateContainers(t, prefix, problems);
  const cc = t.containerConcurrency;
  if (cc !== undefined && !(Number.isInteger(cc) && cc >= 0 && cc <= RevisionDefaults.CONTAINER_CONCURRENCY_MAX)) {
    problems.add(at('containerConcurrency'), `must be a whole number from 0 to ${RevisionDefaults.CONTAINER_CONCURRENCY_MAX}, got ${cc}`);
  }
  const max = maxTimeoutSeconds ?? RevisionDefaults.MAX_TIMEOUT_SECONDS;
  const timeout = checkDuration(t.timeout, at('timeout'), problems);
  const timeoutProblem = timeoutSecondsProblem(timeout, max);
  if (timeoutProblem) problems.add(at('timeout'), timeoutProblem);
  // Knative bounds neither by the timeout (knative-rules.ts timeoutSecondsProblem).
  checkDuration(t.responseStartTimeout, at('responseStartTimeout'), problems);
  checkDuration(t.idleTimeout, at('idleTimeout'), problems);
  const annotations = t.templateAnnotations ?? {};
  for (const { key, message } of [...queueSidecarAnnotationProblems(annotations), ...templateAnnotationProblems(annotations)]) {
    problems.add(at(`templateAnnotations[${JSON.stringify(key)}]`), message);
  }
  validateVolumes(t, prefix, problems);
}

/** A duration in whole seconds, at least 0; its value, or undefined when unset or reported. */
function checkDuration(d: RevisionTemplateProps['timeout'], path: string, problems: ProblemList): number | undefined {
  const s = seconds(d);
  if (s === undefined) return undefined;
  if (!Number.isInteger(s)) problems.add(path, `must be a whole number of seconds, got ${s}s`);
  else if (s < 0) problems.add(path, `must be at least 0s, got ${s}s`);
  else return s;
  return undefined;
}

function validateContainers(t: RevisionTemplateProps, prefix: string, problems: ProblemList): void {
  const at = (p: string) => joinPath(prefix, p);
  const containers = t.containers ?? [];
  if (containers.length === 0) {
    problems.add(at('containers'), 'at least one container is required');
    return;
  }
  const withPort = containers.filter((c) => c.port !== undefined || c.portName !== undefined).length;
  if (containers.length > 1 && withPort !== 1) {
    problems.add(at('containers'), `with several containers exactly one must set a port (the serving container), found ${withPort}`);
  }
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const path = at(`containers[${i}]`);
    if (!c.image || typeof c.image !== 'string') problems.add(`${path}.image`, 'is required');
    else {
      const image = imageReferenceProblem(c.image);
      if (image) problems.add(`${path}.image`, image);
    }
    const capabilities = addedCapabilitiesProblem(c.securityContext?.capabilities?.add);
    if (capabilities) problems.add(`${path}.securityContext.capabilities.add`, capabilities);
    const serving = containers.length === 1 || c.port !== undefined || c.portName !== undefined;
    for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
      const probe = probeHandlerProblem(c[kind], kind === 'readinessProbe' && serving);
      if (probe) problems.add(`${path}.${kind}`, probe);
    }
    if (c.name !== undefined) {
      if (!isDns1123Label(c.name)) problems.add(`${path}.name`, `"${c.name}" must be a DNS-1123 label`);
      if (c.name === QUEUE_CONTAINER_NAME) problems.add(`${path}.name`, `"${QUEUE_CONTAINER_NAME}" is reserved for the sidecar`);
      if (names.has(c.name)) problems.add(`${path}.name`, `duplicate container name "${c.name}"`);
      names.add(c.name);
    }
    if (c.port !== undefined) validatePort(c.port, `${path}.port`, problems);
    if (c.portName !== undefined && c.portName !== 'http1' && c.portName !== 'h2c') {
      problems.add(`${path}.portName`, `must be "http1" or "h2c", got "${c.portName}"`);
    }
    validateEnv(c.env, `${path}.env`, problems);
  });
}

/**
 * Volume names are unique and every mount names a volume (knative/serving
 * pkg/apis/serving/k8s_validation.go validateVolumes, validateVolumeMounts).
 */
function validateVolumes(t: RevisionTemplateProps, prefix: string, problems: ProblemList): void {
  const at = (p: string) => joinPath(prefix, p);
  const volumes = new Map<string, number>();
  (t.volumes ?? []).forEach((volume, i) => {
    const first = volumes.get(volume.name);
    if (first !== undefined) problems.add(at(`volumes[${i}].name`), `duplicate volume name "${volume.name}" (volume ${first} has it too)`);
    else volumes.set(volume.name, i);
  });
  (t.containers ?? []).forEach((container, c) => {
    (container.volumeMounts ?? []).forEach((mount, m) => {
      if (!volumes.has(mount.name)) problems.add(at(`containers[${c}].volumeMounts[${m}].name`), `no volume named "${mount.name}" in volumes`);
    });
  });
}

function validatePort(port: number, path: string, problems: ProblemList): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.add(path, `must be a port number from 1 to 65535, got ${port}`);
  } else if (Ports.RESERVED.includes(port)) {
    problems.add(path, `port ${port} is reserved (queue-proxy and the runtime use ${Ports.RESERVED.join(', ')})`);
  }
}

function validateEnv(env: RevisionTemplateProps['containers'][number]['env'], path: string, problems: ProblemList): void {
  if (env === undefined) return;
  const names = Array.isArray(env) ? (env as { name: string }[]).map((e) => e.name) : Object.keys(env);
  names.forEach((n, i) => {
    if (RESERVED_ENV.includes(n)) {
      problems.add(Array.isArray(env) ? `${path}[${i}].name` : `${path}.${n}`, `${n} is reserved (set by the platform)`);
    }
  });
}

/**
 * A tag's route Service is named by config.tagTemplate (default `{{.Tag}}-{{.Name}}`), so its
 * length depends on the template. Only tags, and only valid ones: the service's own host name is
 * its name, which validateKServiceProps already checked (one problem, not two).
 */
function validateTagHostNames(spec: ServiceSpec, props: KServiceProps, problems: ProblemList): void {
  for (const { tag, hostName } of spec.route.names) {
    if (!tag || !isDns1035Label(tag)) continue;
    const index = (props.traffic ?? []).findIndex((t) => t.tag === tag);
    if (hostName.length > MAX_NAME_LENGTH) {
      problems.add(`traffic[${index}].tag`, `host name "${hostName}" would be ${hostName.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`);
    } else if (!isDns1123Label(hostName)) {
      problems.add('config.tagTemplate', `host name "${hostName}" is not a DNS-1123 label`);
    }
  }
}

function validateTraffic(props: KServiceProps, serviceName: string, problems: ProblemList): void {
  const traffic = props.traffic;
  if (traffic === undefined || traffic.length === 0) return;
  const known = new Set([currentRevisionName(props, serviceName), ...(props.revisions ?? []).map((r) => r.name)]);
  const tags = new Map<string, number>();
  let sum = 0;
  traffic.forEach((t, i) => {
    const path = `traffic[${i}]`;
    const percent = t.percent ?? 0;
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      problems.add(`${path}.percent`, `must be a whole number from 0 to 100, got ${percent}`);
    }
    sum += percent;
    if (t.revisionName !== undefined && t.latestRevision === true) {
      problems.add(path, 'set either revisionName or latestRevision: true, not both');
    } else if (t.revisionName === undefined && t.latestRevision === false) {
      problems.add(`${path}.latestRevision`, 'may only be false when revisionName is set');
    }
    if (t.revisionName !== undefined && !known.has(t.revisionName)) {
      problems.add(`${path}.revisionName`, unknownRevisionProblem(t.revisionName, known));
    }
    if (t.tag !== undefined) validateTag(t.tag, `${path}.tag`, tags, i, problems);
  });
  if (sum !== 100) problems.add('traffic', `percents must sum to 100, got ${sum}`);
}

function validateTag(tag: string, path: string, tags: Map<string, number>, i: number, problems: ProblemList): void {
  if (!isDns1035Label(tag)) problems.add(path, `"${tag}" must be ${DEFAULT_SERVICE_NAME_HINT}`);
  const first = tags.get(tag);
  // Says "traffic target N", not a field path: the CLI user's path is spec.traffic[N].
  if (first !== undefined) problems.add(path, `duplicate tag "${tag}" (traffic target ${first} has it too)`);
  else tags.set(tag, i);
}

/** Rules that need the resolved model. */
export function validateServiceSpec(spec: ServiceSpec, props: KServiceProps, problems: ProblemList): void {
  validateTagHostNames(spec, props, problems);
  checkDataPlanes(spec, props, problems);
}
