/**
 * The real-node cold start (./coldstart.ts) in docs/benchmarks.md and the README section: when and
 * how many samples, each phase after the scale write (p50/p95), and the split of the cold start
 * into control plane, node, ours and the app.
 */
import type { BenchResults } from '../results';
import { PHASE_MEANING, type RealNodeColdStartResult } from './coldstart';

const ms = (v: number) => Math.round(v).toLocaleString('en-US');
const count = (n: number | undefined) => (n === undefined ? '–' : String(n));

/** Why there are no figures, or undefined when there are. */
function missing(results: BenchResults): string | undefined {
  const r = results.sections.realnode;
  if (!r) return `_Cold start on the real node not run: ${results.notRun.realnode ?? 'no realnode section in bench/results/latest.json'}._`;
  if (r.skipped) return `_Cold start on the real node skipped: ${r.skipped}._`;
  if (r.error) return `_Cold start on the real node failed: ${r.error.split('\n')[0]}._`;
  if (!r.samples?.length) return '_Cold start on the real node: no samples._';
  return undefined;
}

/** "10 samples on 2026-12-07 (commit abc1234; kubelet v1.36.3, …; load average …)". */
export function realNodeRunLine(r: RealNodeColdStartResult): string {
  const versions = Object.entries(r.versions ?? {}).map(([name, v]) => `${name} ${v}`).join(', ');
  const m = r.measured;
  const when = m ? ` on ${m.startedAt.slice(0, 10)} (${m.startedAt.slice(11, 16)}–${m.finishedAt.slice(11, 16)} UTC, commit \`${m.commit}\`, load average at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd.join(' / ')})` : '';
  return `${r.samples?.length ?? 0} cold starts${when}; ${versions}.`;
}

export function realNodePhasesTable(r: RealNodeColdStartResult): string {
  const rows = (r.phases ?? []).map((p) => `| ${p.phase} | ${PHASE_MEANING[p.phase].what} | ${PHASE_MEANING[p.phase].whose} | ${ms(p.p50Ms)} | ${ms(p.p95Ms)} | ${count(p.samples)} |`);
  return ['| phase | event | whose | p50 ms after the scale write | p95 ms | samples |', '|---|---|---|---:|---:|---:|', ...rows].join('\n');
}

export function realNodeSplitTable(r: RealNodeColdStartResult): string {
  const rows = (r.split ?? []).map((p) => `| ${p.part} | ${ms(p.p50Ms)} | ${ms(p.p95Ms)} | ${count(p.samples)} |`);
  return ['| part of the cold start | p50 ms | p95 ms | samples |', '|---|---:|---:|---:|', ...rows].join('\n');
}

const METHOD =
  'A compiled revision (queue-proxy + the test app, both images imported into containerd by digest) on the suite\'s real node: kubelet, kube-scheduler, containerd, runc and the CNI bridge, with its own control plane. Each sample scales the Deployment from 0 to 1 through the scale subresource, as the autoscaler does, and back to 0. Times are after that scale write: pod creation, binding and Ready from a watch of the API; task starts from containerd\'s event stream (`ctr events`); "listening"/"ready" from the containers\' CRI log lines; the first byte is polled at the pod address on the queue-proxy port. Only the revision pod runs on the node (no activator on it yet), so the first byte is the queue-proxy\'s, not through the activator, and the issue-19 goal (our hops ≤ 50 ms p50 in modes `full` and `activator`) is not judged from it. Split rows are differences within each sample, so their p50s do not add up to the phases\' p50s.';

/** The docs/benchmarks.md section body. */
export function realNodeText(results: BenchResults): string {
  const none = missing(results);
  if (none) return none;
  const r = results.sections.realnode!;
  return [realNodeRunLine(r), '', realNodePhasesTable(r), '', realNodeSplitTable(r), '', METHOD].join('\n');
}

/** The README's shorter form: the run line and the split (the phases are in docs/benchmarks.md). */
export function realNodeReadmeText(results: BenchResults): string {
  const none = missing(results);
  if (none) return none;
  const r = results.sections.realnode!;
  return [`Cold start on the real node (kubelet, containerd, runc; phases in docs/benchmarks.md): ${realNodeRunLine(r)}`, '', realNodeSplitTable(r)].join('\n');
}
