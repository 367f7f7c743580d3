/**
 * The JavaScript types of KService props, checked before any rule reads them. TypeScript callers
 * get this from the compiler; JavaScript callers, props built from JSON, and `as any` do not, and
 * a wrong type (a number for `containers`, a string for `traffic`) would otherwise surface as a
 * TypeError from deep inside a validator or builder. Every mismatch becomes a Problem with its
 * property path, so `parseService` (parse.ts) reports them all at once instead.
 *
 * Hand-written rather than a JSON schema: the props hold class instances (cdk8s Duration,
 * AutoscalingClass/Metric) that a schema validator cannot describe, and the few shapes below read
 * like the interfaces in kservice-props.ts they mirror. Only types are checked here; values and
 * Knative's rules are in parse.ts and parse-revision.ts. Kubernetes objects passed through as they are
 * (resources, probes, volumes, affinity, ...) are then checked against the same pod spec schema
 * the CLI uses for Knative YAML (lib/model/schema/podspec.ts), so both accept the same objects.
 */
import { arrayOf, ref, type Schema } from './schema/builders';
import { podSpecDefinitions, podSpecProperties } from './schema/podspec';
import { schemaProblems } from './schema/check';
import { FieldErrors } from '../problems';

/** A type check of one value: its problems, at paths relative to it. */
type Check = (value: unknown) => FieldErrors;

/** A readable name of a value's type for messages; never throws (Symbols included). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case 'number':
      return `the number ${String(value)}`;
    case 'object': {
      // A Date or a Map is an object too; naming it says why it was refused.
      const type = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof type === 'string' && type !== 'Object' && type !== '' ? `a ${type}` : 'an object';
    }
    case 'undefined':
      return 'undefined';
    default:
      return `a ${typeof value}`;
  }
}

const expect = (what: string, test: (v: unknown) => boolean): Check => (value) =>
  value !== undefined && !test(value) ? FieldErrors.of(`must be ${what}, got ${describeValue(value)}`) : FieldErrors.none;

/** Built-in objects JSON turns into `{}` (their contents are lost on the way to the manifest). */
const JSON_EMPTIED = [Map, Set, WeakMap, WeakSet, RegExp, Error, Promise];

/**
 * An object that reaches the manifest as an object: a plain one, or a class instance such as a
 * kubernetes-models object (whose toJSON gives one). Not a Date (toJSON gives a string), a Map, a
 * Set or another built-in JSON empties: those would pass `typeof` and then become a string or `{}`.
 */
const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  if (JSON_EMPTIED.some((type) => v instanceof type)) return false;
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return true;
  const json: unknown = toJSON.call(v);
  return typeof json === 'object' && json !== null && !Array.isArray(json);
};

const string = expect('a string', (v) => typeof v === 'string');
const number = expect('a number', (v) => typeof v === 'number');
const boolean = expect('true or false', (v) => typeof v === 'boolean');
const object = expect('an object', isPlainObject);
const list = expect('a list', Array.isArray);
/** A cdk8s Duration (anything with toSeconds, as parse-revision.ts reads it). */
const duration = expect('a Duration (cdk8s Duration.seconds(...) etc.)', (v) => isPlainOrClassObject(v) && typeof (v as { toSeconds?: unknown }).toSeconds === 'function');
/** AutoscalingClass / AutoscalingMetric: an object carrying a string `value`. */
const valueHolder = (what: string) => expect(what, (v) => isPlainOrClassObject(v) && typeof (v as { value?: unknown }).value === 'string');

function isPlainOrClassObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const stringMap: Check = (value) => {
  if (value === undefined) return FieldErrors.none;
  if (!isPlainObject(value)) return object(value);
  return FieldErrors.none.also(...Object.entries(value).map(([key, v]) => string(v).via(key)));
};

const listOf = (item: Check): Check => (value) => {
  if (value === undefined) return FieldErrors.none;
  if (!Array.isArray(value)) return list(value);
  return FieldErrors.none.also(...value.map((v, i) => item(v).via(i)));
};

/** An object whose listed fields have the given types; other fields are not looked at. */
const shape = (fields: Record<string, Check>, required: readonly string[] = []): Check => (value) => {
  if (value === undefined) return FieldErrors.none;
  if (!isPlainOrClassObject(value)) return object(value);
  const record = value as Record<string, unknown>;
  return FieldErrors.none.also(
    ...required.filter((key) => record[key] === undefined).map((key) => FieldErrors.of('is required', key)),
    ...Object.entries(fields).map(([key, check]) => check(record[key]).via(key)),
  );
};

const requiredObject = (inner: Check): Check => (value) => {
  if (value === undefined) return FieldErrors.none;
  if (!isPlainObject(value)) return object(value);
  return inner(value);
};

const envVar = shape({ name: string, value: string, valueFrom: object }, ['name']);
const env: Check = (value) => (Array.isArray(value) ? listOf(envVar)(value) : stringMap(value));

const container = shape(
  {
    name: string,
    image: string,
    port: number,
    portName: string,
    env,
    envFrom: listOf(object),
    command: listOf(string),
    args: listOf(string),
    workingDir: string,
    resources: object,
    readinessProbe: object,
    livenessProbe: object,
    startupProbe: object,
    volumeMounts: listOf(object),
    securityContext: object,
    imagePullPolicy: string,
    terminationMessagePath: string,
    terminationMessagePolicy: string,
  },
  ['image'],
);

