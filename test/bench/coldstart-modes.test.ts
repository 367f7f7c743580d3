// The cold start per data-plane mode in the bench report (bench/coldstart/run.ts summarizes the
// samples by mode; bench/report/goals.ts judges the goal per mode; markdown.ts puts the modes side
// by side). The samples below are a made-up run, built from timelines the way the measurement
// writes them (mode activator without the queue-proxy's podReady event).
import { describe, expect, it } from 'vitest';
import { coldStartModes, type ColdStartResult, summarizeColdStarts } from '../../bench/coldstart/run';
import type { ColdStartMode, ColdStartSample } from '../../bench/coldstart/samples';
import { modeEvents, type Timeline, timelineProblems } from '../../bench/coldstart/timeline';
import { COLD_START_OVERHEAD_GOAL_MS, evaluateGoals } from '../../bench/report/goals';
import { coldStartText } from '../../bench/report/markdown';
import type { BenchResults } from '../../bench/results';

/** A sample whose events are `offsets` ms after the request (in the mode's event order). */
function sample(mode: ColdStartMode, offsets: readonly number[], appStartToReadyMs: number): ColdStartSample {
  const start = 5_000_000;
  const timeline = Object.fromEntries(modeEvents(mode).map((e, i) => [e, start + offsets[i]])) as Timeline;
  const requestToResponseMs = offsets.at(-1)! + 1;
  return { mode, requestToResponseMs, appStartToReadyMs, overheadMs: requestToResponseMs - appStartToReadyMs, pod: `${mode}-pod`, timeline, timelineProblems: timelineProblems(timeline, mode) };
}

// full: requestSent … appReady, podReady (queue-proxy 60 ms after the app), activatorLearned, firstByte
const full = [
  sample('full', [0, 3, 10, 20, 60, 120, 180, 240, 265, 300], 60),
  sample('full', [0, 3, 10, 20, 60, 120, 190, 250, 275, 320], 70),
  sample('full', [0, 3, 10, 20, 60, 120, 170, 230, 255, 290], 50),
];
// activator: no podReady; the activator learns 25 ms after the app is ready
const activator = [
  sample('activator', [0, 3, 10, 20, 60, 120, 180, 205, 215], 60),
  sample('activator', [0, 3, 10, 20, 60, 120, 190, 215, 225], 70),
  sample('activator', [0, 3, 10, 20, 60, 120, 170, 195, 205], 50),
];

function results(coldstart: ColdStartResult | undefined, notRun: Record<string, string> = {}): BenchResults {
  return {
    version: 1, startedAt: '', finishedAt: '', quick: true, commit: 'x', durationsSeconds: {}, notRun,
    machine: { cpus: 2, cpuModel: 'x', memoryGiB: 1, node: 'v', loadAverageAtStart: [0, 0, 0] },
    sections: { coldstart },
  } as BenchResults;
}

const coldGoals = (r: BenchResults) => evaluateGoals(r).filter((g) => g.goal.startsWith('cold-start overhead'));

describe('cold-start samples summarized per mode', () => {
  const summary = summarizeColdStarts([full[0], activator[0], activator[1], full[1], full[2], activator[2]]);

  it('gives each mode its own samples and figures, in the order of COLD_START_MODES', () => {
    expect(summary.modes!.map((m) => [m.mode, m.samples.length])).toEqual([['full', 3], ['activator', 3]]);
    const [f, a] = summary.modes!;
    expect(f.overheadP50Ms).toBe(241); // 301-60, 321-70, 291-50
    expect(a.overheadP50Ms).toBe(156); // 216-60, 226-70, 206-50
    expect(a.overheadP95Ms).toBe(156);
    expect(f.appStartToReadyP50Ms).toBe(60);
  });

  it('has the queue-proxy hop in mode full only; in mode activator it is absent, not 0', () => {
    const [f, a] = summary.modes!;
    expect(f.hops!.find((h) => h.to === 'podReady')).toMatchObject({ from: 'appReady', medianMs: 60, samples: 3 });
    expect(a.hops!.some((h) => h.to === 'podReady' || h.from === 'podReady')).toBe(false);
    expect(a.hops!.find((h) => h.to === 'activatorLearned')).toMatchObject({ from: 'appReady', medianMs: 25 });
    expect(summary.modes!.every((m) => m.samples.every((s) => s.timelineProblems!.length === 0))).toBe(true);
  });

  it('a sample without a mode (written before the modes) counts as full; no samples is a skip', () => {
    const { mode: _, ...old } = full[0];
    expect(summarizeColdStarts([old]).modes!.map((m) => m.mode)).toEqual(['full']);
    expect(summarizeColdStarts([], 'boom').skipped).toMatch(/no sample was measured: boom/);
  });
});

