/**
 * The scale section in docs/benchmarks.md and the README: its goals (issue 18, "Performance to
 * reach"), its tables and how each cost grows with N.
 */
import type { GoalResult } from '../report/goals';
import type { BenchResults } from '../results';
import { sampleSize } from '../../lib/runtime/autoscaler/scraper';
import type { ReplacementRun, ScaleResult, ScaleRun } from './run';
import { PODS_PER_REVISION } from './topology';

/** The N and replica count the scrape goals are set at. */
export const GOAL_REVISIONS = 10_000;
export const GOAL_REPLICAS = 4;
export const GOAL_PAGE_REVISIONS = 20_000;
export const GOAL_PAGE_BYTES = 50 * 1024;
/** Scrape goals: a rate counted over a window of W seconds may read one scrape more or less than the true rate (the window's edges). */
const edge = (run: ScaleRun) => 1 / run.windowSeconds;

const f = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const int = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const judge = (ok: boolean): GoalResult['verdict'] => (ok ? 'met' : 'missed');

export function scaleGoals(results: BenchResults): GoalResult[] {
  const s = results.sections.scale;
  const why = !s ? (results.notRun.scale ?? 'not run') : s.skipped;
  const notMeasured = (goal: string, reason: string): GoalResult => ({ goal, verdict: 'not measured', measured: reason });
  const scrapeGoals = [
    `scale: ${int(GOAL_REVISIONS)} revisions × 10 pods, ${GOAL_REPLICAS} autoscaler replicas: every pod scraped at most once per second in total`,
    `scale: ${int(GOAL_REVISIONS)} revisions, ${GOAL_REPLICAS} replicas: every revision sampled each second`,
    `scale: ${int(GOAL_REVISIONS)} revisions, ${GOAL_REPLICAS} replicas: ≤ 1 core per replica`,
  ];
  const replacementGoals = [
    `scale: activator replaced with ${int(GOAL_REVISIONS)} revisions: concurrent API requests ≤ the write workers`,
    `scale: activator replaced with ${int(GOAL_REVISIONS)} revisions: API request rate ≤ QPS + burst`,
    `scale: activator replaced with ${int(GOAL_REVISIONS)} revisions: one write per changed object`,
    `scale: activator replaced with ${int(GOAL_REVISIONS)} revisions: converged within changed objects ÷ QPS + 10 s`,
  ];
  const pageGoal = `scale: activator stats page with ${int(GOAL_PAGE_REVISIONS)} registered revisions, 50 active < 50 KiB`;
  if (!s || why) return [...scrapeGoals, ...replacementGoals, pageGoal].map((g) => notMeasured(g, why ?? 'not run'));
  return [...scrapeRunGoals(s, scrapeGoals), ...replacementRunGoals(s, replacementGoals), activatorPageGoal(s, pageGoal)];
}

function scrapeRunGoals(s: ScaleResult, goals: string[]): GoalResult[] {
  const run = s.runs.find((r) => r.revisions === GOAL_REVISIONS && r.replicas === GOAL_REPLICAS);
  if (!run) {
    const reason = `N = ${int(GOAL_REVISIONS)} with ${GOAL_REPLICAS} replicas not run (${s.options ? `this run: N = ${s.options.revisions.join(', ')}, replicas ${s.options.replicas.join(', ')}` : 'no options'})${s.errors.length > 0 ? `; ${s.errors.join('; ')}` : ''}`;
    return goals.map((goal) => ({ goal, verdict: 'not measured', measured: reason }));
  }
  const scraping = run.perReplica.filter((r) => r.podScrapesPerSecond > 0).length;
  const cpuMax = Math.max(...run.perReplica.map((r) => r.cpuCores));
  const made = run.perReplica.reduce((total, r) => total + r.podScrapesPerSecond, 0);
  return [
    {
      goal: goals[0],
      verdict: judge(run.podScrapeRate.max <= 1 + edge(run)),
      measured: `max ${f(run.podScrapeRate.max)} scrapes/s per pod, mean ${f(run.podScrapeRate.mean, 3)} (${scraping} of ${run.replicas} replicas scrape${made < run.scrapesNeededPerReplica ? `; they made ${int(made)} of the ${int(run.scrapesNeededPerReplica)} scrapes/s a sample of every revision each second needs, so this says little on its own` : ''})`,
    },
    { goal: goals[1], verdict: judge(run.revisionSampleRate.min >= 1 - edge(run)), measured: `min ${f(run.revisionSampleRate.min, 3)} samples/s per revision, mean ${f(run.revisionSampleRate.mean, 3)} (a sample is ${int(run.scrapesNeededPerReplica / run.revisions)} pod scrapes; ${int(run.scrapesNeededPerReplica)} scrapes/s needed, best replica made ${int(Math.max(...run.perReplica.map((r) => r.podScrapesPerSecond)))})` },
    { goal: goals[2], verdict: judge(cpuMax <= 1), measured: `max ${f(cpuMax, 2)} cores (${run.perReplica.map((r) => f(r.cpuCores, 2)).join(' / ')}); ${run.replicas} replicas share this machine's cores, so this bound alone says little: read it with the samples per second above` },
  ];
}

