/**
 * KService props → the resolved model, in one walk. Knative's webhook first decodes an object into
 * its Go types, then defaults it and validates it with one rule shape (`Validate() *FieldError`
 * composed with `.Also()` and `.ViaField()`, knative.dev/serving pkg/apis/serving/v1/*_validation.go),
 * and its controllers derive the Configuration, Revisions and Route. Here the same happens once
 * per node: the JavaScript types are checked first (props-shape.ts; a wrong type stops there, like
 * a failed decode), then the serving config, then every field is checked, defaulted and resolved
 * in the same step (parse-revision.ts for templates, traffic.ts for traffic). Every problem is
 * kept with its path as segments, and all are reported together; a spec with problems is never
 * used, so nothing is half-synthesized.
 */
import { Annotations, Labels, VISIBILITY_CLUSTER_LOCAL } from '../contract/constants';
import { Ingress, parseServingConfig, renderHostTemplate, type ServingConfig } from '../contract/config';
import { generationOfRevisionName, isDns1035Label, isDns1123Label, MAX_NAME_LENGTH, Names } from '../contract/naming';
import { FieldErrors, formatPath, type Parsed, type PathSegments, type Problem } from '../problems';
import { serviceDataPlane } from './data-plane';
import { sortedRecord } from './json';
import { DNS1035_LABEL_HINT, revisionNamePrefixErrors, serviceAnnotationErrors } from './knative-rules';
import { Visibility, type KServiceProps } from './kservice-props';
import { parseRevision, type RevisionContext } from './parse-revision';
import { checkPropsShape } from './props-shape';
import { publicServicePort, type RevisionSpec, type RouteSpec, type ServiceSpec, type TrafficTarget } from './spec';
import { parseTraffic, trafficNames } from './traffic';

export const DEFAULT_NAMESPACE = 'default';
const CLUSTER_LOCAL_DOMAIN = 'svc.cluster.local';

/** The resolved service and every problem of its props; no spec when the types or the config are wrong. */
export interface ParsedService {
  readonly spec?: ServiceSpec;
  readonly problems: readonly Problem[];
}

/**
 * Parses the props of a KService (`defaultName`: the construct id, used when `name` is unset).
 * The serving config is `props.config`, not an argument of its own: it is a prop of the public
 * API (KServiceProps.config), both front ends reach this parse through `new KService` with it in
 * the props (the CLI puts --config there), the shape check covers it with the rest, and its
 * problems keep their props path (`config.domainTemplate`, which the CLI reports as --config's).
 */
export function parseService(props: KServiceProps, defaultName: string): ParsedService {
  const types = checkPropsShape(props);
  if (!types.empty) return { problems: types.problems };
  // A broken serving config would make every rule that reads it report again (as the CLI stops
  // at a broken --config): it is judged alone first.
  const config = parseServingConfig(props.config);
  if (!config.errors.empty) return { problems: config.errors.via('config').problems };
  const { value: spec, errors } = parseWithConfig(props, defaultName, config.value);
  return { spec, problems: errors.problems };
}

/** The resolved model of valid props; one ValidationError listing every problem otherwise. */
export function compileServiceSpec(props: KServiceProps, defaultName: string): ServiceSpec {
  const { spec, problems } = parseService(props, defaultName);
  const name = props !== null && typeof props === 'object' && typeof props.name === 'string' ? props.name : defaultName;
  FieldErrors.from(problems).throwIfAny(`KService "${name}"`);
  return spec!;
}

