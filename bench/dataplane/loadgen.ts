/**
 * Load generators, each run as its own process pinned to the load CPU:
 * vegeta for the fixed-rate (open-model) runs — requests leave on schedule whether or not earlier
 * ones have answered, so queueing delay shows in the latencies — and wrk (autocannon if wrk is
 * missing) for saturation, a closed model with a fixed number of connections.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runToCompletion } from '../lib/children';
import { LOOPBACK } from '../lib/net';

export interface LoadResult {
  readonly requests: number;
  /** Fraction of 2xx answers. */
  readonly success: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Successful requests per second. */
  readonly throughput: number;
  readonly errors: readonly string[];
}

export interface Target {
  readonly port: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface FixedRateRun {
  readonly vegeta: string;
  readonly target: Target;
  readonly rps: number;
  readonly seconds: number;
  readonly cpus: string;
  readonly workDir: string;
}

const NS_PER_MS = 1e6;
/** Slack on top of the planned duration before a load generator is killed (bounds every run). */
const RUN_SLACK_MS = 60_000;

export async function runFixedRate(run: FixedRateRun): Promise<LoadResult> {
  const targets = path.join(run.workDir, 'targets.txt');
  const results = path.join(run.workDir, 'results.bin');
  writeFileSync(targets, vegetaTarget(run.target));
  const timeoutMs = run.seconds * 1000 + RUN_SLACK_MS;
  await runToCompletion('vegeta attack', run.vegeta, [
    'attack', `-targets=${targets}`, `-rate=${run.rps}/1s`, `-duration=${run.seconds}s`, '-timeout=30s', `-output=${results}`,
  ], { cpus: run.cpus, timeoutMs });
  const report = await runToCompletion('vegeta report', run.vegeta, ['report', '-type=json', results], { timeoutMs: RUN_SLACK_MS });
  return parseVegetaReport(report);
}

function vegetaTarget(target: Target): string {
  const headers = Object.entries(target.headers).map(([k, v]) => `${k}: ${v}`);
  return [`GET http://${LOOPBACK}:${target.port}/`, ...headers, ''].join('\n');
}

interface VegetaReport {
  latencies: { '50th': number; '95th': number; '99th': number; max: number };
  requests: number;
  throughput: number;
  success: number;
  errors: string[] | null;
}

function parseVegetaReport(json: string): LoadResult {
  const r = JSON.parse(json) as VegetaReport;
  return {
    requests: r.requests,
    success: r.success,
    p50Ms: r.latencies['50th'] / NS_PER_MS,
    p95Ms: r.latencies['95th'] / NS_PER_MS,
    p99Ms: r.latencies['99th'] / NS_PER_MS,
    maxMs: r.latencies.max / NS_PER_MS,
    throughput: r.throughput,
    errors: (r.errors ?? []).slice(0, 5),
  };
}

export interface SaturationRun {
  readonly wrk?: string;
  readonly target: Target;
  readonly seconds: number;
  readonly connections: number;
  readonly cpus: string;
}

export async function runSaturation(run: SaturationRun): Promise<LoadResult> {
  return run.wrk ? runWrk(run.wrk, run) : runAutocannon(run);
}

async function runWrk(wrk: string, run: SaturationRun): Promise<LoadResult> {
  const headerArgs = Object.entries(run.target.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const out = await runToCompletion('wrk', wrk, [
    '-t1', `-c${run.connections}`, `-d${run.seconds}s`, '--latency', '--timeout', '30s', ...headerArgs, `http://${LOOPBACK}:${run.target.port}/`,
  ], { cpus: run.cpus, timeoutMs: run.seconds * 1000 + RUN_SLACK_MS });
  return parseWrkOutput(out, run.seconds);
}

/** wrk prints a text summary; the fields we need are on fixed-label lines. */
export function parseWrkOutput(out: string, seconds: number): LoadResult {
  const durationOf = (label: string): number => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`wrk output has no ${label}% latency:\n${out}`);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  };
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
  const maxLine = /^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/m.exec(out);
  const maxMs = maxLine ? Number(maxLine[1]) * { us: 0.001, ms: 1, s: 1000 }[maxLine[2] as 'us' | 'ms' | 's'] : NaN;
  return {
    requests: total,
    success: total > 0 ? (total - non2xx) / total : 0,
    p50Ms: durationOf('50'),
    // wrk's --latency prints 50/75/90/99; p95 is not among them, so the saturation table shows p50 and p99.
    p95Ms: Number.NaN,
    p99Ms: durationOf('99'),
    maxMs,
    throughput: (total - non2xx) / seconds,
    errors: socketErrors ? [`socket errors: ${socketErrors}`] : [],
  };
}

interface AutocannonJson {
  requests: { total: number };
  latency: { p50: number; p97_5: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  duration: number;
}

async function runAutocannon(run: SaturationRun): Promise<LoadResult> {
  const bin = require.resolve('autocannon/autocannon.js');
  const headerArgs = Object.entries(run.target.headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const out = await runToCompletion('autocannon', process.execPath, [
    bin, '-j', '-c', String(run.connections), '-d', String(run.seconds), ...headerArgs, `http://${LOOPBACK}:${run.target.port}/`,
  ], { cpus: run.cpus, timeoutMs: run.seconds * 1000 + RUN_SLACK_MS });
  const r = JSON.parse(out) as AutocannonJson;
  const ok = r.requests.total - r.non2xx;
  return {
    requests: r.requests.total,
    success: r.requests.total > 0 ? ok / r.requests.total : 0,
    p50Ms: r.latency.p50,
    p95Ms: Number.NaN,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    throughput: ok / r.duration,
    errors: r.errors > 0 ? [`${r.errors} errors`] : [],
  };
}
