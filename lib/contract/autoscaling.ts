import { AutoscalerConfigProps, ServingConfig } from './config';
import { Labels, MAX_INT32 } from './constants';

/**
 * Knative's autoscaling annotations (knative/serving pkg/apis/autoscaling/register.go, annotation_validation.go): names, legacy aliases, validation, and the
 * resolution against config-autoscaler that both the compiler (to validate and carry them) and the
 * runtime autoscaler (to act on them) need. One module so the two can never disagree.
 */

/** Every autoscaling annotation key starts with it (knative/serving pkg/apis/autoscaling/register.go GroupName). */
export const AUTOSCALING_ANNOTATION_PREFIX = 'autoscaling.knative.dev/';
const PREFIX = AUTOSCALING_ANNOTATION_PREFIX;

export const AutoscalingAnnotations = {
  CLASS: `${PREFIX}class`,
  METRIC: `${PREFIX}metric`,
  TARGET: `${PREFIX}target`,
  TARGET_UTILIZATION_PERCENTAGE: `${PREFIX}target-utilization-percentage`,
  MIN_SCALE: `${PREFIX}min-scale`,
  MAX_SCALE: `${PREFIX}max-scale`,
  INITIAL_SCALE: `${PREFIX}initial-scale`,
  ACTIVATION_SCALE: `${PREFIX}activation-scale`,
  SCALE_DOWN_DELAY: `${PREFIX}scale-down-delay`,
  SCALE_TO_ZERO_POD_RETENTION_PERIOD: `${PREFIX}scale-to-zero-pod-retention-period`,
  WINDOW: `${PREFIX}window`,
  PANIC_WINDOW_PERCENTAGE: `${PREFIX}panic-window-percentage`,
  PANIC_THRESHOLD_PERCENTAGE: `${PREFIX}panic-threshold-percentage`,
  TARGET_BURST_CAPACITY: `${PREFIX}target-burst-capacity`,
  METRIC_AGGREGATION_ALGORITHM: `${PREFIX}metric-aggregation-algorithm`,
} as const;

/** Legacy camelCase spellings Knative still accepts, mapped to the canonical key. */
export const ALIASES: Readonly<Record<string, string>> = {
  [`${PREFIX}targetUtilizationPercentage`]: AutoscalingAnnotations.TARGET_UTILIZATION_PERCENTAGE,
  [`${PREFIX}minScale`]: AutoscalingAnnotations.MIN_SCALE,
  [`${PREFIX}maxScale`]: AutoscalingAnnotations.MAX_SCALE,
  [`${PREFIX}initialScale`]: AutoscalingAnnotations.INITIAL_SCALE,
  [`${PREFIX}scaleDownDelay`]: AutoscalingAnnotations.SCALE_DOWN_DELAY,
  [`${PREFIX}scaleToZeroPodRetentionPeriod`]: AutoscalingAnnotations.SCALE_TO_ZERO_POD_RETENTION_PERIOD,
  [`${PREFIX}panicWindowPercentage`]: AutoscalingAnnotations.PANIC_WINDOW_PERCENTAGE,
  [`${PREFIX}panicThresholdPercentage`]: AutoscalingAnnotations.PANIC_THRESHOLD_PERCENTAGE,
  [`${PREFIX}targetBurstCapacity`]: AutoscalingAnnotations.TARGET_BURST_CAPACITY,
};

export const AutoscalerClass = {
  KPA: 'kpa.autoscaling.knative.dev',
  HPA: 'hpa.autoscaling.knative.dev',
} as const;

/**
 * Declared with the other data-plane facts (./data-plane.ts); exported here too because tests that
 * must not move (test/shared/both-front-ends.test.ts, test/oracle/differential.test.ts) import it
 * from this module.
 */
export { DATA_PLANE_ANNOTATION } from './data-plane';

