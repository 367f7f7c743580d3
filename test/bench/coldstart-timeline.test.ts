// The cold-start timeline of the bench (bench/coldstart/timeline.ts): which runtime log lines make
// which event, and how hops and their shares are summarized per data-plane mode (mode activator
// has no queue-proxy, so no podReady event: its hops skip it, and it is never counted as 0).
import { describe, expect, it } from 'vitest';
import { COLD_START_MODES } from '../../bench/coldstart/samples';
import { eventsFromLogs, modeEvents, queueProxyListeningAt, summarizeHops, TIMELINE_EVENTS, timelineProblems, type Timeline } from '../../bench/coldstart/timeline';

const at = (ms: number) => new Date(ms).toISOString();
const line = (ms: number, msg: string, extra: Record<string, unknown> = {}) => JSON.stringify({ level: 'info', time: at(ms), namespace: 'bench', revision: 'cold-00001', msg, ...extra });

describe('eventsFromLogs', () => {
  const T = Date.parse('2026-11-29T17:00:00.000Z');
  const logs = [
    line(T - 5000, 'usable pods changed', { pods: 1 }), // an earlier cold start
    line(T - 10, 'autoscaler poked'), // before the request: not this sample
    'not json at all',
    '{"broken json',
    line(T + 3, 'autoscaler poked', { autoscalers: 1 }),
    line(T + 9, 'decided on a poke', { desiredPods: 1, valid: true }),
    line(T + 30, 'scaled', { from: 0, to: 1 }),
    line(T + 900, 'usable pods changed', { pods: 0 }),
    line(T + 1200, 'usable pods changed', { pods: 1 }),
    line(T + 1300, 'usable pods changed', { pods: 2 }),
    line(T + 20, 'scaled', { from: 1, to: 0 }), // a scale to zero is not the scale write we want
    JSON.stringify({ time: at(T + 4), namespace: 'bench', revision: 'other-00001', msg: 'autoscaler poked' }),
  ].join('\n');

  it('takes the first matching line of each kind at or after the request, for this revision only', () => {
    expect(eventsFromLogs(logs, 'bench', 'cold-00001', T)).toEqual({ poked: T + 3, decided: T + 9, scaleWritten: T + 30, activatorLearned: T + 1200 });
  });

  it('finds nothing for another namespace', () => {
    expect(eventsFromLogs(logs, 'other', 'cold-00001', T)).toEqual({});
  });
});

describe('summarizeHops', () => {
  const timeline = (offsets: readonly number[], start = 1_000_000): Timeline =>
    Object.fromEntries(TIMELINE_EVENTS.map((e, i) => [e, start + offsets[i]])) as Timeline;

  it('gives each hop between consecutive events its median ms and median share of request → first byte', () => {
    const a = timeline([0, 5, 10, 40, 140, 440, 840, 840, 940, 1000]); // total 1000
    const b = timeline([0, 5, 20, 60, 160, 460, 1800, 1860, 1900, 2000]); // total 2000
    const c = timeline([0, 3, 9, 30, 130, 330, 700, 730, 830, 900]); // total 900
    const hops = summarizeHops([a, b, c], 'full');
    expect(hops.map((h) => `${h.from}→${h.to}`)).toEqual(TIMELINE_EVENTS.slice(1).map((to, i) => `${TIMELINE_EVENTS[i]}→${to}`));
    const learn = hops.find((h) => h.to === 'activatorLearned')!;
    expect(learn.medianMs).toBe(100); // 100, 40, 100
    expect(learn.medianSharePercent).toBe(10); // 10 %, 2 %, 11.1 %
    expect(learn.owner).toMatch(/activator/);
    expect(hops.find((h) => h.to === 'podReady')!.medianMs).toBe(30); // 0, 60, 30
    expect(hops.every((h) => h.samples === 3)).toBe(true);
  });

  it('leaves a hop out of a sample missing one of its events', () => {
    const partial = { ...timeline([0, 5, 10, 40, 140, 440, 840, 840, 940, 1000]) };
    delete partial.decided;
    const hops = summarizeHops([partial], 'full');
    expect(hops.find((h) => h.to === 'decided')).toMatchObject({ samples: 0, medianMs: undefined });
    expect(hops.find((h) => h.to === 'scaleWritten')).toMatchObject({ samples: 0 });
    expect(hops.find((h) => h.to === 'podCreated')).toMatchObject({ samples: 1, medianMs: 100 });
  });
});

