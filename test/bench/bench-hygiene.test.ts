// The benchmark's own rules (bench/), cheap enough for npm test: which runs may rewrite the
// published report, and that the synthesis baseline still builds what the compiler synthesizes.
import { describe, expect, it } from 'vitest';
import { parseOptions, RESULTS_FILES, runOutputs } from '../../bench/options';
import { checkEquivalence, firstDifference } from '../../bench/synthesis/run';

describe('which bench runs rewrite docs/benchmarks.md, the charts and the README', () => {
  const outputs = (...argv: string[]) => runOutputs(parseOptions(argv));

  it('a full run writes latest.json and the reports', () => {
    expect(outputs()).toEqual({ resultsFile: RESULTS_FILES.full, writeReports: true });
  });

  it('a quick run writes only its own results file', () => {
    const o = outputs('--quick');
    expect(o.writeReports).toBe(false);
    expect(o.resultsFile).toBe(RESULTS_FILES.quick);
    expect(o.resultsFile).not.toBe(RESULTS_FILES.full);
    expect(o.reportsLeftAloneBecause).toMatch(/quick/);
  });

  it('a partial run (--only), quick or not, writes only partial.json', () => {
    for (const argv of [['--only=coldstart'], ['--quick', '--only=dataplane,memory']]) {
      expect(outputs(...argv)).toMatchObject({ resultsFile: RESULTS_FILES.partial, writeReports: false });
    }
  });

  it('--report re-renders the reports from latest.json', () => {
    expect(outputs('--report')).toEqual({ resultsFile: RESULTS_FILES.full, writeReports: true });
  });
});

describe('the synthesis baseline', () => {
  it('builds exactly the objects our constructs synthesize', () => {
    expect(checkEquivalence(2).equal).toBe(true);
  });

  // checkEquivalence throws BaselineMismatchError with this path; here, that the path is the first field that differs.
  it('a difference is named by the first field that differs', () => {
    expect(firstDifference({ spec: { replicas: 1, a: [1, 2] } }, { spec: { a: [1, 3] } })).toBe('spec.a[1]');
    expect(firstDifference({ x: 1 }, { x: 1 })).toBe('');
  });
});
