/**
 * The goals the benchmark reports against (never asserted in tests). Each verdict says met,
 * missed or not measured, with the measured figure next to it.
 */
import { coldStartModes } from '../coldstart/run';
import { COLD_START_MODES } from '../coldstart/samples';
import { PathSummary } from '../dataplane/run';
import { BenchResults } from '../results';
import { scaleGoals } from '../scale/report';

export type Verdict = 'met' | 'missed' | 'not measured';

export interface GoalResult {
  readonly goal: string;
  readonly verdict: Verdict;
  /** The measured figure, or why it was not measured. */
  readonly measured: string;
}

const MIB_TO_MB = 1.048576;
const fmt = (v: number, digits = 2) => v.toFixed(digits);

export function evaluateGoals(results: BenchResults): GoalResult[] {
  return [
    queueProxyAddedP95(results),
    throughputVsHaproxy(results),
    noWorseThanKnative(results),
    activatorAddedP95(results),
    activatorSaturation(results),
    queueProxySaturationVsKnative(results),
    modeActivatorAddedP95(results),
    modeDirectP95(results),
    sidecarlessPerPodMemory(results),
    ...coldStartOverhead(results),
    synthesis1000(results),
    idleRss(results),
    ...scaleGoals(results),
  ];
}

function path(results: BenchResults, id: PathSummary['id']): PathSummary | undefined {
  const p = results.sections.dataplane?.paths.find((q) => q.id === id);
  return p && !p.skipped ? p : undefined;
}

function why(results: BenchResults, id: PathSummary['id']): string {
  const d = results.sections.dataplane;
  if (!d) return results.notRun.dataplane ?? 'data plane not run';
  if (d.skipped) return d.skipped;
  return d.paths.find((q) => q.id === id)?.skipped ?? 'not measured';
}

const judge = (ok: boolean): Verdict => (ok ? 'met' : 'missed');

/** A goal that compares two measured paths: 'not measured', saying why, when either is missing. */
function comparePaths(r: BenchResults, goal: string, ids: readonly [PathSummary['id'], PathSummary['id']], compare: (a: PathSummary, b: PathSummary) => { ok: boolean; measured: string }): GoalResult {
  const a = path(r, ids[0]);
  const b = path(r, ids[1]);
  if (!a) return { goal, verdict: 'not measured', measured: why(r, ids[0]) };
  if (!b) return { goal, verdict: 'not measured', measured: why(r, ids[1]) };
  const { ok, measured } = compare(a, b);
  return { goal, verdict: judge(ok), measured };
}

/** Saturation of the first path at least that of the second. */
const saturationAtLeast = (r: BenchResults, goal: string, ids: readonly [PathSummary['id'], PathSummary['id']]): GoalResult =>
  comparePaths(r, goal, ids, (a, b) => ({ ok: a.saturationRps! >= b.saturationRps!, measured: `${a.saturationRps} vs ${b.saturationRps} rps (×${fmt(a.saturationRps! / b.saturationRps!)})` }));

function queueProxyAddedP95(r: BenchResults): GoalResult {
  const goal = 'queue-proxy added p95 at 1,000 rps ≤ 1 ms';
  const qp = path(r, 'queue-proxy');
  if (!qp || qp.addedP95Ms === undefined) return { goal, verdict: 'not measured', measured: qp ? why(r, 'direct') : why(r, 'queue-proxy') };
  return { goal, verdict: judge(qp.addedP95Ms <= 1), measured: `${fmt(qp.addedP95Ms, 3)} ms (p95 ${fmt(qp.p95Ms!, 3)} ms vs direct ${fmt(qp.p95Ms! - qp.addedP95Ms, 3)} ms)` };
}

function throughputVsHaproxy(r: BenchResults): GoalResult {
  return comparePaths(r, "saturation throughput ≥ ½ of HAProxy's on the same cores", ['queue-proxy', 'haproxy'], (qp, ha) => {
    const ratio = qp.saturationRps! / ha.saturationRps!;
    return { ok: ratio >= 0.5, measured: `${fmt(ratio)}× (${qp.saturationRps} vs ${ha.saturationRps} rps)` };
  });
}

function noWorseThanKnative(r: BenchResults): GoalResult {
  return comparePaths(r, "p95 no worse than Knative's Go queue-proxy", ['queue-proxy', 'knative-queue-proxy'], (qp, kn) => {
    const perRun = (p: PathSummary) => p.runs.map((r) => fmt(r.fixedRate.p95Ms, 1)).join(' / ');
    const caveat = (kn.fixedRateSuccess ?? 1) < 0.99
      ? `; Knative's queue-proxy answered only ${fmt((kn.fixedRateSuccess ?? 0) * 100, 1)}% 2xx (the rest 503) with p95 per run ${perRun(kn)} ms against ours ${perRun(qp)} ms: the comparison rests on its stalls in this run`
      : '';
    return { ok: qp.p95Ms! <= kn.p95Ms!, measured: `${fmt(qp.p95Ms!, 3)} ms vs ${fmt(kn.p95Ms!, 3)} ms (×${fmt(qp.p95Ms! / kn.p95Ms!, 3)})${caveat}` };
  });
}

