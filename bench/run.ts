/**
 * `npm run bench [-- --quick] [-- --only=dataplane,synthesis,coldstart,memory]`
 *
 * Measures on this machine and writes bench/results/latest.json, docs/benchmarks.md,
 * docs/bench/*.svg and the README section between <!-- bench:start --> and <!-- bench:end -->.
 * Every child process is stopped at the end, on failure and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runColdStart } from './coldstart/run';
import { runDataplane } from './dataplane/run';
import { installCleanupHandlers, setMeasuredNiceness, stopAllChildren } from './lib/children';
import { BenchOptions, parseOptions, SectionName, SECTIONS, USAGE, UsageError } from './options';
import { preparePeers } from './peers';
import { BenchResults, MachineInfo } from './results';
import { runSynthesis } from './synthesis/run';

const ROOT = path.resolve(__dirname, '..');
const RESULTS_FILE = path.join(ROOT, 'bench/results/latest.json');
const WORK_DIR = path.join(ROOT, '.tmp/bench');
/** Priority of measured processes when we may raise it (root); see setMeasuredNiceness. */
const MEASURED_NICENESS = -10;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  installCleanupHandlers();
  if (process.getuid?.() === 0) setMeasuredNiceness(MEASURED_NICENESS);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  console.log(`bench: ${options.quick ? 'quick' : 'full'} run on ${machine.cpus} CPU(s) (${machine.cpuModel}), load average ${machine.loadAverageAtStart.join(' ')}`);
  mkdirSync(WORK_DIR, { recursive: true });

  const notRun: Record<string, string> = {};
  const sections: BenchResults['sections'] = {};
  const wanted = (name: SectionName) => {
    if (options.sections.has(name)) return true;
    notRun[name] = 'left out by --only';
    return false;
  };
  const peers = wanted('dataplane') || wanted('memory') ? await preparePeers() : {};
  if (wanted('dataplane')) sections.dataplane = await runDataplane(options, peers, WORK_DIR);
  if (wanted('synthesis')) sections.synthesis = await runSynthesis(options);
  if (wanted('coldstart')) sections.coldstart = await runColdStart(options, WORK_DIR);

  const results: BenchResults = { version: 1, startedAt, finishedAt: new Date().toISOString(), quick: options.quick, commit: gitCommit(), machine, sections, notRun };
  writeResults(results);
  reportSkips(options, notRun);
}

function writeResults(results: BenchResults): void {
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, JSON.stringify(results, null, 2) + '\n');
  console.log(`bench: wrote ${path.relative(ROOT, RESULTS_FILE)}`);
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
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
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
    } else {
      console.error(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  })
  .finally(() => stopAllChildren());