/** A Kubernetes object's labels and annotations, keys sorted. */
export interface ObjectLabelsAndAnnotations {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/** kubectl's own bookkeeping (default-container, restartedAt, last-applied-configuration): never the revision's. */
const KUBECTL_ANNOTATION_PREFIX = 'kubectl.kubernetes.io/';

/**
 * Labels and annotations of a revision's ServerlessService children: its public and private
 * Services and its public Endpoints. Knative copies them from the PodAutoscaler, annotations minus
 * the metric (knative/serving pkg/reconciler/autoscaling/resources/sks.go MakeSKS, then
 * pkg/reconciler/serverlessservice/resources/services.go), and the PodAutoscaler carries the
 * revision's workload labels and annotations, which are also those of its pod template. Computed
 * here from the pod template so that the compiler (lib/builders) and the runtime (which creates
 * a public Endpoints object a GitOps engine left out, from the live Deployment) agree. The pod
 * template rather than the Deployment's own metadata: engines and controllers mark the latter
 * (Argo CD's tracking-id annotation, Flux's owner labels, kubectl's last-applied-configuration,
 * deployment.kubernetes.io/revision), never the template.
 */
export function serverlessServiceMetadata(
  revision: string,
  type: 'Public' | 'Private',
  podTemplate: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> },
): ObjectLabelsAndAnnotations {
  const annotations = Object.entries(podTemplate.annotations ?? {}).filter(
    ([key]) => key !== AutoscalingAnnotations.METRIC && !key.startsWith(KUBECTL_ANNOTATION_PREFIX),
  );
  return {
    labels: sortedKeys({ ...podTemplate.labels, [Labels.SERVERLESS_SERVICE]: revision, [Labels.SERVICE_TYPE]: type }),
    annotations: sortedKeys(Object.fromEntries(annotations)),
  };
}

