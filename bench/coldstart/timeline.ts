/**
 * The cold-start timeline: when each step of one cold start happened (epoch ms, one machine clock),
 * from the client, a pod watch, the node agent and the runtime's own JSON log lines (pino `time`).
 * Each hop is the time between two consecutive events of the revision's data-plane mode (a mode
 * without a step, like `activator` without a queue-proxy, has no such event: the hop before it
 * runs to the next event); the report gives each hop's share of the request-to-first-byte time,
 * median over the samples.
 */
import { median, round } from '../lib/stats';
import type { ColdStartMode } from './samples';

/** The events in the order a cold start passes them (every mode's; see MODE_LACKS). */
export const TIMELINE_EVENTS = [
  'requestSent', // the client sends the request to an activator pod
  'poked', // the activator pokes the autoscaler ('autoscaler poked')
  'decided', // the autoscaler decides on the poke ('decided on a poke')
  'scaleWritten', // the autoscaler's scale write returned ('scaled', to > 0)
  'podCreated', // a pod watch sees the revision's new pod (ADDED)
  'processStarted', // the node agent starts the user container's process
  'appReady', // test-app's `ready <epoch ms>` line
  'podReady', // the app ready and the pod's queue-proxy listening ('listening'), whichever is later
  'activatorLearned', // the activator has a usable pod ('usable pods changed', pods > 0)
  'firstByte', // the response's status line reaches the client
] as const;
export type TimelineEvent = (typeof TIMELINE_EVENTS)[number];
export type Timeline = Partial<Record<TimelineEvent, number>>;

/** Events a mode does not have: mode `activator` runs no queue-proxy, so it has no queue-proxy start. */
const MODE_LACKS: Readonly<Record<ColdStartMode, readonly TimelineEvent[]>> = {
  full: [],
  activator: ['podReady'],
};

/** The events of one mode's cold start, in order. */
export function modeEvents(mode: ColdStartMode): TimelineEvent[] {
  return TIMELINE_EVENTS.filter((e) => !MODE_LACKS[mode].includes(e));
}

/** Which part of the system each hop (named by the event that ends it) belongs to. */
const HOP_OWNER: Readonly<Record<Exclude<TimelineEvent, 'requestSent'>, string>> = {
  poked: 'activator',
  decided: 'autoscaler (poke handling)',
  scaleWritten: 'autoscaler → API server',
  podCreated: 'Kubernetes (Deployment/ReplicaSet controllers)',
  processStarted: 'node (sandbox, container start)',
  appReady: 'the app',
  podReady: 'queue-proxy start, beyond the app\'s',
  activatorLearned: 'activator (probing)',
  firstByte: 'activator → queue-proxy → app',
};

/** The owner of the hop ending at `to` in `mode` (mode activator proxies to the app itself). */
export function hopOwner(to: Exclude<TimelineEvent, 'requestSent'>, mode: ColdStartMode): string {
  return mode === 'activator' && to === 'firstByte' ? 'activator → app' : HOP_OWNER[to];
}

export interface HopSummary {
  readonly from: TimelineEvent;
  readonly to: TimelineEvent;
  readonly owner: string;
  /** Median over the samples that have both events. */
  readonly medianMs?: number;
  /** Median over the samples of (hop / request-to-first-byte), in percent. */
  readonly medianSharePercent?: number;
  readonly samples: number;
}

interface LogLine {
  readonly time?: string;
  readonly msg?: string;
  readonly namespace?: string;
  readonly revision?: string;
  readonly to?: number;
  /** The activator's count of usable pods ('usable pods changed'). */
  readonly pods?: number;
}

/**
 * The runtime's events for one revision from pino JSON lines (any mix of activator and autoscaler
 * logs): the first of each kind at or after `sinceMs`. Other lines (and non-JSON lines) are skipped.
 */
export function eventsFromLogs(text: string, namespace: string, revision: string, sinceMs: number): Timeline {
  const found: Timeline = {};
  const keep = (event: TimelineEvent, at: number) => {
    if (at >= sinceMs && (found[event] === undefined || at < found[event]!)) found[event] = at;
  };
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      continue;
    }
    if (line.namespace !== namespace || line.revision !== revision || !line.time) continue;
    const at = Date.parse(line.time);
    if (Number.isNaN(at)) continue;
    if (line.msg === 'autoscaler poked') keep('poked', at);
    else if (line.msg === 'decided on a poke') keep('decided', at);
    else if (line.msg === 'scaled' && (line.to ?? 0) > 0) keep('scaleWritten', at);
    else if (line.msg === 'usable pods changed' && (line.pods ?? 0) > 0) keep('activatorLearned', at);
  }
  return found;
}

/** The first 'listening' line of a queue-proxy log (pino JSON), epoch ms. */
export function queueProxyListeningAt(text: string): number | undefined {
  for (const raw of text.split('\n')) {
    if (!raw.includes('"msg":"listening"')) continue;
    try {
      const at = Date.parse((JSON.parse(raw) as LogLine).time ?? '');
      if (!Number.isNaN(at)) return at;
    } catch {
      // not a JSON line
    }
  }
  return undefined;
}

/** Each hop between consecutive events of `mode`, median ms and median share of request → first byte. */
export function summarizeHops(timelines: readonly Timeline[], mode: ColdStartMode): HopSummary[] {
  const events = modeEvents(mode);
  const hops: HopSummary[] = [];
  for (let i = 1; i < events.length; i++) {
    const from = events[i - 1];
    const to = events[i] as Exclude<TimelineEvent, 'requestSent'>;
    const ms: number[] = [];
    const shares: number[] = [];
    for (const t of timelines) {
      const a = t[from];
      const b = t[to];
      if (a === undefined || b === undefined) continue;
      ms.push(b - a);
      const total = (t.firstByte ?? NaN) - (t.requestSent ?? NaN);
      if (total > 0) shares.push(((b - a) / total) * 100);
    }
    hops.push({
      from,
      to,
      owner: hopOwner(to, mode),
      medianMs: ms.length ? round(median(ms), 1) : undefined,
      medianSharePercent: shares.length ? round(median(shares), 1) : undefined,
      samples: ms.length,
    });
  }
  return hops;
}

/**
 * Events of `mode` missing from a timeline or out of order (a clock or parsing problem worth
 * reporting), and events the mode cannot have but that were recorded.
 */
export function timelineProblems(t: Timeline, mode: ColdStartMode): string[] {
  const problems: string[] = MODE_LACKS[mode].filter((e) => t[e] !== undefined).map((e) => `${e} recorded, but mode ${mode} has none`);
  let last: { event: TimelineEvent; at: number } | undefined;
  for (const event of modeEvents(mode)) {
    const at = t[event];
    if (at === undefined) {
      problems.push(`${event} missing`);
      continue;
    }
    if (last && at < last.at) problems.push(`${event} ${last.at - at} ms before ${last.event}`);
    last = { event, at };
  }
  return problems;
}
