/** The two profiles of `npm run bench`: the full run and `--quick` (under two minutes). */

export interface BenchOptions {
  readonly quick: boolean;
  /** `--only=…` given: a partial run, written to bench/results/partial.json, reports untouched. */
  readonly partial: boolean;
  /** `--report`: no measuring; re-render docs and README from bench/results/latest.json. */
  readonly reportOnly: boolean;
  /** Sections to run; the others are left out of the run (and marked so in the JSON). */
  readonly sections: ReadonlySet<SectionName>;
  /** Repetitions of each data-plane configuration; figures are medians over them. */
  readonly repetitions: number;
  readonly fixedRate: { readonly rps: number; readonly seconds: number; readonly warmupSeconds: number };
  readonly saturation: { readonly seconds: number; readonly connections: number };
  /** containerConcurrency of the revision behind every proxy (HAProxy: server maxconn). */
  readonly containerConcurrency: number;
  readonly responseBytes: number;
  readonly synthesisSizes: readonly number[];
  readonly synthesisRepetitions: number;
  readonly coldStartSamples: number;
  readonly memorySeconds: number;
  /** CPU for the proxies and the app / CPU for the load generator (the machine has 2 cores). */
  readonly serverCpus: string;
  readonly loadCpus: string;
}

export const SECTIONS = ['dataplane', 'synthesis', 'coldstart', 'realnode', 'memory', 'scale'] as const;
export type SectionName = (typeof SECTIONS)[number];

const FULL: Omit<BenchOptions, 'quick' | 'sections' | 'partial' | 'reportOnly'> = {
  repetitions: 3,
  fixedRate: { rps: 1000, seconds: 30, warmupSeconds: 3 },
  saturation: { seconds: 10, connections: 32 },
  containerConcurrency: 10,
  responseBytes: 1024,
  synthesisSizes: [10, 100, 1000, 5000],
  synthesisRepetitions: 3,
  coldStartSamples: 10,
  memorySeconds: 300,
  serverCpus: '0',
  loadCpus: '1',
};

const QUICK: Omit<BenchOptions, 'quick' | 'sections' | 'partial' | 'reportOnly'> = {
  ...FULL,
  repetitions: 1,
  fixedRate: { rps: 1000, seconds: 10, warmupSeconds: 0.5 },
  saturation: { seconds: 1, connections: 32 },
  synthesisSizes: [10, 100, 1000],
  synthesisRepetitions: 1,
  coldStartSamples: 3,
  memorySeconds: 20,
};

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const sections = new Set<SectionName>(only ? parseSections(only) : SECTIONS);
  const reportOnly = argv.includes('--report');
  const unknown = argv.filter((a) => a !== '--quick' && a !== '--report' && !a.startsWith('--only='));
  if (unknown.length > 0) throw new UsageError(`unknown argument(s): ${unknown.join(' ')}`);
  return { ...(quick ? QUICK : FULL), quick, sections, partial: only !== undefined, reportOnly };
}

function parseSections(list: string): SectionName[] {
  const names = list.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new UsageError(`--only: unknown section "${name}" (known: ${SECTIONS.join(', ')})`);
  }
  return names as SectionName[];
}

/**
 * Where a run's results go. Only a full run of every section (or `--report`, which re-renders
 * latest.json) writes docs/benchmarks.md, the charts and the README section: a quick or partial
 * run measures less, and its figures must not replace the published ones.
 */
export interface RunOutputs {
  /** Results JSON, relative to the repository root. */
  readonly resultsFile: string;
  /** Render docs/benchmarks.md, docs/bench/*.svg and the README section from it. */
  readonly writeReports: boolean;
  /** Why the reports are left alone (undefined when they are written). */
  readonly reportsLeftAloneBecause?: string;
}

export const RESULTS_FILES = { full: 'bench/results/latest.json', quick: 'bench/results/quick.json', partial: 'bench/results/partial.json' } as const;

export function runOutputs(options: Pick<BenchOptions, 'quick' | 'partial' | 'reportOnly'>): RunOutputs {
  if (options.reportOnly) return { resultsFile: RESULTS_FILES.full, writeReports: true };
  if (options.partial) return { resultsFile: RESULTS_FILES.partial, writeReports: false, reportsLeftAloneBecause: 'partial run (--only)' };
  if (options.quick) return { resultsFile: RESULTS_FILES.quick, writeReports: false, reportsLeftAloneBecause: 'quick run (--quick)' };
  return { resultsFile: RESULTS_FILES.full, writeReports: true };
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run bench [-- --quick] [-- --only=${SECTIONS.join(',')}] [-- --report]`;