function sortedKeys(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const Metric = {
  CONCURRENCY: 'concurrency',
  RPS: 'rps',
  CPU: 'cpu',
  MEMORY: 'memory',
} as const;

const KNOWN_KEYS = new Set<string>(Object.values(AutoscalingAnnotations));
const ONE_HOUR = 3600;

/** Everything the KPA and the compiler need about one revision, defaults filled. */
export interface ResolvedAutoscaling {
  readonly class: string;
  readonly metric: string;
  /** The `target` annotation as written, if any. */
  readonly target?: number;
  /** Fraction, e.g. 0.7. */
  readonly targetUtilization: number;
  /** The per-pod capacity the target is a fraction of (TotalValue, knative/serving pkg/reconciler/autoscaling/resources/target.go). */
  readonly totalValue: number;
  /** Desired load per pod: max(0.01, totalValue × targetUtilization). */
  readonly targetPerPod: number;
  readonly minScale: number;
  /** 0 means unlimited. */
  readonly maxScale: number;
  readonly initialScale: number;
  readonly activationScale: number;
  readonly scaleDownDelaySeconds: number;
  readonly scaleToZeroPodRetentionPeriodSeconds: number;
  readonly stableWindowSeconds: number;
  readonly panicWindowSeconds: number;
  /** Fraction, e.g. 2.0 for 200%. */
  readonly panicThreshold: number;
  /** -1 keeps the activator in the path; 0 only at zero. */
  readonly targetBurstCapacity: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
  readonly enableScaleToZero: boolean;
  readonly scaleToZeroGracePeriodSeconds: number;
  readonly activatorCapacity: number;
  readonly metricAggregationAlgorithm: string;
}

/**
 * A problem with one annotation (or config-autoscaler key): `path` is the key as written. The
 * runtime logs these as they are; the model puts them under the field they came from.
 */
export interface KeyProblem {
  readonly path: string;
  readonly message: string;
}

export interface Parsed<T> {
  readonly value: T;
  readonly problems: KeyProblem[];
}

/**
 * Rewrites aliases to canonical keys. Giving both spellings of one setting is a problem, as in
 * Knative, because which one wins would otherwise be a guess.
 */
export function canonicalizeAutoscalingAnnotations(
  annotations: Readonly<Record<string, string>>,
): Parsed<Record<string, string>> {
  const out: Record<string, string> = {};
  const problems: KeyProblem[] = [];
  for (const [key, value] of Object.entries(annotations)) {
    const canonical = ALIASES[key] ?? key;
    if (canonical in out) {
      problems.push({ path: key, message: `duplicates ${canonical}; give only one of them` });
      continue;
    }
    out[canonical] = value;
  }
  return { value: out, problems };
}

/**
 * The key as the user wrote it in `written`: a problem about a canonical key may be about its
 * camelCase alias (ALIASES). Both front ends report at the written key.
 */
export function writtenAnnotationKey(key: string, written: Readonly<Record<string, string>>): string {
  if (key in written) return key;
  return Object.keys(ALIASES).find((alias) => ALIASES[alias] === key && alias in written) ?? key;
}

/** Only the `autoscaling.knative.dev/*` entries, canonicalized. */
export function autoscalingAnnotationsOf(annotations: Readonly<Record<string, string>>): Record<string, string> {
  const picked = Object.entries(annotations).filter(([k]) => k.startsWith(PREFIX));
  return canonicalizeAutoscalingAnnotations(Object.fromEntries(picked)).value;
}

/**
 * Validates the autoscaling annotations of a revision and resolves them against config-autoscaler.
 * Problem paths are the annotation keys as written.
 */
export function parseAutoscaling(
  annotations: Readonly<Record<string, string>>,
  config: ServingConfig,
  containerConcurrency: number,
): Parsed<ResolvedAutoscaling> {
  const canon = canonicalizeAutoscalingAnnotations(annotations);
  const reader = new AnnotationReader(canon.value, canon.problems);
  const a = config.autoscaler;
  const A = AutoscalingAnnotations;

  for (const key of Object.keys(canon.value)) {
    if (key.startsWith(PREFIX) && !KNOWN_KEYS.has(key)) reader.problem(key, 'unknown autoscaling annotation');
  }

  const klass = reader.string(A.CLASS) ?? a.podAutoscalerClass;
  if (klass.endsWith('.knative.dev') && klass !== AutoscalerClass.KPA && klass !== AutoscalerClass.HPA) {
    reader.problem(A.CLASS, `must be ${AutoscalerClass.KPA} or ${AutoscalerClass.HPA}`);
  }
  const isHpa = klass === AutoscalerClass.HPA;
  const metric = reader.string(A.METRIC) ?? (isHpa ? Metric.CPU : Metric.CONCURRENCY);
  if (klass === AutoscalerClass.KPA && metric !== Metric.CONCURRENCY && metric !== Metric.RPS) {
    reader.problem(A.METRIC, `must be ${Metric.CONCURRENCY} or ${Metric.RPS} for the KPA class`);
  }

  const target = reader.number(A.TARGET, { min: 0.01, max: MAX_INT32 });
  const utilizationPct = reader.number(A.TARGET_UTILIZATION_PERCENTAGE, { min: 1, max: 100 });
  const minScale = reader.integer(A.MIN_SCALE, { min: 0, max: MAX_INT32 }) ?? a.minScale;
  const maxScale = reader.integer(A.MAX_SCALE, { min: 0, max: MAX_INT32 }) ?? a.maxScale;
  const initialScale = reader.integer(A.INITIAL_SCALE, { min: 0, max: MAX_INT32 }) ?? a.initialScale;
  const activationScale = reader.integer(A.ACTIVATION_SCALE, { min: 2 });
  const scaleDownDelay = reader.duration(A.SCALE_DOWN_DELAY, { min: 0, max: ONE_HOUR });
  const retention = reader.duration(A.SCALE_TO_ZERO_POD_RETENTION_PERIOD, { min: 0, max: ONE_HOUR });
  const stableWindow = reader.duration(A.WINDOW, { min: 6, max: ONE_HOUR }) ?? a.stableWindowSeconds;
  const panicWindowPct =
    reader.number(A.PANIC_WINDOW_PERCENTAGE, { min: 1, max: 100 }) ?? a.panicWindowPercentage;
  const panicThresholdPct =
    reader.number(A.PANIC_THRESHOLD_PERCENTAGE, { min: 110, max: 1000 }) ?? a.panicThresholdPercentage;
  const tbc = reader.number(A.TARGET_BURST_CAPACITY, { min: -1 }) ?? a.targetBurstCapacity;
  if (tbc < 0 && tbc !== -1) reader.problem(A.TARGET_BURST_CAPACITY, 'must be -1 or at least 0');
  const aggregation = reader.string(A.METRIC_AGGREGATION_ALGORITHM) ?? 'linear';
  if (aggregation !== 'linear' && aggregation !== 'weighted-exponential') {
    reader.problem(A.METRIC_AGGREGATION_ALGORITHM, 'must be linear or weighted-exponential');
  }

  checkScaleBounds(reader, { minScale, maxScale, initialScale, activationScale }, a);

  const targetUtilization = utilizationPct !== undefined ? utilizationPct / 100 : fraction(a.containerConcurrencyTargetPercentage);
  const totalValue = totalValueOf(metric, target, containerConcurrency, a);
  return {
    value: {
      class: klass,
      metric,
      target,
      targetUtilization,
      totalValue,
      targetPerPod: Math.max(0.01, totalValue * targetUtilization),
      minScale,
      maxScale,
      initialScale,
      activationScale: activationScale ?? 1,
      scaleDownDelaySeconds: scaleDownDelay ?? a.scaleDownDelaySeconds,
      scaleToZeroPodRetentionPeriodSeconds: retention ?? a.scaleToZeroPodRetentionPeriodSeconds,
      stableWindowSeconds: stableWindow,
      panicWindowSeconds: Math.max(1, Math.round((stableWindow * panicWindowPct) / 100)),
      panicThreshold: panicThresholdPct / 100,
      targetBurstCapacity: tbc,
      maxScaleUpRate: a.maxScaleUpRate,
      maxScaleDownRate: a.maxScaleDownRate,
      enableScaleToZero: a.enableScaleToZero,
      scaleToZeroGracePeriodSeconds: a.scaleToZeroGracePeriodSeconds,
      activatorCapacity: a.activatorCapacity,
      metricAggregationAlgorithm: aggregation,
    },
    problems: reader.problems,
  };
}

function checkScaleBounds(
  reader: AnnotationReader,
  s: { minScale: number; maxScale: number; initialScale: number; activationScale?: number },
  a: Required<AutoscalerConfigProps>,
): void {
  const A = AutoscalingAnnotations;
  if (s.maxScale !== 0 && s.maxScale < s.minScale) {
    reader.problem(A.MAX_SCALE, `must be at least min-scale (${s.minScale})`);
  }
  if (a.maxScaleLimit > 0) {
    if (s.maxScale === 0) reader.problem(A.MAX_SCALE, `0 (unlimited) exceeds max-scale-limit ${a.maxScaleLimit}`);
    else if (s.maxScale > a.maxScaleLimit) reader.problem(A.MAX_SCALE, `must be at most max-scale-limit ${a.maxScaleLimit}`);
  }
  if (s.initialScale === 0 && !a.allowZeroInitialScale && reader.has(A.INITIAL_SCALE)) {
    reader.problem(A.INITIAL_SCALE, 'must be at least 1 (allow-zero-initial-scale is false)');
  }
  if (s.activationScale !== undefined) {
    if (s.activationScale < s.minScale) reader.problem(A.ACTIVATION_SCALE, `must be at least min-scale (${s.minScale})`);
    if (s.maxScale !== 0 && s.activationScale > s.maxScale) {
      reader.problem(A.ACTIVATION_SCALE, `must be at most max-scale (${s.maxScale})`);
    }
  }
}

/** TotalValue of knative/serving pkg/reconciler/autoscaling/resources/target.go: what one pod can take before the target fraction applies. */
function totalValueOf(
  metric: string,
  target: number | undefined,
  containerConcurrency: number,
  a: Required<AutoscalerConfigProps>,
): number {
  if (metric === Metric.RPS) return target ?? a.requestsPerSecondTargetDefault;
  if (metric !== Metric.CONCURRENCY) return target ?? 0;
  if (target === undefined) return containerConcurrency > 0 ? containerConcurrency : a.containerConcurrencyTargetDefault;
  return containerConcurrency > 0 ? Math.min(target, containerConcurrency) : target;
}

/** config-autoscaler treats percentage values of at most 1 as fractions already. */
function fraction(percentage: number): number {
  return percentage <= 1 ? percentage : percentage / 100;
}

class AnnotationReader {
  constructor(
    private readonly annotations: Record<string, string>,
    readonly problems: KeyProblem[],
  ) {}

  has(key: string): boolean {
    return key in this.annotations;
  }

  problem(key: string, message: string): void {
    this.problems.push({ path: key, message });
  }

  string(key: string): string | undefined {
    const v = this.annotations[key];
    if (v === undefined) return undefined;
    if (v.trim() === '') {
      this.problem(key, 'must not be empty');
      return undefined;
    }
    return v;
  }

  number(key: string, range: Range): number | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) return this.invalid(key, `must be a number, got "${raw}"`);
    return this.inRange(key, n, range);
  }

  integer(key: string, range: Range): number | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    if (!/^-?\d+$/.test(raw.trim())) return this.invalid(key, `must be an integer, got "${raw}"`);
    return this.inRange(key, Number(raw), range);
  }

  /** Go duration strings ("90s", "1m30s", "1h") in whole seconds. */
  duration(key: string, range: Range): number | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    const seconds = parseGoDuration(raw);
    if (seconds === undefined) return this.invalid(key, `must be a duration such as "30s" or "1m30s", got "${raw}"`);
    if (!Number.isInteger(seconds)) return this.invalid(key, 'must be a whole number of seconds');
    return this.inRange(key, seconds, range, 's');
  }

  private inRange(key: string, n: number, { min, max }: Range, unit = ''): number | undefined {
    if (min !== undefined && n < min) return this.invalid(key, `must be at least ${min}${unit}, got ${n}${unit}`);
    if (max !== undefined && n > max) return this.invalid(key, `must be at most ${max}${unit}, got ${n}${unit}`);
    return n;
  }

  private invalid(key: string, message: string): undefined {
    this.problem(key, message);
    return undefined;
  }
}