/** Added p95 of one path (against the direct path) at most `limitMs`. */
function addedP95AtMost(r: BenchResults, goal: string, id: PathSummary['id'], limitMs: number): GoalResult {
  const p = path(r, id);
  if (!p || p.addedP95Ms === undefined) return { goal, verdict: 'not measured', measured: p ? why(r, 'direct') : why(r, id) };
  return { goal, verdict: judge(p.addedP95Ms <= limitMs), measured: `${fmt(p.addedP95Ms, 3)} ms` };
}

function activatorAddedP95(r: BenchResults): GoalResult {
  return addedP95AtMost(r, 'activator path added p95 ≤ 2 ms', 'activator', 2);
}

function activatorSaturation(r: BenchResults): GoalResult {
  return saturationAtLeast(r, "activator path (activator + queue-proxy) saturation ≥ our queue-proxy's", ['activator', 'queue-proxy']);
}

function queueProxySaturationVsKnative(r: BenchResults): GoalResult {
  return saturationAtLeast(r, "queue-proxy saturation ≥ Knative's Go queue-proxy (same run)", ['queue-proxy', 'knative-queue-proxy']);
}

function modeActivatorAddedP95(r: BenchResults): GoalResult {
  return addedP95AtMost(r, 'mode activator (activator → app, no sidecar) added p95 ≤ 2 ms', 'mode-activator', 2);
}

function modeDirectP95(r: BenchResults): GoalResult {
  return comparePaths(r, 'mode direct p95 within 5% of the direct path', ['mode-direct', 'direct'], (mode, direct) => {
    const ratio = mode.p95Ms! / direct.p95Ms!;
    return { ok: ratio <= 1.05, measured: `${fmt(mode.p95Ms!, 3)} ms vs ${fmt(direct.p95Ms!, 3)} ms (×${fmt(ratio, 3)}; the same set-up on loopback, measured twice: the difference is run-to-run noise)` };
  });
}

function sidecarlessPerPodMemory(r: BenchResults): GoalResult {
  const goal = 'sidecar-less modes (activator, direct): no per-pod proxy memory';
  const rows = (r.sections.dataplane?.modes ?? []).filter((m) => m.mode !== 'full');
  const measured = rows.filter((m) => !m.skipped && m.perPodProxyRssMiB !== undefined);
  if (measured.length === 0) return { goal, verdict: 'not measured', measured: why(r, 'mode-activator') };
  const text = measured.map((m) => `${m.mode}: ${fmt(m.perPodProxyRssMiB!, 1)} MiB per pod` + (m.sharedProxyRssMiB ? ` (shared activator ${fmt(m.sharedProxyRssMiB, 1)} MiB)` : '')).join('; ');
  const skipped = rows.filter((m) => m.skipped).map((m) => `${m.mode} not measured`);
  return { goal, verdict: skipped.length > 0 ? 'not measured' : judge(measured.every((m) => m.perPodProxyRssMiB === 0)), measured: [text, ...skipped].join('; ') };
}

/** The cold-start goal, on top of the app's own start; judged for each scale-from-zero mode. */
export const COLD_START_OVERHEAD_GOAL_MS = 150;

function coldStartOverhead(r: BenchResults): GoalResult[] {
  const c = r.sections.coldstart;
  const measured = c ? coldStartModes(c) : [];
  return COLD_START_MODES.map((mode) => {
    const goal = `cold-start overhead p50 ≤ ${COLD_START_OVERHEAD_GOAL_MS} ms, mode ${mode}`;
    const m = measured.find((x) => x.mode === mode);
    if (!m || m.overheadP50Ms === undefined) return { goal, verdict: 'not measured', measured: c?.skipped ?? c?.error?.split('\n')[0] ?? r.notRun.coldstart ?? (c ? `no ${mode} sample` : 'not run') };
    return { goal, verdict: judge(m.overheadP50Ms <= COLD_START_OVERHEAD_GOAL_MS), measured: `${fmt(m.overheadP50Ms, 0)} ms (p95 ${fmt(m.overheadP95Ms!, 0)} ms, ${m.samples.length} samples)` };
  });
}

function synthesis1000(r: BenchResults): GoalResult {
  const goal = 'synthesis of 1,000 services < 2 s and within 2× of the baseline';
  const p = r.sections.synthesis?.points.find((q) => q.services === 1000);
  if (!p) return { goal, verdict: 'not measured', measured: r.sections.synthesis?.skipped ?? r.notRun.synthesis ?? 'N = 1,000 not run' };
  const ok = p.oursMs < 2000 && p.ratio <= 2;
  return { goal, verdict: judge(ok), measured: `${fmt(p.oursMs / 1000)} s, ${fmt(p.ratio)}× the baseline (${fmt(p.baselineMs / 1000)} s)` };
}

function idleRss(r: BenchResults): GoalResult {
  const goal = 'queue-proxy idle RSS ≤ 45 MB';
  const m = r.sections.memory;
  const idle = m?.processes.find((p) => p.label.startsWith('our queue-proxy, idle'));
  if (!m || !idle) return { goal, verdict: 'not measured', measured: m?.skipped ?? r.notRun.memory ?? 'not run' };
  const mb = idle.rssMiB * MIB_TO_MB;
  return { goal, verdict: judge(mb <= 45), measured: `${fmt(mb, 1)} MB (${idle.rssMiB} MiB) ${m.label}` };
}
