/**
 * The synthesis section: for each N, our constructs and the hand-built baseline, each in a fresh
 * child process (peak RSS per run), repeated and reduced to medians, interleaved ours/baseline.
 * Growth: time per service at each N and a least-squares line through (N, time).
 */
import { isDeepStrictEqual } from 'node:util';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runToCompletion } from '../lib/children';
import { linearFit, LinearFit, median, round } from '../lib/stats';
import { BenchOptions } from '../options';
import { synthesizeBaseline } from './baseline';
import type { SynthesisSample } from './child';
import { synthesizeOurs } from './ours';

const CHILD = path.join(__dirname, 'child.ts');
const TSX_CLI = require.resolve('tsx/cli');
const ROOT = path.resolve(__dirname, '../..');
const CHILD_BUNDLE = path.join(ROOT, '.tmp/bench/synthesis-child.js');
/** Per child: 5,000 services take tens of seconds on a busy 2-core machine. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;
/** N at which the two outputs are compared object by object. */
const EQUIVALENCE_N = 3;

export interface SynthesisPoint {
  readonly services: number;
  readonly objects: number;
  readonly oursMs: number;
  readonly baselineMs: number;
  readonly ratio: number;
  readonly oursObjectsPerSecond: number;
  readonly baselineObjectsPerSecond: number;
  readonly oursMsPerService: number;
  readonly baselineMsPerService: number;
  readonly oursPeakRssMiB: number;
  readonly baselinePeakRssMiB: number;
  readonly oursBytes: number;
  readonly baselineBytes: number;
  readonly samples: readonly SynthesisSample[];
}

export interface SynthesisResult {
  readonly skipped?: string;
  readonly repetitions: number;
  /** The baseline builds exactly the objects our constructs synthesize (checked at N = EQUIVALENCE_N). */
  readonly baselineEquivalent: boolean;
  readonly equivalenceNote: string;
  readonly points: readonly SynthesisPoint[];
  readonly oursFit?: LinearFit;
  readonly baselineFit?: LinearFit;
  readonly growth?: string;
}

export async function runSynthesis(options: BenchOptions): Promise<SynthesisResult> {
  const equivalence = checkEquivalence(); // throws when the baseline no longer matches
  console.log(`synthesis: baseline equivalence at N=${EQUIVALENCE_N}: ${equivalence.note}`);
  const child = await childCommand();
  const points: SynthesisPoint[] = [];
  for (const n of options.synthesisSizes) {
    const samples: SynthesisSample[] = [];
    for (let rep = 1; rep <= options.synthesisRepetitions; rep++) {
      for (const mode of ['ours', 'baseline'] as const) samples.push(await measureChild(child, mode, n));
    }
    const point = toPoint(n, samples);
    console.log(`synthesis: N=${n}: ours ${point.oursMs.toFixed(0)} ms, baseline ${point.baselineMs.toFixed(0)} ms (×${point.ratio.toFixed(2)}), ${point.objects} objects, ours peak RSS ${point.oursPeakRssMiB.toFixed(0)} MiB`);
    points.push(point);
  }
  return { repetitions: options.synthesisRepetitions, baselineEquivalent: equivalence.equal, equivalenceNote: equivalence.note, points, ...growth(points) };
}

/**
 * The child as one esbuild bundle under plain node: each child then starts in a fraction of a
 * second instead of transpiling lib/ through tsx again (the measured time excludes start-up either
 * way; this only shortens the run). Falls back to tsx when bundling fails.
 */
async function childCommand(): Promise<string[]> {
  try {
    const { build } = await import('esbuild');
    await build({ entryPoints: [CHILD], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: CHILD_BUNDLE, logLevel: 'silent' });
    return [CHILD_BUNDLE];
  } catch (err) {
    console.log(`synthesis: bundling the child failed (${(err as Error).message.split('\n')[0]}); running it through tsx`);
    return [TSX_CLI, CHILD];
  }
}

async function measureChild(child: readonly string[], mode: 'ours' | 'baseline', n: number): Promise<SynthesisSample> {
  const out = await runToCompletion(`synthesis ${mode} N=${n}`, process.execPath, [...child, mode, String(n)], { timeoutMs: CHILD_TIMEOUT_MS });
  return JSON.parse(out.trim().split('\n').pop()!) as SynthesisSample;
}

