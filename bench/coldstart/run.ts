/**
 * The cold-start section: runs cold-start.measure.ts under vitest in a child process (see
 * vitest.config.ts next to this file for why) and summarizes the samples it writes, per
 * scale-from-zero data-plane mode (COLD_START_MODES). Skipped with the reason when the machine
 * cannot run the cluster (not root, control-plane binaries not built).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { binaryDir } from '../../test/cluster/harness/binaries';
import { runToCompletion } from '../lib/children';
import { median, percentile, round } from '../lib/stats';
import { BenchOptions } from '../options';
import { COLD_START_MODES, type ColdStartMode, type ColdStartSample } from './samples';
import { type HopSummary, summarizeHops } from './timeline';

const ROOT = path.resolve(__dirname, '../..');
const VITEST = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
const CONFIG = path.join(__dirname, 'vitest.config.ts');
/** Cluster start (up to a few minutes on a loaded machine) plus each sample's scale to zero, per mode. */
const timeoutMs = (samplesPerMode: number) => 6 * 60_000 + samplesPerMode * COLD_START_MODES.length * 150_000;

export interface ColdStartResult {
  readonly skipped?: string;
  /** One entry per mode of COLD_START_MODES that has samples, in that order. */
  readonly modes?: readonly ColdStartModeResult[];
  readonly error?: string;
}

/** The cold starts of one data-plane mode. */
export interface ColdStartModeResult {
  readonly mode: ColdStartMode;
  readonly samples: readonly ColdStartSample[];
  readonly overheadP50Ms?: number;
  readonly overheadP95Ms?: number;
  readonly requestToResponseP50Ms?: number;
  readonly appStartToReadyP50Ms?: number;
  /** The timeline's hops (timeline.ts) of this mode, median over the samples. */
  readonly hops?: readonly HopSummary[];
}

/** Results written before the modes were measured: one `full` measurement at the top level. */
type ResultBeforeModes = Partial<Omit<ColdStartModeResult, 'mode'>>;

/** The per-mode results of a cold-start section, also of one written before the modes (as `full`). */
export function coldStartModes(c: ColdStartResult): readonly ColdStartModeResult[] {
  if (c.modes) return c.modes;
  const before = c as ResultBeforeModes;
  return before.samples?.length ? [{ ...before, mode: 'full', samples: before.samples }] : [];
}

export interface ColdStartRun {
  /** Lets the measurement begin (the cluster may start before: its start-up is not measured). */
  go(): void;
  readonly result: Promise<ColdStartResult>;
}

/**
 * Starts the cluster in a child process right away and holds the samples until `go()`, so the
 * bench can use the minute the cluster takes to start for a section that measures no time
 * (memory) while nothing else disturbs the samples themselves.
 */
export function startColdStart(options: BenchOptions, workDir: string): ColdStartRun {
  const reason = unavailableReason();
  if (reason) {
    console.log(`coldstart: skipped: ${reason}`);
    return { go: () => undefined, result: Promise.resolve({ skipped: reason, samples: [] }) };
  }
  const outFile = path.join(workDir, 'coldstart.json');
  const goFile = path.join(workDir, 'coldstart.go');
  rmSync(outFile, { force: true });
  rmSync(goFile, { force: true });
  console.log(`coldstart: starting the control plane for ${options.coldStartSamples} samples per mode (${COLD_START_MODES.join(', ')}; its start-up is not measured)`);
  const env = { ...process.env, NO_COLOR: '1', BENCH_COLDSTART_SAMPLES: String(options.coldStartSamples), BENCH_COLDSTART_OUT: outFile, BENCH_COLDSTART_GO: goFile };
  const result = runToCompletion('cold-start measurement', process.execPath, [VITEST, 'run', '--config', CONFIG], { cwd: ROOT, env, timeoutMs: timeoutMs(options.coldStartSamples) })
    .then(() => undefined, (err: Error) => {
      const error = err.message.slice(-3000);
      console.log(`coldstart: the measurement failed: ${lastLines(error)}`);
      return error;
    })
    .then((error) => summarizeColdStarts(existsSync(outFile) ? (JSON.parse(readFileSync(outFile, 'utf8')) as ColdStartSample[]) : [], error));
  return { go: () => writeFileSync(goFile, 'go\n'), result };
}

function unavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: the node agent needs network namespaces';
  if (!existsSync(VITEST)) return 'vitest is not installed';
  const dir = binaryDir();
  const missing = ['etcd', 'kube-apiserver', 'kube-controller-manager'].filter((b) => !existsSync(path.join(dir, b)));
  return missing.length > 0 ? `control-plane binaries not built (${missing.join(', ')} missing in ${dir}; npm run build:control-plane)` : undefined;
}

/** Groups the samples by mode (a sample without one is `full`, as written before the modes). */
export function summarizeColdStarts(samples: readonly ColdStartSample[], error?: string): ColdStartResult {
  if (samples.length === 0) return { skipped: `no sample was measured${error ? `: ${lastLines(error)}` : ''}`, modes: [], error };
  const modes = COLD_START_MODES.map((mode) => summarizeMode(mode, samples.filter((s) => (s.mode ?? 'full') === mode))).filter((m) => m.samples.length > 0);
  return { modes, error };
}

function summarizeMode(mode: ColdStartMode, samples: readonly ColdStartSample[]): ColdStartModeResult {
  if (samples.length === 0) return { mode, samples };
  const overheads = samples.map((s) => s.overheadMs);
  return {
    mode,
    samples,
    overheadP50Ms: round(median(overheads), 1),
    overheadP95Ms: round(percentile(overheads, 95), 1),
    requestToResponseP50Ms: round(median(samples.map((s) => s.requestToResponseMs)), 1),
    appStartToReadyP50Ms: round(median(samples.map((s) => s.appStartToReadyMs)), 1),
    hops: summarizeHops(samples.flatMap((s) => (s.timeline ? [s.timeline] : [])), mode),
  };
}

const lastLines = (text: string) => text.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