function parseWithConfig(props: KServiceProps, defaultName: string, config: ServingConfig): Parsed<ServiceSpec> {
  const name = props.name ?? defaultName;
  const namespace = props.namespace ?? DEFAULT_NAMESPACE;
  const generation = props.generation ?? 1;
  const currentName = props.revisionName ?? Names.revision(name, generation);
  const ctx: RevisionContext = { serviceName: name, namespace, config, dataPlane: serviceDataPlane(props) };
  const current = parseRevision(props, currentName, generation, [], ctx);
  const earlier = parseEarlierRevisions(props, name, currentName, ctx);
  const known = new Set([currentName, ...earlier.value.map((r) => r.spec.name)]);
  const traffic = parseTraffic(props.traffic, currentName, known);
  const routed = new Set(traffic.value.map((t) => t.revisionName));
  const kept = earlier.value.filter((r) => routed.has(r.spec.name) || r.retain).map((r) => r.spec);
  const clusterLocal = parseVisibility(props, config);
  const route = parseRoute(props, name, namespace, config, clusterLocal.value, [current.value, ...earlier.value.map((r) => r.spec)], traffic.value);
  const errors = metadataErrors(props, name).also(clusterLocal.errors, current.errors, earlier.errors, traffic.errors.via('traffic'), route.errors);
  return { value: { name, namespace, revisions: uniqueByName([current.value, ...kept]), route: route.value, config }, errors };
}

/** The service's own fields: name, namespace, annotations, generation, revisionName. */
function metadataErrors(props: KServiceProps, name: string): FieldErrors {
  let errors = FieldErrors.none;
  if (!isDns1035Label(name)) errors = errors.also(FieldErrors.of(`"${name}" must be ${DNS1035_LABEL_HINT}`, 'name'));
  if (props.namespace !== undefined && !isDns1123Label(props.namespace)) {
    errors = errors.also(FieldErrors.of(`"${props.namespace}" must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`, 'namespace'));
  }
  errors = errors.also(serviceAnnotationErrors(props.annotations ?? {}).via('annotations'));
  if (props.generation !== undefined && !(Number.isInteger(props.generation) && props.generation >= 1)) {
    errors = errors.also(FieldErrors.of(`must be a whole number of at least 1, got ${props.generation}`, 'generation'));
  }
  return props.revisionName === undefined ? errors : errors.also(revisionNameErrors(props.revisionName, name).via('revisionName'));
}

function revisionNameErrors(revisionName: string, serviceName: string): FieldErrors {
  // A generated name is as valid as the service name, which is checked (and reported) once, there.
  if (generationOfRevisionName(serviceName, revisionName) !== undefined) return FieldErrors.none;
  return FieldErrors.none.also(
    isDns1123Label(revisionName) ? undefined : FieldErrors.of(`"${revisionName}" must be a DNS-1123 label (lowercase letters, digits and "-", at most ${MAX_NAME_LENGTH} characters)`),
    revisionNamePrefixErrors(serviceName, revisionName),
  );
}

/** `revisions`: each one's name (valid, unique), template and whether it is kept unrouted. */
function parseEarlierRevisions(
  props: KServiceProps,
  serviceName: string,
  currentName: string,
  ctx: RevisionContext,
): Parsed<{ readonly spec: RevisionSpec; readonly retain: boolean }[]> {
  const seen = new Map<string, string>([[currentName, 'the current template\'s revision']]);
  let errors = FieldErrors.none;
  const value = (props.revisions ?? []).map((rev, i) => {
    const at: PathSegments = ['revisions', i];
    const earlier = seen.get(rev.name);
    if (earlier === undefined) seen.set(rev.name, formatPath(at));
    const duplicate = earlier === undefined ? undefined : FieldErrors.of(`two revisions are named "${rev.name}" (also ${earlier})`);
    const parsed = parseRevision(rev, rev.name, generationOfRevisionName(serviceName, rev.name), at, ctx);
    errors = errors.also(revisionNameErrors(rev.name, serviceName).also(duplicate).via(...at, 'name'), parsed.errors);
    return { spec: parsed.value, retain: rev.retain === true };
  });
  return { value, errors };
}

function uniqueByName(revisions: RevisionSpec[]): RevisionSpec[] {
  const seen = new Set<string>();
  return revisions.filter((r) => !seen.has(r.name) && seen.add(r.name));
}

/**
 * Whether the service is cluster-local: `visibility`, else the Knative label, else a config domain
 * of svc.cluster.local. Knative reads only cluster-local from the label (knative/serving
 * pkg/reconciler/route/visibility/visibility.go); any other value would silently mean external.
 */