function toPoint(n: number, samples: readonly SynthesisSample[]): SynthesisPoint {
  const of = (mode: string, f: (s: SynthesisSample) => number) => median(samples.filter((s) => s.mode === mode).map(f));
  const oursMs = of('ours', (s) => s.wallMs);
  const baselineMs = of('baseline', (s) => s.wallMs);
  const objects = of('ours', (s) => s.objects);
  return {
    services: n,
    objects,
    oursMs: round(oursMs, 1),
    baselineMs: round(baselineMs, 1),
    ratio: round(oursMs / baselineMs, 2),
    oursObjectsPerSecond: round(objects / (oursMs / 1000), 0),
    baselineObjectsPerSecond: round(of('baseline', (s) => s.objects) / (baselineMs / 1000), 0),
    oursMsPerService: round(oursMs / n, 3),
    baselineMsPerService: round(baselineMs / n, 3),
    oursPeakRssMiB: round(of('ours', (s) => s.peakRssMiB), 1),
    baselinePeakRssMiB: round(of('baseline', (s) => s.peakRssMiB), 1),
    oursBytes: of('ours', (s) => s.bytes),
    baselineBytes: of('baseline', (s) => s.bytes),
    samples,
  };
}

/**
 * Linear when the time per service stays flat as N grows. We fit time = a·N + b and say how the
 * time per service changes between the two largest N (a superlinear cost keeps raising it; a fixed
 * start-up cost makes it fall towards the slope), listing it at every N.
 */
function growth(points: readonly SynthesisPoint[]): Pick<SynthesisResult, 'oursFit' | 'baselineFit' | 'growth'> {
  if (points.length < 2) return {};
  const ns = points.map((p) => p.services);
  const oursFit = linearFit(ns, points.map((p) => p.oursMs));
  const baselineFit = linearFit(ns, points.map((p) => p.baselineMs));
  const perService = points.map((p) => p.oursMsPerService);
  const [before, last] = perService.slice(-2);
  const change = last / before;
  const listing = `time per service ${perService.map((v) => v.toFixed(2)).join(' / ')} ms at N = ${ns.join(' / ')}`;
  const verdict = change > 1.25
    ? `superlinear: ${listing}; it rises ×${change.toFixed(2)} between the two largest N`
    : `linear at scale: ${listing}; ×${change.toFixed(2)} between the two largest N (fit slope ${oursFit.slope.toFixed(3)} ms/service, R² ${oursFit.r2.toFixed(4)})`;
  return { oursFit: roundFit(oursFit), baselineFit: roundFit(baselineFit), growth: verdict };
}

const roundFit = (f: LinearFit): LinearFit => ({ slope: round(f.slope, 4), intercept: round(f.intercept, 1), r2: round(f.r2, 5) });

/** The baseline no longer builds what the compiler synthesizes: the ratio would compare different work. */
export class BaselineMismatchError extends Error {}

/**
 * Checks that the baseline builds exactly our objects at N = EQUIVALENCE_N and throws
 * BaselineMismatchError naming the first object and field that differ otherwise, so the bench stops
 * instead of timing two different workloads (update bench/synthesis/baseline.ts when the
 * compiler's output changes).
 */
export function checkEquivalence(n = EQUIVALENCE_N): { equal: true; note: string } {
  const ours = parseAllDocuments(synthesizeOurs(n)).map((d) => d.toJS() as unknown);
  const baseline = parseAllDocuments(synthesizeBaseline(n)).map((d) => d.toJS() as unknown);
  const fail = (what: string) => {
    throw new BaselineMismatchError(`bench/synthesis/baseline.ts no longer builds what the compiler synthesizes (N=${n}): ${what}; update the baseline to the compiler's output`);
  };
  if (ours.length !== baseline.length) fail(`object counts differ: ours ${ours.length}, baseline ${baseline.length}`);
  const first = ours.findIndex((o, i) => !isDeepStrictEqual(o, baseline[i]));
  if (first >= 0) {
    const o = ours[first] as { kind?: string; metadata?: { name?: string } };
    fail(`object ${first} (${o.kind} ${o.metadata?.name}) differs at ${firstDifference(ours[first], baseline[first]) || '(root)'}`);
  }
  return { equal: true, note: `the ${ours.length} objects are deep-equal` };
}

/** Path of the first field where two parsed YAML values differ ('' when equal). */
export function firstDifference(a: unknown, b: unknown, at = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return at || '(root)';
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
  for (const key of keys) {
    const child = Array.isArray(a) ? `${at}[${key}]` : at ? `${at}.${key}` : key;
    const diff = firstDifference(ao[key], bo[key], child);
    if (diff) return diff;
  }
  return at || '(root)';
}
