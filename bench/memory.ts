/**
 * The memory section: resident set size of our queue-proxy idle and at the fixed rate, both after
 * the same time (5 minutes; quick: 20 seconds, labelled so), measured side by side in one window.
 * Knative's queue-proxy runs idle next to them when it is available, for scale.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Child, isAlive } from './lib/children';
import { sleep } from './lib/net';
import { peakRssMiB, rssMiB } from './lib/procfs';
import { round } from './lib/stats';
import { LoadResult, runFixedRate } from './dataplane/loadgen';
import { startApp } from './dataplane/measure';
import { PathDefinition, PATHS } from './dataplane/paths';
import { imageRuntime, imageRuntimeUnavailable } from './lib/runtime-image';
import { REVISION_HEADERS } from './dataplane/queue-env';
import { BenchOptions } from './options';
import { Peers } from './peers';

const SAMPLE_EVERY_MS = 5000;

export interface MemoryProcess {
  readonly label: string;
  /** RSS at the end of the window (MiB). */
  readonly rssMiB: number;
  /** VmHWM over the whole life of the process (MiB). */
  readonly peakRssMiB: number;
  /** RSS every 5 s: [seconds since start, MiB]. */
  readonly series: readonly (readonly [number, number])[];
}

export interface MemoryResult {
  readonly skipped?: string;
  readonly afterSeconds: number;
  readonly label: string;
  readonly processes: readonly MemoryProcess[];
  readonly load?: LoadResult;
}

interface Watched {
  readonly label: string;
  readonly child: Child;
  readonly series: [number, number][];
}

export async function runMemory(options: BenchOptions, peers: Peers, workRoot: string): Promise<MemoryResult> {
  const window = options.quick ? `after ${options.memorySeconds} s (quick run; the full run waits 5 minutes)` : `after ${options.memorySeconds / 60} minutes`;
  // Our queue-proxy runs as the image ships it (its Node and flags): say which, next to the figures.
  const label = `${window}; ours on ${imageRuntimeUnavailable() ?? imageRuntime().description}`;
  const base = { afterSeconds: options.memorySeconds, label, processes: [] };
  const ours = PATHS.find((p) => p.id === 'queue-proxy')!;
  const workDir = path.join(workRoot, 'memory');
  mkdirSync(workDir, { recursive: true });
  const ctx = { options, peers, workDir };
  const skip = (await ours.unavailable(ctx)) ?? (peers.vegeta ? undefined : 'vegeta (the fixed-rate load generator) could not be built');
  if (skip) return { ...base, skipped: skip };

  const started: Child[] = [];
  try {
    const watched: Watched[] = [];
    const add = async (definition: PathDefinition, name: string, dir: string) => {
      const app = await startApp(ctx);
      started.push(app.child);
      mkdirSync(path.join(workDir, dir), { recursive: true });
      const running = await definition.start({ ...ctx, workDir: path.join(workDir, dir), appPort: app.port });
      started.push(...running.proxies);
      watched.push({ label: name, child: running.proxies[0], series: [] });
      return running.port;
    };
    await add(ours, 'our queue-proxy, idle', 'idle');
    const loadedPort = await add(ours, `our queue-proxy at ${options.fixedRate.rps} rps`, 'loaded');
    const knative = PATHS.find((p) => p.id === 'knative-queue-proxy')!;
    if (!(await knative.unavailable(ctx))) {
      await add(knative, "Knative's queue-proxy, idle", 'knative-idle');
    }
    console.log(`memory: ${watched.map((w) => w.label).join('; ')}; ${label}`);
    const sampler = sampleRss(watched, options.memorySeconds * 1000);
    const load = await runFixedRate({ vegeta: peers.vegeta!, target: { port: loadedPort, headers: REVISION_HEADERS }, rps: options.fixedRate.rps, seconds: options.memorySeconds, cpus: options.loadCpus, workDir: path.join(workDir, 'loaded') });
    await sampler;
    const processes = watched.map(toProcess);
    for (const p of processes) console.log(`memory: ${p.label}: RSS ${p.rssMiB} MiB (peak ${p.peakRssMiB} MiB)`);
    return { ...base, processes, load };
  } finally {
    await Promise.all(started.reverse().map((c) => c.stop()));
  }
}

/** Samples every watched process until `durationMs` has passed (bounded loop). */
async function sampleRss(watched: readonly Watched[], durationMs: number): Promise<void> {
  const start = Date.now();
  for (;;) {
    const elapsed = Date.now() - start;
    for (const w of watched) if (isAlive(w.child)) w.series.push([round(elapsed / 1000, 1), round(rssMiB(w.child.pid), 1)]);
    if (elapsed >= durationMs) return;
    await sleep(Math.min(SAMPLE_EVERY_MS, durationMs - elapsed));
  }
}

function toProcess(w: Watched): MemoryProcess {
  if (!isAlive(w.child)) throw new Error(`${w.label} exited during the memory window:\n${w.child.output().slice(-1500)}`);
  return { label: w.label, rssMiB: round(rssMiB(w.child.pid), 1), peakRssMiB: round(peakRssMiB(w.child.pid), 1), series: w.series };
}