/**
 * Judged on the one-replica run where the replica also scrapes (as in a cluster); the one-replica
 * write-path-alone figures are quoted beside. The runs with several replicas (each writing its
 * buckets' revisions) are in the table.
 */
function replacementRunGoals(s: ScaleResult, goals: string[]): GoalResult[] {
  const single = s.replacements.filter((r) => replicasOf(r) === 1);
  const loaded = single.find((r) => r.revisions === GOAL_REVISIONS && r.scraping);
  const alone = single.find((r) => r.revisions === GOAL_REVISIONS && !r.scraping);
  const main = loaded ?? alone;
  if (!main) {
    const at = s.replacements.map((r) => `at N = ${int(r.revisions)}${r.scraping ? '' : ' (scrapes off)'}: converged ${r.convergedSeconds ?? 'no'} s of ${r.boundSeconds} s`).join('; ');
    return goals.map((goal) => ({ goal, verdict: 'not measured', measured: `N = ${int(GOAL_REVISIONS)} not run${at ? ` (${at})` : ''}` }));
  }
  const label = (r: ReplacementRun) => (r.scraping ? 'while scraping' : 'scrapes off');
  const other = (text: (r: ReplacementRun) => string) => (loaded && alone ? `; ${label(alone)}: ${text(alone)}` : '');
  const inFlight = (r: ReplacementRun) => `peak ${inFlightJudged(r)} in flight besides leader election's Lease requests (${r.peakConcurrentRequests} with them), ${r.workers} workers${r.writeLatencyMs ? ` (each write held ${r.writeLatencyMs} ms)` : ' (the fake API server answered at once, so the bound was never tested)'}`;
  const rate = (r: ReplacementRun) => `peak ${int(r.peakRequestsPerSecond)} requests in one second, mean ${f(r.meanRequestsPerSecond, 1)}/s; QPS ${r.qps} + burst ${r.burst}`;
  const writes = (r: ReplacementRun) => `${int(r.writes)} Endpoints writes for ${int(r.changedObjects)} changed objects, at most ${r.maxWritesPerObject} per object${r.conflicts !== undefined ? ` (${int(r.conflicts)} answered 409)` : ''}`;
  const converged = (r: ReplacementRun) => (r.convergedSeconds === undefined ? `not converged within ${r.timeoutSeconds} s` : `${f(r.convergedSeconds, 1)} s`) + ` (bound ${f(r.boundSeconds, 0)} s)`;
  return [
    { goal: goals[0], verdict: judge(inFlightJudged(main) <= main.workers), measured: `${label(main)}: ${inFlight(main)}${other(inFlight)}` },
    { goal: goals[1], verdict: judge(main.peakRequestsPerSecond <= main.qps + main.burst), measured: `${label(main)}: ${rate(main)}${other(rate)}` },
    { goal: goals[2], verdict: judge(main.convergedSeconds !== undefined && main.writes === main.changedObjects && main.maxWritesPerObject === 1), measured: `${label(main)}: ${writes(main)}${other(writes)}` },
    { goal: goals[3], verdict: judge(main.convergedSeconds !== undefined && main.convergedSeconds <= main.boundSeconds), measured: `${label(main)}: ${converged(main)}${other(converged)}` },
  ];
}

/** Requests in flight the write queue answers for: all but the Lease ones (older results: all). */
/** Results from before buckets have no replica count: they ran one replica. */
const replicasOf = (r: ReplacementRun) => r.replicas ?? 1;
const inFlightJudged = (r: ReplacementRun) => r.peakConcurrentRequestsWithoutLeases ?? r.peakConcurrentRequests;

function activatorPageGoal(s: ScaleResult, goal: string): GoalResult {
  const page = s.activatorPages.find((p) => p.registeredRevisions === GOAL_PAGE_REVISIONS);
  if (!page) return { goal, verdict: 'not measured', measured: s.errors.find((e) => e.startsWith('activator page')) ?? `${int(GOAL_PAGE_REVISIONS)} registered revisions not run` };
  return { goal, verdict: judge(page.pageBytes < GOAL_PAGE_BYTES), measured: `${f(page.pageBytes / 1024, 1)} KiB, ${page.series} series (${page.activeRevisions} active)` };
}