function parseVisibility(props: Pick<KServiceProps, 'visibility' | 'labels'>, config: ServingConfig): Parsed<boolean> {
  let errors = FieldErrors.none;
  if (props.visibility !== undefined && !Object.values(Visibility).includes(props.visibility)) {
    errors = errors.also(FieldErrors.of(`must be one of ${Object.values(Visibility).join(', ')}, got "${props.visibility}"`, 'visibility'));
  }
  const label = props.labels?.[Labels.VISIBILITY];
  if (label !== undefined && label !== VISIBILITY_CLUSTER_LOCAL) {
    errors = errors.also(FieldErrors.of(`must be ${VISIBILITY_CLUSTER_LOCAL} (omit the label for external visibility)`, 'labels', Labels.VISIBILITY));
  }
  const clusterLocal = props.visibility !== undefined
    ? props.visibility === VISIBILITY_CLUSTER_LOCAL
    : label === VISIBILITY_CLUSTER_LOCAL || config.domain === CLUSTER_LOCAL_DOMAIN;
  return { value: clusterLocal, errors };
}

/**
 * The route: its names and hosts from the config's templates, rendered once. A tag's route Service
 * is named by config.tagTemplate (default `{{.Tag}}-{{.Name}}`), so its length depends on the
 * template: checked here, for valid tags only (the service's own host name is its name, checked
 * with the metadata).
 */
function parseRoute(
  props: KServiceProps,
  name: string,
  namespace: string,
  config: ServingConfig,
  clusterLocal: boolean,
  revisions: readonly RevisionSpec[],
  targets: readonly TrafficTarget[],
): Parsed<RouteSpec> {
  const byName = new Map(revisions.map((r) => [r.name, r]));
  let errors = FieldErrors.none;
  const render = (template: string, field: 'domainTemplate' | 'tagTemplate', fields: Record<string, string>) => {
    try {
      return renderHostTemplate(template, fields);
    } catch (e) {
      // Fields Knative does not offer stopped the parse with the config; one it offers but the
      // compiler cannot fill ({{.Annotations}}, {{.Labels}}) is reported here.
      errors = errors.also(FieldErrors.of((e as Error).message, 'config', field));
      return fields.Name ?? name;
    }
  };
  const names = trafficNames(targets, {
    hostName: (tag) => (tag === '' ? name : render(config.tagTemplate, 'tagTemplate', { Tag: tag, Name: name })),
    externalHost: (hostName) =>
      clusterLocal ? undefined : render(config.domainTemplate, 'domainTemplate', { Name: hostName, Namespace: namespace, Domain: config.domain }),
    servicePort: (rev) => publicServicePort(byName.get(rev) ?? { protocol: 'http1' }),
  });
  for (const { tag, hostName } of names) {
    if (!tag || !isDns1035Label(tag)) continue;
    // The targets are in the order written, so this is the first target with the tag.
    const index = targets.findIndex((t) => t.tag === tag);
    if (hostName.length > MAX_NAME_LENGTH) {
      errors = errors.also(FieldErrors.of(`host name "${hostName}" would be ${hostName.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`, 'traffic', index, 'tag'));
    } else if (!isDns1123Label(hostName)) {
      errors = errors.also(FieldErrors.of(`host name "${hostName}" is not a DNS-1123 label`, 'config', 'tagTemplate'));
    }
  }
  const route: RouteSpec = {
    name,
    namespace,
    clusterLocal,
    labels: sortedRecord({ ...(props.labels ?? {}), [Labels.SERVICE]: name }),
    annotations: sortedRecord(Object.fromEntries(Object.entries(props.annotations ?? {}).filter(([k]) => k !== Annotations.LAST_APPLIED))),
    targets,
    names,
    externalGateway: config.externalGateway,
    localGateway: config.localGateway,
    localGatewayService: config.ingress === Ingress.GATEWAY_API ? config.gatewayApi.localGatewayService : config.localGatewayService,
    ingress: config.ingress,
    gatewayApi: config.gatewayApi,
    tagHeaderBasedRouting: config.tagHeaderBasedRouting,
  };
  return { value: route, errors };
}