describe('the modes that scale from zero', () => {
  it('are full and activator, from the contract (direct and static do not scale from zero)', () => {
    expect(COLD_START_MODES).toEqual(['full', 'activator']);
  });

  it('mode activator has every event but the queue-proxy\'s', () => {
    expect(modeEvents('full')).toEqual([...TIMELINE_EVENTS]);
    expect(modeEvents('activator')).toEqual(TIMELINE_EVENTS.filter((e) => e !== 'podReady'));
  });
});

describe('summarizeHops in mode activator', () => {
  // requestSent, poked, decided, scaleWritten, podCreated, processStarted, appReady, activatorLearned, firstByte
  const timeline = (offsets: readonly number[], start = 2_000_000): Timeline =>
    Object.fromEntries(modeEvents('activator').map((e, i) => [e, start + offsets[i]])) as Timeline;
  const hops = summarizeHops([timeline([0, 5, 10, 40, 140, 440, 500, 530, 600]), timeline([0, 5, 10, 40, 140, 440, 520, 540, 800])], 'activator');

  it('goes from the app\'s ready line straight to the activator learning: no queue-proxy hop, not even a zero one', () => {
    expect(hops.map((h) => `${h.from}→${h.to}`)).toContain('appReady→activatorLearned');
    expect(hops.some((h) => h.from === 'podReady' || h.to === 'podReady')).toBe(false);
    const learn = hops.find((h) => h.to === 'activatorLearned')!;
    expect(learn.medianMs).toBe(25); // 30, 20
    expect(learn.owner).toMatch(/activator \(probing\)/);
    expect(learn.samples).toBe(2);
  });

  it('names the last hop activator → app (no queue-proxy in between)', () => {
    const last = hops.at(-1)!;
    expect(last).toMatchObject({ from: 'activatorLearned', to: 'firstByte', owner: 'activator → app', medianMs: 165 });
    expect(summarizeHops([timeline([0, 5, 10, 40, 140, 440, 500, 530, 600])], 'full').at(-1)!.owner).toBe('activator → queue-proxy → app');
  });

  it('the hops of a complete sample add up to request → first byte', () => {
    const one = summarizeHops([timeline([0, 5, 10, 40, 140, 440, 500, 530, 600])], 'activator');
    expect(one.reduce((sum, h) => sum + h.medianMs!, 0)).toBe(600);
    expect(one.reduce((sum, h) => sum + h.medianSharePercent!, 0)).toBeCloseTo(100, 6);
  });
});

describe('queueProxyListeningAt', () => {
  it('reads the time of the queue-proxy\'s first listening line', () => {
    const log = ['garbage', '{"msg":"listening", broken', line(1_000, 'listening'), line(2_000, 'listening')].join('\n');
    expect(queueProxyListeningAt(log)).toBe(1_000);
    expect(queueProxyListeningAt('{"msg":"other"}')).toBeUndefined();
  });
});

describe('timelineProblems', () => {
  it('names missing events and events out of order', () => {
    expect(timelineProblems({ requestSent: 10, poked: 12, decided: 11 }, 'full')).toEqual([
      'decided 1 ms before poked',
      ...TIMELINE_EVENTS.slice(3).map((e) => `${e} missing`),
    ]);
  });

  it('does not miss the queue-proxy in mode activator, and names a queue-proxy event recorded there', () => {
    const complete = Object.fromEntries(modeEvents('activator').map((e, i) => [e, 100 + i])) as Timeline;
    expect(timelineProblems(complete, 'activator')).toEqual([]);
    expect(timelineProblems(complete, 'full')).toEqual(['podReady missing']);
    expect(timelineProblems({ ...complete, podReady: 106 }, 'activator')).toEqual(['podReady recorded, but mode activator has none']);
  });
});
