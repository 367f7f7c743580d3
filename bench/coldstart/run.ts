/**
 * The cold-start section: runs cold-start.measure.ts under vitest in a child process (see
 * vitest.config.ts next to this file for why) and summarizes the samples it writes. Skipped with
 * the reason when the machine cannot run the cluster (not root, control-plane binaries not built).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { binaryDir } from '../../test/cluster/harness/binaries';
import { runToCompletion } from '../lib/children';
import { median, percentile, round } from '../lib/stats';
import { BenchOptions } from '../options';
import type { ColdStartSample } from './samples';
import { type HopSummary, summarizeHops } from './timeline';

const ROOT = path.resolve(__dirname, '../..');
const VITEST = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
const CONFIG = path.join(__dirname, 'vitest.config.ts');
/** Cluster start (up to a few minutes on a loaded machine) plus each sample's scale to zero. */
const timeoutMs = (samples: number) => 6 * 60_000 + samples * 150_000;

export interface ColdStartResult {
  readonly skipped?: string;
  readonly samples: readonly ColdStartSample[];
  readonly overheadP50Ms?: number;
  readonly overheadP95Ms?: number;
  readonly requestToResponseP50Ms?: number;
  readonly appStartToReadyP50Ms?: number;
  /** The timeline's hops (timeline.ts), median over the samples. */
  readonly hops?: readonly HopSummary[];
  readonly error?: string;
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
  console.log(`coldstart: starting the control plane for ${options.coldStartSamples} samples (its start-up is not measured)`);
  const env = { ...process.env, NO_COLOR: '1', BENCH_COLDSTART_SAMPLES: String(options.coldStartSamples), BENCH_COLDSTART_OUT: outFile, BENCH_COLDSTART_GO: goFile };
  const result = runToCompletion('cold-start measurement', process.execPath, [VITEST, 'run', '--config', CONFIG], { cwd: ROOT, env, timeoutMs: timeoutMs(options.coldStartSamples) })
    .then(() => undefined, (err: Error) => {
      const error = err.message.slice(-3000);
      console.log(`coldstart: the measurement failed: ${lastLines(error)}`);
      return error;
    })
    .then((error) => summarize(existsSync(outFile) ? (JSON.parse(readFileSync(outFile, 'utf8')) as ColdStartSample[]) : [], error));
  return { go: () => writeFileSync(goFile, 'go\n'), result };
}

function unavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: the node agent needs network namespaces';
  if (!existsSync(VITEST)) return 'vitest is not installed';
  const dir = binaryDir();
  const missing = ['etcd', 'kube-apiserver', 'kube-controller-manager'].filter((b) => !existsSync(path.join(dir, b)));
  return missing.length > 0 ? `control-plane binaries not built (${missing.join(', ')} missing in ${dir}; npm run build:control-plane)` : undefined;
}

function summarize(samples: readonly ColdStartSample[], error?: string): ColdStartResult {
  if (samples.length === 0) return { skipped: `no sample was measured${error ? `: ${lastLines(error)}` : ''}`, samples, error };
  const overheads = samples.map((s) => s.overheadMs);
  return {
    samples,
    error,
    overheadP50Ms: round(median(overheads), 1),
    overheadP95Ms: round(percentile(overheads, 95), 1),
    requestToResponseP50Ms: round(median(samples.map((s) => s.requestToResponseMs)), 1),
    appStartToReadyP50Ms: round(median(samples.map((s) => s.appStartToReadyMs)), 1),
    hops: summarizeHops(samples.flatMap((s) => (s.timeline ? [s.timeline] : []))),
  };
}

const lastLines = (text: string) => text.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