const autoscaling = shape({
  class: valueHolder('an AutoscalingClass (AutoscalingClass.KPA, .HPA or .of(...))'),
  metric: valueHolder('an AutoscalingMetric (AutoscalingMetric.CONCURRENCY, ... or .custom(...))'),
  target: number,
  targetUtilizationPercentage: number,
  minScale: number,
  maxScale: number,
  initialScale: number,
  activationScale: number,
  window: duration,
  panicWindowPercentage: number,
  panicThresholdPercentage: number,
  scaleDownDelay: duration,
  scaleToZeroPodRetentionPeriod: duration,
  targetBurstCapacity: number,
});

/** The type check of each RevisionTemplateProps field (shared by the service and its earlier revisions). */
const REVISION_TEMPLATE_CHECKS: Record<string, Check> = {
  containers: listOf(container),
  containerConcurrency: number,
  timeout: duration,
  responseStartTimeout: duration,
  idleTimeout: duration,
  autoscaling,
  dataPlane: string,
  templateLabels: stringMap,
  templateAnnotations: stringMap,
  serviceAccountName: string,
  imagePullSecrets: listOf(object),
  volumes: listOf(object),
  nodeSelector: stringMap,
  tolerations: listOf(object),
  affinity: object,
  securityContext: object,
  runtimeClassName: string,
  priorityClassName: string,
  enableServiceLinks: boolean,
  automountServiceAccountToken: boolean,
  hostAliases: listOf(object),
  dnsPolicy: string,
  dnsConfig: object,
  initContainers: listOf(object),
  topologySpreadConstraints: listOf(object),
  schedulerName: string,
};

const AUTOSCALER_CONFIG_FIELDS: Record<string, Check> = {
  podAutoscalerClass: string,
  enableScaleToZero: boolean,
  allowZeroInitialScale: boolean,
};

/** Every other autoscaler config field is a number. */
const autoscalerConfig: Check = requiredObject((value) =>
  FieldErrors.none.also(...Object.entries(value as Record<string, unknown>).map(([key, v]) => (AUTOSCALER_CONFIG_FIELDS[key] ?? number)(v).via(key))),
);

const config = shape({
  domain: string,
  domainTemplate: string,
  tagTemplate: string,
  externalGateway: string,
  localGateway: string,
  localGatewayService: string,
  ingress: string,
  tagHeaderBasedRouting: boolean,
  gatewayApi: shape({
    externalGateway: string,
    localGateway: string,
    localGatewayService: string,
    gatewayClassName: string,
    listenerPort: number,
    requestTimeoutSupported: boolean,
  }),
  runtimeImage: string,
  revisionTimeoutSeconds: number,
  maxRevisionTimeoutSeconds: number,
  revisionResponseStartTimeoutSeconds: number,
  revisionIdleTimeoutSeconds: number,
  containerConcurrency: number,
  autoscaler: autoscalerConfig,
  queueSidecarResources: requiredObject((value) =>
    FieldErrors.none.also(...Object.entries(value as Record<string, unknown>).map(([key, v]) => string(v).via(key))),
  ),
});

const trafficTarget = shape({ revisionName: string, latestRevision: boolean, percent: number, tag: string });

const revision = shape({ ...REVISION_TEMPLATE_CHECKS, name: string, retain: boolean }, ['name', 'containers']);

const kserviceProps = shape(
  {
    ...REVISION_TEMPLATE_CHECKS,
    name: string,
    namespace: string,
    labels: stringMap,
    annotations: stringMap,
    visibility: string,
    traffic: listOf(trafficTarget),
    revisionName: string,
    generation: number,
    revisions: listOf(revision),
    config,
  },
  ['containers'],
);

/** Pod spec fields a revision template passes through to the Deployment unchanged. */
const POD_PASS_THROUGH = ['initContainers', 'volumes', 'imagePullSecrets', 'tolerations', 'affinity', 'securityContext', 'topologySpreadConstraints', 'dnsPolicy', 'dnsConfig', 'hostAliases'];

/** The pass-through parts of a template's props, in the CLI's pod spec schema (other props are not looked at). */
const passThroughSchema: Schema = {
  type: 'object',
  properties: {
    ...Object.fromEntries(POD_PASS_THROUGH.map((key) => [key, podSpecProperties[key]])),
    containers: arrayOf({
      type: 'object',
      properties: {
        resources: ref('ResourceRequirements'),
        readinessProbe: ref('Probe'),
        livenessProbe: ref('Probe'),
        startupProbe: ref('Probe'),
        securityContext: ref('SecurityContext'),
        volumeMounts: arrayOf(ref('VolumeMount')),
        envFrom: arrayOf(ref('EnvFromSource')),
      },
    }),
  },
  definitions: podSpecDefinitions,
};

function checkPassThrough(template: unknown): FieldErrors {
  return FieldErrors.from(schemaProblems(asJson(template), passThroughSchema));
}

/**
 * What the builders will write (they copy pass-through objects through JSON): a kubernetes-models
 * object is checked as the fields it renders, not with its methods. Unchanged if JSON refuses it.
 */
function asJson(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return value;
  }
}

/**
 * A problem for every prop whose JavaScript type is wrong (the props themselves must be an
 * object), then, when the types are right, for every pass-through Kubernetes object the pod spec
 * schema refuses. Like decoding a Knative object into its Go types before its webhook validates
 * it: a wrong type stops here, so no rule ever reads one.
 */
export function checkPropsShape(props: unknown): FieldErrors {
  if (!isPlainOrClassObject(props)) return FieldErrors.of(`props must be an object, got ${describeValue(props)}`);
  const types = kserviceProps(props);
  if (!types.empty) return types;
  const revisions = (props as { revisions?: unknown[] }).revisions ?? [];
  return checkPassThrough(props).also(...revisions.map((revision, i) => checkPassThrough(revision).via('revisions', i)));
}
