/**
 * `npm run bench [-- --quick] [-- --only=dataplane,synthesis,coldstart,memory] [-- --report]`
 *
 * Measures on this machine and writes bench/results/latest.json, docs/benchmarks.md,
 * docs/bench/*.svg and the README section between <!-- bench:start --> and <!-- bench:end -->.
 * Every child process is stopped at the end, on failure and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { coldStartModes, startColdStart } from './coldstart/run';
import { runRealNodeColdStart } from './realnode/coldstart';
import { runDataplane } from './dataplane/run';
import { installCleanupHandlers, setMeasuredNiceness, stopAllChildren } from './lib/children';
import { BenchOptions, parseOptions, RESULTS_FILES, runOutputs, SectionName, SECTIONS, USAGE, UsageError } from './options';
import { runMemory } from './memory';
import { runScale } from './scale/run';
import { preparePeers } from './peers';
import { writeReports } from './report/write';
import { BenchResults, MachineInfo } from './results';
import { BaselineMismatchError, runSynthesis } from './synthesis/run';

const ROOT = path.resolve(__dirname, '..');
const WORK_DIR = path.join(ROOT, '.tmp/bench');
/** Priority of measured processes when we may raise it (root); see setMeasuredNiceness. */
const MEASURED_NICENESS = -10;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.reportOnly) return renderOnly();
  installCleanupHandlers();
  if (process.getuid?.() === 0) setMeasuredNiceness(MEASURED_NICENESS);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const changes = uncommittedChanges();
  console.log(`bench: ${options.quick ? 'quick' : 'full'} run on ${machine.cpus} CPU(s) (${machine.cpuModel}), load average ${machine.loadAverageAtStart.join(' ')}`);
  mkdirSync(WORK_DIR, { recursive: true });

  const notRun: Record<string, string> = {};
  const sections: BenchResults['sections'] = {};
  const wanted = (name: SectionName) => {
    if (options.sections.has(name)) return true;
    notRun[name] = 'left out by --only';
    return false;
  };
  const durations: Record<string, number> = {};
  const timed = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    try {
      return await run();
    } finally {
      durations[name] = Math.round((Date.now() - start) / 100) / 10;
      console.log(`bench: ${name} took ${durations[name]} s`);
    }
  };
  const peers = wanted('dataplane') || wanted('memory') ? await timed('peers', preparePeers) : {};
  if (wanted('dataplane')) sections.dataplane = await timed('dataplane', () => runDataplane(options, peers, WORK_DIR));
  if (wanted('synthesis')) sections.synthesis = await timed('synthesis', () => runSynthesis(options));
  // The cluster for the cold start boots while the memory window runs (RSS is no timing figure);
  // the cold-start samples begin only after the memory section has stopped its processes.
  const coldStart = wanted('coldstart') ? startColdStart(options, WORK_DIR) : undefined;
  try {
    if (wanted('memory')) sections.memory = await timed('memory', () => runMemory(options, peers, WORK_DIR));
  } finally {
    coldStart?.go();
  }
  if (coldStart) {
    sections.coldstart = await timed('coldstart (after memory)', () => coldStart.result);
    for (const m of coldStartModes(sections.coldstart)) {
      console.log(`coldstart: mode ${m.mode}: overhead p50 ${m.overheadP50Ms ?? '–'} ms, p95 ${m.overheadP95Ms ?? '–'} ms (${m.samples.length} samples)`);
      for (const h of m.hops ?? []) console.log(`coldstart: mode ${m.mode}: ${h.from} → ${h.to} (${h.owner}): median ${h.medianMs ?? '–'} ms, ${h.medianSharePercent ?? '–'} % (${h.samples} samples)`);
    }
  }

  // The same cold start on a real node (kubelet, containerd, runc): its own control plane, after the others stopped.
  if (wanted('realnode')) {
    sections.realnode = await timed('realnode', () => runRealNodeColdStart(options.coldStartSamples));
    for (const p of sections.realnode.split ?? []) console.log(`realnode: ${p.part}: p50 ${p.p50Ms} ms, p95 ${p.p95Ms} ms`);
    if (sections.realnode.skipped || sections.realnode.error) console.log(`realnode: ${sections.realnode.skipped ?? sections.realnode.error}`);
  }

  // Last: it loads both cores for minutes, and nothing else measures meanwhile.
  if (wanted('scale')) sections.scale = await timed('scale', () => runScale(options, WORK_DIR));

  const results: BenchResults = { version: 1, startedAt, finishedAt: new Date().toISOString(), quick: options.quick, commit: gitCommit(), uncommittedChanges: changes, machine: { ...machine, loadAverageAtEnd: loadAverage() }, durationsSeconds: durations, sections, notRun };
  const outputs = runOutputs(options);
  writeResults(path.join(ROOT, outputs.resultsFile), results);
  if (outputs.writeReports) {
    for (const file of writeReports(ROOT, results)) console.log(`bench: wrote ${file}`);
  } else {
    console.log(`bench: ${outputs.reportsLeftAloneBecause}: docs/benchmarks.md, charts and README left as they were`);
  }
  reportSkips(options, notRun);
}

function renderOnly(): void {
  const results = JSON.parse(readFileSync(path.join(ROOT, RESULTS_FILES.full), 'utf8')) as BenchResults;
  for (const file of writeReports(ROOT, results)) console.log(`bench: wrote ${file} from ${RESULTS_FILES.full}`);
}

function writeResults(file: string, results: BenchResults): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`bench: wrote ${path.relative(ROOT, file)}`);
}

function reportSkips(_options: BenchOptions, notRun: Record<string, string>): void {
  for (const name of SECTIONS) if (notRun[name]) console.log(`bench: ${name} not run: ${notRun[name]}`);
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: loadAverage(),
  };
}

const loadAverage = () => os.loadavg().map((l) => Number(l.toFixed(2)));

/**
 * Files under the measured paths that differ from the commit: in a shared checkout other
 * engineers' uncommitted work is measured too, so the report names it.
 */
function uncommittedChanges(): string[] {
  try {
    const out = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'scripts/build-runtime.mjs', 'test/runtime/apps'], { cwd: ROOT, encoding: 'utf8' });
    return out.split('\n').filter(Boolean).map((line) => line.slice(3));
  } catch {
    return [];
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

main()
  .catch((err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof BaselineMismatchError) {
      console.error(`bench: failed: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  })
  .finally(() => stopAllChildren());
