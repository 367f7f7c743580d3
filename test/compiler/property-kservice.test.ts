/**
 * Property: whatever props a caller passes (valid ones, and valid ones with one value replaced by
 * anything, including the wrong JavaScript type), `new KService(...)` either synthesizes objects
 * that pass the schema checks, or throws a ValidationError and leaves nothing in the tree. Never a
 * TypeError or another error from deep inside a builder.
 */
import { fc, test } from '@fast-check/vitest';
import { App, Chart, Duration } from 'cdk8s';
import { describe, expect } from 'vitest';
import { AutoscalingClass, AutoscalingMetric, DataPlane, KService, ValidationError, Visibility, type KServiceProps } from '../../lib';
import { isKnownKind, strictErrors, validateWithModels } from './support/schemas';
import type { Manifest } from './support/synth';

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const seconds = (min: number, max: number) => fc.integer({ min, max }).map((s) => Duration.seconds(s));

const container = fc.record(
  {
    image: fc.constantFrom('ghcr.io/example/app:1', 'nginx', 'registry.local:5000/a/b@sha256:' + 'a'.repeat(64)),
    name: optional(label),
    port: optional(fc.integer({ min: 1, max: 65535 })),
    portName: optional(fc.constantFrom('http1' as const, 'h2c' as const)),
    env: optional(fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), fc.string({ maxLength: 8 }), { maxKeys: 3 })),
    args: optional(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 })),
    readinessProbe: optional(fc.record({ httpGet: fc.record({ path: fc.constantFrom('/', '/healthz') }), periodSeconds: fc.integer({ min: 1, max: 10 }) })),
    resources: optional(fc.record({ requests: fc.record({ cpu: fc.constantFrom('100m', '1'), memory: fc.constantFrom('64Mi', '1Gi') }) })),
    securityContext: optional(fc.record({ runAsNonRoot: fc.boolean(), readOnlyRootFilesystem: fc.boolean() })),
  },
  { requiredKeys: ['image'] },
);

const autoscaling = fc.record(
  {
    class: optional(fc.constantFrom(AutoscalingClass.KPA, AutoscalingClass.HPA)),
    metric: optional(fc.constantFrom(AutoscalingMetric.CONCURRENCY, AutoscalingMetric.RPS, AutoscalingMetric.CPU)),
    target: optional(fc.integer({ min: 1, max: 500 })),
    minScale: optional(fc.integer({ min: 0, max: 3 })),
    maxScale: optional(fc.integer({ min: 0, max: 10 })),
    initialScale: optional(fc.integer({ min: 0, max: 3 })),
    window: optional(seconds(6, 3600)),
    targetBurstCapacity: optional(fc.integer({ min: -1, max: 500 })),
  },
  { requiredKeys: [] },
);

const traffic = fc.oneof(
  fc.constant(undefined),
  fc.constant([{ latestRevision: true, percent: 100 }]),
  label.map((tag) => [{ latestRevision: true, percent: 100 }, { latestRevision: true, percent: 0, tag }]),
);