interface Range {
  readonly min?: number;
  readonly max?: number;
}

const GO_DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** Parses Go's time.Duration syntax into seconds; undefined when malformed. */
export function parseGoDuration(s: string): number | undefined {
  const text = s.trim();
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  while (part.lastIndex < text.length) {
    const m = part.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * GO_DURATION_UNITS[m[2]];
    matched++;
  }
  return matched > 0 ? Math.round(total * 1e9) / 1e9 : undefined;
}

/** Seconds as a Go duration string, the way Knative's ConfigMaps write them. */
export function formatGoDuration(seconds: number): string {
  return `${seconds}s`;
}

/** The `config-autoscaler` ConfigMap's data, with Knative's keys. */
export function autoscalerConfigToData(config: Required<AutoscalerConfigProps>): Record<string, string> {
  return {
    'activator-capacity': String(config.activatorCapacity),
    'allow-zero-initial-scale': String(config.allowZeroInitialScale),
    'container-concurrency-target-default': String(config.containerConcurrencyTargetDefault),
    'container-concurrency-target-percentage': String(config.containerConcurrencyTargetPercentage),
    'enable-scale-to-zero': String(config.enableScaleToZero),
    'initial-scale': String(config.initialScale),
    'max-scale': String(config.maxScale),
    'max-scale-down-rate': String(config.maxScaleDownRate),
    'max-scale-limit': String(config.maxScaleLimit),
    'max-scale-up-rate': String(config.maxScaleUpRate),
    'min-scale': String(config.minScale),
    'panic-threshold-percentage': String(config.panicThresholdPercentage),
    'panic-window-percentage': String(config.panicWindowPercentage),
    'pod-autoscaler-class': config.podAutoscalerClass,
    'requests-per-second-target-default': String(config.requestsPerSecondTargetDefault),
    'scale-down-delay': formatGoDuration(config.scaleDownDelaySeconds),
    'scale-to-zero-grace-period': formatGoDuration(config.scaleToZeroGracePeriodSeconds),
    'scale-to-zero-pod-retention-period': formatGoDuration(config.scaleToZeroPodRetentionPeriodSeconds),
    'stable-window': formatGoDuration(config.stableWindowSeconds),
    'target-burst-capacity': String(config.targetBurstCapacity),
  };
}

