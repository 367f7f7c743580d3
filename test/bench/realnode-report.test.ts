// The real-node cold start as docs/benchmarks.md and the README section render it: the run (date,
// commit, sample count, versions), each phase's p50/p95 with its owner, the node/ours/app split,
// and a reason instead of figures when the section did not run, was skipped or failed.
import { describe, expect, it } from 'vitest';
import { benchmarksMarkdown, readmeSection } from '../../bench/report/markdown';
import type { RealNodeColdStartResult } from '../../bench/realnode/coldstart';
import type { BenchResults } from '../../bench/results';

const REALNODE: RealNodeColdStartResult = {
  versions: { kubelet: 'v1.36.3', containerd: 'v2.2.9', runc: 'v1.4.4', cni: 'v1.9.1' },
  measured: { startedAt: '2026-12-07T17:20:00.000Z', finishedAt: '2026-12-07T17:25:00.000Z', commit: 'abc1234', loadAverageAtStart: [1.5, 1, 1], loadAverageAtEnd: [2, 1.2, 1] },
  samples: [{ created: 5, scheduled: 9, sandbox: 300, ready: 1900 }, { created: 6, scheduled: 11, sandbox: 320, ready: 2100 }],
  phases: [
    { phase: 'scheduled', p50Ms: 9, p95Ms: 11, samples: 2 },
    { phase: 'sandbox', p50Ms: 300, p95Ms: 320, samples: 2 },
  ],
  split: [
    { part: 'node: bound → pause task started (kubelet, CNI, containerd, runc)', p50Ms: 291, p95Ms: 309, samples: 2 },
    { part: 'ours: queue-proxy task started → listening', p50Ms: 1234.4, p95Ms: 1500, samples: 2 },
  ],
};

function results(realnode?: RealNodeColdStartResult, notRun: Record<string, string> = {}): BenchResults {
  return {
    version: 1, startedAt: '2026-11-29T20:24:40.587Z', finishedAt: '2026-11-29T20:54:00.718Z', quick: false, commit: '762e3fa',
    machine: { cpus: 2, cpuModel: 'test', memoryGiB: 24, node: 'v20', loadAverageAtStart: [1, 1, 1] },
    durationsSeconds: {}, sections: realnode ? { realnode } : {}, notRun,
  };
}

describe('the real-node cold start in the report', () => {
  it('docs/benchmarks.md: the run line, every phase with its owner and p50/p95, and the split', () => {
    const md = benchmarksMarkdown(results(REALNODE));
    const section = md.slice(md.indexOf('## Cold start on the real node'), md.indexOf('## Memory'));
    expect(section).toContain('2 cold starts on 2026-12-07 (17:20–17:25 UTC, commit `abc1234`');
    expect(section).toContain('kubelet v1.36.3, containerd v2.2.9, runc v1.4.4, cni v1.9.1');
    expect(section).toContain('| scheduled | kube-scheduler bound it (spec.nodeName) | control plane | 9 | 11 | 2 |');
    expect(section).toContain("| sandbox | the pause container's task started | node: kubelet, CNI, containerd, runc | 300 | 320 | 2 |");
    expect(section).toContain('| ours: queue-proxy task started → listening | 1,234 | 1,500 | 2 |');
  });

  it('the README section carries the run line and the split', () => {
    const readme = readmeSection(results(REALNODE));
    expect(readme).toContain('Cold start on the real node (kubelet, containerd, runc; phases in docs/benchmarks.md): 2 cold starts on 2026-12-07');
    expect(readme).toContain('| node: bound → pause task started (kubelet, CNI, containerd, runc) | 291 | 309 | 2 |');
  });

  it('says why there are no figures: not run, skipped, failed', () => {
    expect(benchmarksMarkdown(results(undefined, { realnode: 'left out by --only' }))).toContain('_Cold start on the real node not run: left out by --only._');
    expect(readmeSection(results({ skipped: 'needs root (network namespaces, cgroups, containerd)' }))).toContain('_Cold start on the real node skipped: needs root');
    expect(benchmarksMarkdown(results({ error: 'kubelet did not register\nstack' }))).toContain('_Cold start on the real node failed: kubelet did not register._');
  });
});