/** Props that are mostly valid: the validators' own limits decide which ones are refused. */
const props: fc.Arbitrary<KServiceProps> = fc.record(
  {
    name: optional(label),
    namespace: optional(label),
    containers: fc.array(container, { minLength: 1, maxLength: 2 }),
    containerConcurrency: optional(fc.integer({ min: 0, max: 1000 })),
    timeout: optional(seconds(1, 600)),
    autoscaling: optional(autoscaling),
    traffic,
    visibility: optional(fc.constantFrom(Visibility.EXTERNAL, Visibility.CLUSTER_LOCAL)),
    dataPlane: optional(fc.constantFrom(DataPlane.FULL, DataPlane.ACTIVATOR, DataPlane.DIRECT, DataPlane.STATIC)),
    labels: optional(fc.dictionary(label, label, { maxKeys: 2 })),
    annotations: optional(fc.dictionary(label, fc.string({ maxLength: 8 }), { maxKeys: 2 })),
    generation: optional(fc.integer({ min: 1, max: 4 })),
    config: optional(fc.record({ domain: fc.constantFrom('example.com', 'apps.internal') }, { requiredKeys: [] })),
    nodeSelector: optional(fc.dictionary(label, label, { maxKeys: 1 })),
    tolerations: optional(fc.constant([{ key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' }])),
  },
  { requiredKeys: ['containers'] },
) as fc.Arbitrary<KServiceProps>;

/** Anything a caller could pass by mistake, from JavaScript or a loose JSON source. */
const hostile = fc.oneof(
  fc.constantFrom(null, undefined, NaN, Infinity, -Infinity, -1, 0, 1.5, 1e21, -0, '', ' ', 'x', true, false, [], {}, [null], { length: 3 }),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.constant(Object.create(null) as object),
  fc.constant(new Date(0)),
  fc.constant(Duration.days(100_000)),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 80 }),
  fc.anything({ maxDepth: 2 }),
);

type Path = (string | number)[];

/** Every path to a value inside the props (Kubernetes objects passed through included), the top-level object too. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => paths.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) paths.push(...pathsOf(v, [...prefix, k]));
  }
  return paths;
}

/** A deep copy of `root` with the value at `path` replaced (or a new key added next to it). */
function replaceAt(root: unknown, path: Path, value: unknown, addKey: string | undefined): unknown {
  if (path.length === 0) return addKey !== undefined && root && typeof root === 'object' ? { ...root, [addKey]: value } : value;
  const [head, ...rest] = path;
  const copy = Array.isArray(root) ? [...root] : { ...(root as Record<string, unknown>) };
  (copy as Record<string | number, unknown>)[head] = replaceAt((root as Record<string | number, unknown>)[head], rest, value, addKey);
  return copy;
}

const mutated = fc
  .tuple(props, fc.nat(), hostile, fc.option(fc.constantFrom('unknownField', 'port', 'image', 'percent', 'name'), { nil: undefined }))
  .map(([p, pick, value, addKey]) => {
    const paths = pathsOf(p);
    return replaceAt(p, paths[pick % paths.length], value, addKey) as KServiceProps;
  });

/** Synthesizes, or returns the error thrown; the chart is handed back to look at its tree. */
function synthesize(p: KServiceProps): { chart: Chart; objects?: Manifest[]; error?: unknown } {
  const chart = new Chart(new App(), 'c');
  try {
    new KService(chart, 'svc', p);
    return { chart, objects: chart.toJson() as Manifest[] };
  } catch (error) {
    return { chart, error };
  }
}

function expectValidOrValidationError(p: KServiceProps): void {
  const { chart, objects, error } = synthesize(p);
  if (error !== undefined) {
    if (!(error instanceof ValidationError)) throw new Error(`not a ValidationError: ${(error as Error)?.stack ?? String(error)}`);
    expect(error.problems.length).toBeGreaterThan(0);
    expect(chart.node.children).toEqual([]);
    return;
  }
  expect(objects!.length).toBeGreaterThan(0);
  for (const object of objects!) {
    const name = `${object.kind} ${object.metadata?.name}`;
    expect(isKnownKind(object), name).toBe(true);
    expect(() => validateWithModels(object), name).not.toThrow();
    expect(strictErrors(object), name).toEqual([]);
  }
}

// Bounded in count and time; the whole file takes a few seconds. A failure prints its seed and
// shrunk counterexample; rerun with that seed (fast-check's `seed` parameter) to reproduce.
const VALID_RUNS = { numRuns: 120, interruptAfterTimeLimit: 8_000 };
const MUTATED_RUNS = { numRuns: 400, interruptAfterTimeLimit: 8_000 };

describe('KService props, generated', () => {
  test.prop([props], VALID_RUNS)('valid-looking props synthesize schema-valid objects or raise a ValidationError', (p) => {
    expectValidOrValidationError(p);
  }, 30_000);

  test.prop([mutated], MUTATED_RUNS)('props with any value replaced by anything raise a ValidationError or synthesize valid objects', (p) => {
    expectValidOrValidationError(p);
  }, 30_000);
});
