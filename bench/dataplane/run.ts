/**
 * The data-plane section: every available path, `repetitions` times, interleaved (rep 1 of every
 * path, then rep 2, ...) so slow drift on the shared machine spreads over all paths alike.
 * Figures are medians over the repetitions; added latency is against the direct path's medians.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { imageRuntime, imageRuntimeUnavailable } from '../lib/runtime-image';
import { median, round } from '../lib/stats';
import { BenchOptions } from '../options';
import { Peers } from '../peers';
import { measurePath, PathRun } from './measure';
import { ModeRow, modeRows } from './modes';
import { PathId, PATHS } from './paths';

export interface PathSummary {
  readonly id: PathId;
  readonly label: string;
  readonly skipped?: string;
  readonly runs: readonly PathRun[];
  readonly failures: readonly string[];
  /** Medians over the runs. */
  readonly p50Ms?: number;
  readonly p95Ms?: number;
  readonly p99Ms?: number;
  readonly addedP50Ms?: number;
  readonly addedP95Ms?: number;
  readonly addedP99Ms?: number;
  readonly fixedRateSuccess?: number;
  readonly saturationRps?: number;
  readonly saturationP50Ms?: number;
  readonly saturationP99Ms?: number;
  readonly cpuSecondsPer1k?: number;
  readonly cpuSecondsPer1kByProcess?: Readonly<Record<string, number>>;
  readonly appCpuSecondsPer1k?: number;
  readonly peakRssMiB?: Readonly<Record<string, number>>;
  /** Peak RSS summed over the per-pod proxies (queue-proxy), and over the shared ones (activator). */
  readonly perPodProxyRssMiB?: number;
  readonly sharedProxyRssMiB?: number;
}

export interface DataplaneResult {
  readonly skipped?: string;
  readonly setup: Readonly<Record<string, string | number>>;
  readonly paths: readonly PathSummary[];
  /** The data-plane modes, each as the measured path it is (modes.ts). */
  readonly modes?: readonly ModeRow[];
}

export async function runDataplane(options: BenchOptions, peers: Peers, workRoot: string): Promise<DataplaneResult> {
  if (!peers.vegeta) return { skipped: 'vegeta (the fixed-rate load generator) could not be built', setup: describeSetup(options, peers), paths: [] };
  const setup = { ...describeSetup(options, peers), runtime: prepareRuntimeImage() };
  const workDir = path.join(workRoot, 'dataplane');
  mkdirSync(workDir, { recursive: true });
  const ctx = { options, peers, workDir };

  const skips = new Map<PathId, string>();
  for (const p of PATHS) {
    const reason = await p.unavailable(ctx);
    if (reason) {
      skips.set(p.id, reason);
      console.log(`dataplane: skipping ${p.label}: ${reason}`);
    }
  }
  const runs = new Map<PathId, PathRun[]>(PATHS.map((p) => [p.id, []]));
  const failures = new Map<PathId, string[]>(PATHS.map((p) => [p.id, []]));
  for (let rep = 1; rep <= options.repetitions; rep++) {
    for (const p of PATHS.filter((q) => !skips.has(q.id))) {
      console.log(`dataplane: ${p.label}, repetition ${rep}/${options.repetitions}`);
      try {
        const run = await measurePath(p, ctx, rep);
        runs.get(p.id)!.push(run);
        console.log(`  ${describeRun(run)}`);
      } catch (err) {
        const message = (err as Error).message;
        failures.get(p.id)!.push(message);
        console.log(`  failed: ${message.split('\n')[0]}`);
      }
    }
  }
  const paths = summarize(runs, failures, skips);
  return { setup, paths, modes: modeRows(paths) };
}

function describeRun(run: PathRun): string {
  const f = run.fixedRate;
  const s = run.saturation;
  return `fixed: p50 ${f.p50Ms.toFixed(3)} p95 ${f.p95Ms.toFixed(3)} p99 ${f.p99Ms.toFixed(3)} ms, ok ${(f.success * 100).toFixed(1)}%; saturation: ${s.throughput.toFixed(0)} rps; load average ${run.loadAverage1m}`;
}