type Field = { key: keyof AutoscalerConfigProps; kind: 'number' | 'boolean' | 'string' | 'duration' };

const CONFIG_MAP_FIELDS: Readonly<Record<string, Field>> = {
  'activator-capacity': { key: 'activatorCapacity', kind: 'number' },
  'allow-zero-initial-scale': { key: 'allowZeroInitialScale', kind: 'boolean' },
  'container-concurrency-target-default': { key: 'containerConcurrencyTargetDefault', kind: 'number' },
  'container-concurrency-target-percentage': { key: 'containerConcurrencyTargetPercentage', kind: 'number' },
  'enable-scale-to-zero': { key: 'enableScaleToZero', kind: 'boolean' },
  'initial-scale': { key: 'initialScale', kind: 'number' },
  'max-scale': { key: 'maxScale', kind: 'number' },
  'max-scale-down-rate': { key: 'maxScaleDownRate', kind: 'number' },
  'max-scale-limit': { key: 'maxScaleLimit', kind: 'number' },
  'max-scale-up-rate': { key: 'maxScaleUpRate', kind: 'number' },
  'min-scale': { key: 'minScale', kind: 'number' },
  'panic-threshold-percentage': { key: 'panicThresholdPercentage', kind: 'number' },
  'panic-window-percentage': { key: 'panicWindowPercentage', kind: 'number' },
  'pod-autoscaler-class': { key: 'podAutoscalerClass', kind: 'string' },
  'requests-per-second-target-default': { key: 'requestsPerSecondTargetDefault', kind: 'number' },
  'scale-down-delay': { key: 'scaleDownDelaySeconds', kind: 'duration' },
  'scale-to-zero-grace-period': { key: 'scaleToZeroGracePeriodSeconds', kind: 'duration' },
  'scale-to-zero-pod-retention-period': { key: 'scaleToZeroPodRetentionPeriodSeconds', kind: 'duration' },
  'stable-window': { key: 'stableWindowSeconds', kind: 'duration' },
  'target-burst-capacity': { key: 'targetBurstCapacity', kind: 'number' },
};

/**
 * Reads a `config-autoscaler` ConfigMap's data. Unknown keys are ignored (Knative's ConfigMaps
 * carry an `_example` block); malformed values are reported.
 */
export function autoscalerConfigFromData(data: Readonly<Record<string, string>>): Parsed<AutoscalerConfigProps> {
  const out: Record<string, unknown> = {};
  const problems: KeyProblem[] = [];
  for (const [name, raw] of Object.entries(data)) {
    const field = CONFIG_MAP_FIELDS[name];
    if (!field) continue;
    const value = parseField(field.kind, raw);
    if (value === undefined) problems.push({ path: name, message: `invalid ${field.kind} "${raw}"` });
    else out[field.key] = value;
  }
  return { value: out as AutoscalerConfigProps, problems };
}

function parseField(kind: Field['kind'], raw: string): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : undefined;
    }
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : undefined;
    case 'duration':
      return parseGoDuration(raw);
    case 'string':
      return raw;
  }
}