/** The three tables and the growth line. */
export function scaleText(results: BenchResults): string {
  const s = results.sections.scale;
  if (!s) return `_Scale not run: ${results.notRun.scale ?? 'unknown'}._`;
  if (s.skipped) return `_Scale skipped: ${s.skipped}._`;
  return [
    `Runtime: ${s.runtime}. ${s.options ? `Window ${s.options.windowSeconds} s per configuration.` : ''}${s.measured ? ` Measured ${s.measured.startedAt} → ${s.measured.finishedAt}, load average (1/5/15 min) at start ${s.measured.loadAverageAtStart.join(' / ')}, at end ${s.measured.loadAverageAtEnd.join(' / ')} (2 cores, shared: the autoscalers compete with other work for CPU).` : ''}`,
    '',
    runsTable(s),
    '',
    replacementsTable(s),
    '',
    pagesTable(s),
    '',
    scrapeCostText(s),
    '',
    `Growth with N: ${scaleGrowth(s).join('; ') || 'needs two sizes'}.`,
    '',
    `Decision tick: ${s.notObservable.decisionTick ?? 'measured'}.`,
    ...(s.errors.length > 0 ? ['', `Errors: ${s.errors.join('; ')}`] : []),
  ].join('\n');
}

function runsTable(s: ScaleResult): string {
  const rows = s.runs.flatMap((run) =>
    run.perReplica.map(
      (r, i) =>
        `| ${int(run.revisions)} | ${run.replicas} | ${r.identity}${r.buckets !== undefined ? ` (${r.buckets} buckets)` : r.leader ? ' (leader)' : ''} | ${int(r.podScrapesPerSecond)} of ${int(run.scrapesNeededPerReplica)} | ${f(r.cpuCores)} | ${f(r.rssMiB, 0)} | ${f(r.syncSeconds, 1)} | ${r.unsampledWarnings} | ${i === 0 ? `${f(run.podScrapeRate.max)} / ${f(run.podScrapeRate.mean, 3)}` : ''} | ${i === 0 ? `${f(run.revisionSampleRate.min, 3)} / ${f(run.revisionSampleRate.mean, 3)}` : ''} | ${i === 0 ? `${f(run.apiRequestsPerSecond, 1)} (${run.apiWritesInWindow} writes)` : ''} | ${i === 0 ? f(run.fakePodsCpuCores) : ''} |`,
    ),
  );
  return [
    '| revisions | replicas | replica | pod scrapes/s (needed) | CPU cores | RSS MiB | start → synced s | "too few pods" warnings | scrapes/s per pod, max / mean | samples/s per revision, min / mean | API requests/s | fake pods CPU |',
    '|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function replacementsTable(s: ScaleResult): string {
  if (s.replacements.length === 0) return '_No activator replacement measured._';
  const rows = s.replacements.map(
    (r) =>
      `| ${int(r.revisions)} | ${replicasOf(r)} | ${r.scraping ? 'scraping' : 'scrapes off'} | ${int(r.changedObjects)} | ${int(r.writes)}${r.conflicts ? ` (${int(r.conflicts)} × 409)` : ''} | ${r.perReplica ? r.perReplica.map((p) => `${p.identity}: ${p.buckets} buckets, ${int(p.writes)} writes`).join('; ') : ''} | ${r.maxWritesPerObject} | ${inFlightJudged(r)} / ${r.peakConcurrentRequests} (${r.workers}) | ${int(r.peakRequestsPerSecond)} (${r.qps + r.burst}) | ${f(r.meanRequestsPerSecond, 1)} | ${r.convergedSeconds === undefined ? `not within ${r.timeoutSeconds}` : f(r.convergedSeconds, 1)} | ${f(r.boundSeconds, 0)} |`,
  );
  return [
    '| revisions | replicas | replica | changed objects | Endpoints writes | writes per replica (its buckets) | max writes per object | peak in flight without / with Lease requests (workers) | peak requests in a second (QPS + burst) | mean requests/s | converged s | bound s |',
    '|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function pagesTable(s: ScaleResult): string {
  if (s.activatorPages.length === 0) return '_Activator page not measured._';
  const rows = s.activatorPages.map((p) => `| ${int(p.registeredRevisions)} | ${p.activeRevisions} | ${int(p.pageBytes)} | ${p.series} | ${f(p.scrapeMs, 1)} | ${f(p.activatorRssMiB, 0)} |`);
  return ['| activator: registered revisions | active | page bytes | series | GET /metrics ms | activator RSS MiB |', '|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

/** Scrapes per second one revision of 10 pods needs: Knative's sample size (7 of 10 pods). */
const SCRAPES_PER_REVISION = sampleSize(PODS_PER_REVISION);

function scrapeCostText(s: ScaleResult): string {
  if (!s.scrapeCost || s.scrapeCost.length === 0) return '_Scrape cost not measured._';
  const need = GOAL_REVISIONS * SCRAPES_PER_REVISION;
  const rows = s.scrapeCost.map(
    (c) => `| ${c.client ?? 'hand-written'} | ${c.connections} | ${c.revisions} × ${c.podsPerRevision} | ${int(c.podScrapesPerSecond)} of ${int(c.podScrapesNeededPerSecond)} | ${f(c.cpuCores, 3)} | ${f(c.cpuMicrosPerScrape, 1)} | ${int(c.scrapesPerCoreSecond)} | ${f(need / c.scrapesPerCoreSecond, 1)} | ${c.rssMiB === undefined ? '' : f(c.rssMiB, 0)} |`,
  );
  return [
    'Scrape cost in isolation (bench/scale/scrape-cost.ts: the working tree\'s collector in the bench process, one round a second, against fake queue-proxies in a child process):',
    '',
    `| client | connections | revisions × pods | pod scrapes/s (needed) | CPU cores | µs CPU per scrape | scrapes/s per core | cores for ${int(GOAL_REVISIONS)} revisions × 10 pods (${int(need)} scrapes/s) | RSS MiB |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** How each cost grows between the smallest and largest N (one replica), as ratios and per-revision slopes. */
export function scaleGrowth(s: ScaleResult): string[] {
  const one = s.runs.filter((r) => r.replicas === 1).sort((a, b) => a.revisions - b.revisions);
  const out: string[] = [];
  if (one.length >= 2) {
    const [a, b] = [one[0], one[one.length - 1]];
    const [ra, rb] = [a.perReplica[0], b.perReplica[0]];
    const nRatio = b.revisions / a.revisions;
    out.push(
      `N ×${f(nRatio, 0)} (${int(a.revisions)} → ${int(b.revisions)}, one replica): scrapes needed ×${f(nRatio, 0)}, made ×${f(rb.podScrapesPerSecond / ra.podScrapesPerSecond)} (${int(ra.podScrapesPerSecond)} → ${int(rb.podScrapesPerSecond)}/s)`,
      `CPU ×${f(rb.cpuCores / ra.cpuCores)} (${f(ra.cpuCores)} → ${f(rb.cpuCores)} cores)`,
      `RSS ${f(ra.rssMiB, 0)} → ${f(rb.rssMiB, 0)} MiB, ${f(((rb.rssMiB - ra.rssMiB) * 1024) / (b.revisions - a.revisions), 1)} KiB per added revision (10 pods each)`,
      `start → synced ×${f(rb.syncSeconds / ra.syncSeconds)} (${f(ra.syncSeconds, 1)} → ${f(rb.syncSeconds, 1)} s)`,
      `samples per revision per second ${f(a.revisionSampleRate.mean, 3)} → ${f(b.revisionSampleRate.mean, 3)}`,
    );
  } else if (one.length === 1) {
    const r = one[0].perReplica[0];
    out.push(`one size only (N = ${int(one[0].revisions)}): RSS ${f((r.rssMiB * 1024) / one[0].revisions, 1)} KiB per revision including the process's base`);
  }
  for (const scraping of [true, false]) {
    const reps = s.replacements.filter((r) => replicasOf(r) === 1 && r.scraping === scraping && r.convergedSeconds !== undefined).sort((x, y) => x.revisions - y.revisions);
    if (reps.length >= 2) {
      const [x, y] = [reps[0], reps[reps.length - 1]];
      out.push(`replacement (${scraping ? 'scraping' : 'scrapes off'}) converged ${f(x.convergedSeconds, 1)} → ${f(y.convergedSeconds, 1)} s (×${f(y.convergedSeconds! / x.convergedSeconds!)} for ×${f(y.changedObjects / x.changedObjects, 0)} changed objects; the QPS alone would give ${f(x.changedObjects / x.qps, 0)} → ${f(y.changedObjects / y.qps, 0)} s)`);
    }
  }
  const pages = [...s.activatorPages].sort((x, y) => x.registeredRevisions - y.registeredRevisions);
  if (pages.length >= 2) {
    const [x, y] = [pages[0], pages[pages.length - 1]];
    out.push(`activator page ${int(x.pageBytes)} → ${int(y.pageBytes)} bytes (×${f(y.pageBytes / x.pageBytes, 3)}) for ${int(x.registeredRevisions)} → ${int(y.registeredRevisions)} registered revisions, ${x.activeRevisions} active in both: the page follows the active revisions`);
  }
  return out;
}