function summarize(runs: Map<PathId, PathRun[]>, failures: Map<PathId, string[]>, skips: Map<PathId, string>): PathSummary[] {
  const summaries = PATHS.map((p) => summarizePath(p.id, p.label, runs.get(p.id)!, failures.get(p.id)!, skips.get(p.id)));
  const direct = summaries.find((s) => s.id === 'direct');
  return summaries.map((s) => withAddedLatency(s, direct));
}

function summarizePath(id: PathId, label: string, runs: PathRun[], failures: string[], skipped?: string): PathSummary {
  if (skipped) return { id, label, skipped, runs, failures };
  if (runs.length === 0) return { id, label, skipped: `every repetition failed: ${failures[0]?.split('\n')[0] ?? 'unknown'}`, runs, failures };
  const m = (f: (r: PathRun) => number) => round(median(runs.map(f)), 4);
  return {
    id,
    label,
    runs,
    failures,
    p50Ms: m((r) => r.fixedRate.p50Ms),
    p95Ms: m((r) => r.fixedRate.p95Ms),
    p99Ms: m((r) => r.fixedRate.p99Ms),
    fixedRateSuccess: m((r) => r.fixedRate.success),
    saturationRps: round(median(runs.map((r) => r.saturation.throughput)), 0),
    saturationP50Ms: m((r) => r.saturation.p50Ms),
    saturationP99Ms: m((r) => r.saturation.p99Ms),
    cpuSecondsPer1k: m((r) => r.proxyCpuPer1kFixed),
    cpuSecondsPer1kByProcess: medianPerKey(runs.map((r) => r.cpuPer1kFixedByProcess ?? {}), 3),
    appCpuSecondsPer1k: m((r) => r.appCpuPer1kFixed),
    peakRssMiB: medianPerKey(runs.map((r) => r.proxyPeakRssMiB)),
    perPodProxyRssMiB: m((r) => rssSum(r, false)),
    sharedProxyRssMiB: m((r) => rssSum(r, true)),
  };
}

/** Peak RSS of a run's shared (activator) or per-pod (queue-proxy) proxies; 0 when there are none. */
function rssSum(run: PathRun, shared: boolean): number {
  const names = run.sharedProcesses ?? [];
  return Object.entries(run.proxyPeakRssMiB).filter(([name]) => names.includes(name) === shared).reduce((sum, [, mib]) => sum + mib, 0);
}

function withAddedLatency(s: PathSummary, direct?: PathSummary): PathSummary {
  if (s.p50Ms === undefined || direct?.p50Ms === undefined) return s;
  return {
    ...s,
    addedP50Ms: round(s.p50Ms - direct.p50Ms, 4),
    addedP95Ms: round(s.p95Ms! - direct.p95Ms!, 4),
    addedP99Ms: round(s.p99Ms! - direct.p99Ms!, 4),
  };
}

function medianPerKey(records: readonly Readonly<Record<string, number>>[], digits = 1): Record<string, number> {
  const keys = Object.keys(records[0] ?? {});
  return Object.fromEntries(keys.map((k) => [k, round(median(records.map((r) => r[k])), digits)]));
}

function describeSetup(options: BenchOptions, peers: Peers): Record<string, string | number> {
  return {
    fixedRateRps: options.fixedRate.rps,
    fixedRateSeconds: options.fixedRate.seconds,
    warmupSeconds: options.fixedRate.warmupSeconds,
    saturationSeconds: options.saturation.seconds,
    saturationConnections: options.saturation.connections,
    repetitions: options.repetitions,
    containerConcurrency: options.containerConcurrency,
    responseBytes: options.responseBytes,
    serverCpus: options.serverCpus,
    loadCpus: options.loadCpus,
    fixedRateLoadGenerator: peers.vegeta ? `vegeta (${path.basename(peers.vegeta)})` : 'none',
    saturationLoadGenerator: peers.wrk ? 'wrk -t1' : 'autocannon',
  };
}

/**
 * Builds the runtime image when it is older than the sources (so we measure what is in the tree)
 * and unpacks it: the proxies run on the image's node with its flags (bench/lib/runtime-image.ts).
 */
function prepareRuntimeImage(): string {
  const runtime = imageRuntimeUnavailable() ?? imageRuntime().description;
  console.log(`dataplane: runtime: ${runtime}`);
  return runtime;
}
