// The data-plane modes in the report (bench/dataplane/modes.ts, bench/report/goals.ts and
// markdown.ts): each mode is the measured path it is, the sidecar-less modes carry no per-pod
// proxy memory, and the verdicts follow the figures. The figures below are a made-up run.
import { describe, expect, it } from 'vitest';
import type { PathRun } from '../../bench/dataplane/measure';
import { modeRows } from '../../bench/dataplane/modes';
import type { PathId } from '../../bench/dataplane/paths';
import type { DataplaneResult, PathSummary } from '../../bench/dataplane/run';
import { evaluateGoals } from '../../bench/report/goals';
import { modesTable } from '../../bench/report/markdown';
import type { BenchResults } from '../../bench/results';

function run(rss: Record<string, number>, shared: string[]): PathRun {
  const load = { requests: 1000, success: 1, p50Ms: 1, p95Ms: 2, p99Ms: 3, maxMs: 4, throughput: 1000, errors: [] };
  return {
    fixedRate: load,
    saturation: load,
    proxyCpuPer1kFixed: 0.2,
    proxyCpuPer1kSaturation: 0.2,
    cpuPer1kFixedByProcess: {},
    appCpuPer1kFixed: 0.1,
    loadAverage1m: 1,
    proxyPeakRssMiB: rss,
    sharedProcesses: shared,
  };
}

function summary(id: PathId, p95Ms: number, saturationRps: number, rss: Record<string, number>, shared: string[] = []): PathSummary {
  const perPod = Object.entries(rss).filter(([n]) => !shared.includes(n)).reduce((a, [, v]) => a + v, 0);
  const sharedRss = Object.entries(rss).filter(([n]) => shared.includes(n)).reduce((a, [, v]) => a + v, 0);
  return { id, label: id, runs: [run(rss, shared)], failures: [], p95Ms, addedP95Ms: p95Ms - 0.5, saturationRps, cpuSecondsPer1k: Object.keys(rss).length ? 0.2 : Number.NaN, perPodProxyRssMiB: perPod, sharedProxyRssMiB: sharedRss };
}

function results(paths: PathSummary[]): BenchResults {
  const dataplane: DataplaneResult = { setup: {}, paths, modes: modeRows(paths) };
  return {
    version: 1, startedAt: '', finishedAt: '', quick: true, commit: 'x', durationsSeconds: {}, notRun: {},
    machine: { cpus: 2, cpuModel: 'x', memoryGiB: 1, node: 'v', loadAverageAtStart: [0, 0, 0] },
    sections: { dataplane },
  } as unknown as BenchResults;
}

const paths = [
  summary('direct', 0.5, 9000, {}),
  summary('queue-proxy', 1.2, 6000, { 'queue-proxy': 60 }),
  summary('activator', 2.0, 3000, { activator: 80, 'queue-proxy (behind activator)': 60 }, ['activator']),
  summary('knative-queue-proxy', 1.3, 5000, { 'knative queue-proxy': 25 }),
  summary('mode-activator', 1.4, 4500, { activator: 78 }, ['activator']),
  summary('mode-direct', 0.51, 9100, {}),
];

describe('data-plane modes in the bench report', () => {
  it('gives full mode both of its paths and the sidecar-less modes no per-pod proxy memory', () => {
    const rows = modeRows(paths);
    expect(rows.map((r) => [r.mode, r.path])).toEqual([['full', 'activator'], ['full', 'queue-proxy'], ['activator', 'mode-activator'], ['direct', 'mode-direct']]);
    expect(rows.map((r) => r.perPodProxyRssMiB)).toEqual([60, 60, 0, 0]);
    expect(rows.map((r) => r.sharedProxyRssMiB)).toEqual([80, 0, 78, 0]);
    expect(rows[3].cpuSecondsPer1k).toBe(0);
  });

  it('judges the mode goals from the figures', () => {
    const verdict = (paths: PathSummary[], prefix: string) => evaluateGoals(results(paths)).find((g) => g.goal.startsWith(prefix))?.verdict;
    expect(verdict(paths, 'mode direct p95')).toBe('met');
    expect(verdict(paths.map((p) => (p.id === 'mode-direct' ? { ...p, p95Ms: 0.6 } : p)), 'mode direct p95')).toBe('missed');
    expect(verdict(paths, 'sidecar-less modes')).toBe('met');
    expect(verdict(paths, 'queue-proxy saturation')).toBe('met');
    expect(verdict(paths, 'activator path (activator + queue-proxy) saturation')).toBe('missed');
    expect(verdict(paths.filter((p) => p.id !== 'mode-activator'), 'sidecar-less modes')).toBe('not measured');
  });

  it('renders a row per mode, a skipped path as skipped', () => {
    const table = modesTable(results(paths.map((p) => (p.id === 'mode-activator' ? { ...p, skipped: 'no image' } : p))));
    const lines = table.split('\n');
    expect(lines).toHaveLength(2 + 4);
    expect(lines[4]).toContain('skipped: no image');
    expect(lines[5]).toMatch(/^\| direct \|/);
  });
});