describe('the cold-start goal, judged per mode', () => {
  it('says which mode meets it', () => {
    const goals = coldGoals(results(summarizeColdStarts([...full, ...activator])));
    expect(goals.map((g) => [g.goal, g.verdict])).toEqual([
      [`cold-start overhead p50 ≤ ${COLD_START_OVERHEAD_GOAL_MS} ms, mode full`, 'missed'],
      [`cold-start overhead p50 ≤ ${COLD_START_OVERHEAD_GOAL_MS} ms, mode activator`, 'missed'],
    ]);
    const faster = activator.map((s) => ({ ...s, overheadMs: s.overheadMs - 20 }));
    const verdicts = coldGoals(results(summarizeColdStarts([...full, ...faster]))).map((g) => g.verdict);
    expect(verdicts).toEqual(['missed', 'met']);
    expect(coldGoals(results(summarizeColdStarts([...full, ...faster])))[1].measured).toBe('136 ms (p95 136 ms, 3 samples)');
  });

  it('is not measured for a mode without samples, or when the section did not run', () => {
    expect(coldGoals(results(summarizeColdStarts(full))).map((g) => g.verdict)).toEqual(['missed', 'not measured']);
    expect(coldGoals(results(summarizeColdStarts(full)))[1].measured).toBe('no activator sample');
    const notRun = coldGoals(results(undefined, { coldstart: 'left out by --only' }));
    expect(notRun.map((g) => [g.verdict, g.measured])).toEqual([['not measured', 'left out by --only'], ['not measured', 'left out by --only']]);
  });

  it('reads results written before the modes as mode full', () => {
    const before = { samples: full, overheadP50Ms: 241, overheadP95Ms: 271 } as unknown as ColdStartResult;
    expect(coldStartModes(before).map((m) => [m.mode, m.overheadP50Ms])).toEqual([['full', 241]]);
    expect(coldGoals(results(before)).map((g) => g.verdict)).toEqual(['missed', 'not measured']);
  });
});

describe('the cold-start section of the report', () => {
  const text = coldStartText(results(summarizeColdStarts([...full, ...activator])));
  const lines = text.split('\n');

  it('has a row per mode with its overhead and verdict', () => {
    expect(lines.find((l) => l.startsWith('| full |'))).toMatch(/^\| full \| 3 \| 241 \| 251 \| 301 \| 60 \| \*\*missed\*\* \|$/);
    expect(lines.find((l) => l.startsWith('| activator |'))).toMatch(/^\| activator \| 3 \| 156 \| 156 \| 216 \| 60 \| \*\*missed\*\* \|$/);
  });

  it('puts the modes\' hops side by side, a hop a mode lacks marked absent', () => {
    const header = lines.find((l) => l.startsWith('| hop |'))!;
    expect(header).toBe('| hop | whose | full median ms | full share | full samples | activator median ms | activator share | activator samples |');
    const columns = (l: string) => l.split('|').length;
    const hopRows = lines.filter((l) => /^\| \w+ → \w+ \|/.test(l));
    expect(hopRows.every((l) => columns(l) === columns(header))).toBe(true);
    expect(hopRows.find((l) => l.startsWith('| appReady → podReady |'))).toMatch(/\| 60 \| [\d.]+ % \| 3 \| absent \| absent \| – \|$/);
    expect(hopRows.find((l) => l.startsWith('| appReady → activatorLearned |'))).toMatch(/\| absent \| absent \| – \| 25 \| [\d.]+ % \| 3 \|$/);
    expect(hopRows.find((l) => l.startsWith('| activatorLearned → firstByte |'))).toContain('full: activator → queue-proxy → app; activator: activator → app');
    // in event order: the queue-proxy hop, then the two ways to the activator learning
    expect(hopRows.map((l) => l.split(' | ')[0].slice(2))).toEqual([
      'requestSent → poked', 'poked → decided', 'decided → scaleWritten', 'scaleWritten → podCreated', 'podCreated → processStarted', 'processStarted → appReady',
      'appReady → podReady', 'appReady → activatorLearned', 'podReady → activatorLearned', 'activatorLearned → firstByte',
    ]);
  });

  it('names a mode that was not measured', () => {
    const only = coldStartText(results(summarizeColdStarts(full))).split('\n');
    expect(only.find((l) => l.startsWith('| activator |'))).toBe('| activator | 0 | not measured | | | | |');
  });
});
