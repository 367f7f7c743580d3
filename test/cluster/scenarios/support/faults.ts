// Fault injection and observation for the hostile-fault scenarios: cutting one pod off from the
// API server, reading the runtime's own /metrics and leader-election log lines, and user images
// that crash while starting.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ports } from '../../../../lib/contract/constants';
import { findSample, parsePromText, type Sample } from '../../../../lib/runtime/shared/prom-text';
import { TEST_APP, testAppImage, type ImageRule } from '../../node-agent/images';
import { httpGet } from './http';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** The named network namespace a process runs in (a pod container's, for the node agent). */
export async function netnsOf(pid: number): Promise<string> {
  const name = (await ip('netns', 'identify', String(pid))).trim();
  if (!name) throw new Error(`process ${pid} is in no named network namespace`);
  return name;
}

/** Rule priority of the cut-off: before the main table (32766), after the local one (0). */
const CUT_OFF_PREF = '100';

/**
 * Cuts a pod off from the API server and returns the function that heals the cut. There is no
 * nft or iptables on the test machines, so this is policy routing (iproute2, kernel >= 4.17): in
 * the pod's namespace, TCP to the API server's address and port goes to a blackhole, where
 * local senders get EINVAL and nothing reaches the server. Everything else keeps flowing:
 * probes from the node, scrapes and pokes between pods, the pod's own serving.
 */
export async function cutOffFromApi(netns: string, apiServerUrl: string): Promise<() => Promise<void>> {
  const { hostname, port } = new URL(apiServerUrl);
  await ip('-n', netns, 'rule', 'add', 'pref', CUT_OFF_PREF, 'to', hostname, 'ipproto', 'tcp', 'dport', port, 'blackhole');
  return async () => {
    await ip('-n', netns, 'rule', 'del', 'pref', CUT_OFF_PREF);
  };
}

/** Rule priority of the silenced port (a pod may also be cut off from the API at CUT_OFF_PREF). */
const SILENCE_PREF = '101';

/**
 * Makes one TCP port of a pod stop answering and returns the function that heals it: in the pod's
 * network namespace, every packet the pod sends from that port goes to a blackhole (policy
 * routing, as cutOffFromApi). Requests still arrive and the process keeps running and serving its
 * other ports; no reply gets out, so clients of the port wait until their own deadline. Adding the
 * rule flushes the routing cache, so connections already open (kept alive) are silenced too.
 */
export async function silencePort(netns: string, port: number): Promise<() => Promise<void>> {
  await ip('-n', netns, 'rule', 'add', 'pref', SILENCE_PREF, 'ipproto', 'tcp', 'sport', String(port), 'blackhole');
  return async () => {
    await ip('-n', netns, 'rule', 'del', 'pref', SILENCE_PREF);
  };
}

/** One scrape of a runtime component's /metrics (activator and autoscaler serve it on 9090). */
export async function scrape(podIP: string, port: number = Ports.QUEUE_METRICS): Promise<Sample[]> {
  const r = await httpGet(`http://${podIP}:${port}/metrics`, { timeoutMs: 2000 });
  if (r.status !== 200) throw new Error(`${podIP}:${port}/metrics answered ${r.status}`);
  return parsePromText(r.body);
}

export async function metricValue(podIP: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return findSample(await scrape(podIP), name, labels);
}

/** Requests an activator holds or proxies for one revision, from its own gauges. */
export async function activatorLoad(podIP: string, namespace: string, revision: string): Promise<{ queued: number; inFlight: number }> {
  const samples = await scrape(podIP);
  const labels = { namespace, revision };
  return {
    queued: findSample(samples, 'activator_queue_depth', labels) ?? 0,
    inFlight: findSample(samples, 'activator_in_flight', labels) ?? 0,
  };
}

export interface LeadershipChange {
  readonly at: number;
  readonly identity: string;
  readonly leading: boolean;
}

/** `became leader` / `stopped leading` lines of an autoscaler's JSON log, in order. */
export function leadershipChanges(logFile: string): LeadershipChange[] {
  const changes: LeadershipChange[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue; // the node agent's own "--- start" lines
    const entry = JSON.parse(line) as { time?: string; identity?: string; msg?: string };
    if (entry.msg !== 'became leader' && entry.msg !== 'stopped leading') continue;
    changes.push({ at: Date.parse(entry.time ?? ''), identity: entry.identity ?? '', leading: entry.msg === 'became leader' });
  }
  return changes;
}

export interface LeadershipInterval {
  readonly identity: string;
  readonly from: number;
  /** Infinity while still leading. */
  readonly to: number;
}

/** The periods each replica believed it led, from its own log. */
export function leadershipIntervals(changes: readonly LeadershipChange[]): LeadershipInterval[] {
  const intervals: LeadershipInterval[] = [];
  const open = new Map<string, number>();
  for (const c of [...changes].sort((a, b) => a.at - b.at)) {
    const from = open.get(c.identity);
    if (c.leading && from === undefined) open.set(c.identity, c.at);
    if (!c.leading && from !== undefined) {
      intervals.push({ identity: c.identity, from, to: c.at });
      open.delete(c.identity);
    }
  }
  for (const [identity, from] of open) intervals.push({ identity, from, to: Infinity });
  return intervals;
}

/** Pairs of intervals of different replicas that overlap in time: a split brain. */
export function overlappingLeaders(intervals: readonly LeadershipInterval[]): Array<[LeadershipInterval, LeadershipInterval]> {
  const overlaps: Array<[LeadershipInterval, LeadershipInterval]> = [];
  for (const [i, a] of intervals.entries()) {
    for (const b of intervals.slice(i + 1)) {
      if (a.identity !== b.identity && a.from < b.to && b.from < a.to) overlaps.push([a, b]);
    }
  }
  return overlaps;
}

/**
 * User images that crash during start-up, before they ever listen (the pod never gets ready):
 * `always` exits every time; `once` exits on each pod's first start only and runs test-app.mjs
 * when the node agent restarts the container, like an app that loses a race with a dependency.
 */
export interface CrashingImages {
  readonly rules: ImageRule[];
  /** Removes the marker files of `once`. */
  cleanup(): void;
}

/** How long the crashing app lives before it exits (it has started, it is not ready yet). */
const CRASH_AFTER_MS = 300;

export function crashingImages(images: { always: string; once: string }): CrashingImages {
  const markers = mkdtempSync(join(tmpdir(), 'kservice-crash-once-'));
  const crash = `setTimeout(() => { console.error('crashing during start-up'); process.exit(3); }, ${CRASH_AFTER_MS});`;
  // HOSTNAME is the pod name (the agent sets it), so the marker is per pod, kept across restarts.
  const once = [
    `const fs = require('node:fs'); const marker = ${JSON.stringify(markers)} + '/' + process.env.HOSTNAME;`,
    `if (fs.existsSync(marker)) import(${JSON.stringify(TEST_APP)});`,
    `else { fs.writeFileSync(marker, ''); ${crash} }`,
  ].join('\n');
  const rule = (image: string, script: string, description: string): ImageRule => ({
    ...testAppImage(image),
    description,
    command: () => ({ command: process.execPath, args: ['-e', script] }),
  });
  return {
    rules: [
      rule(images.always, crash, `crashing image ${images.always} -> exits ${CRASH_AFTER_MS}ms after every start`),
      rule(images.once, once, `crashing image ${images.once} -> exits on a pod's first start, then test-app.mjs`),
    ],
    cleanup: () => {
      if (existsSync(markers)) rmSync(markers, { recursive: true, force: true });
    },
  };
}
