/**
 * The scale section: the real autoscaler processes (HEAD's runtime bundled as dist-runtime is, ./runtime.ts) against a fake API
 * server (./fake-api-server.ts, in this process) and fake pods and activators (./fake-pods.ts, a
 * child process), all on loopback, no cluster. For each N revisions of 10 pods and each replica
 * count it measures from outside: scrapes per replica (each replica scrapes its own port),
 * CPU and RSS per replica from /proc, each pod's scrape rate, every revision's sample rate, API
 * requests. The replicas run as deployed by default: revisions hashed into SCALE_BUCKETS buckets,
 * one Lease each, and cluster-wide label-selected watches. Then one activator is replaced and the
 * rewrite of every public Endpoints object is timed and counted at the API server, with one
 * replica and with the most (each writing the revisions of its buckets). Last, a real activator with many
 * registered revisions serves its stats page (./activator-page.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SYSTEM_NAMESPACE, SystemEnv } from '../../lib/contract/constants';
import { autoscalerBucketLeases, Names } from '../../lib/contract/naming';
import { sampleSize } from '../../lib/runtime/autoscaler/scraper';
import { WriteQueueDefaults } from '../../lib/runtime/kube/work-queue';
import { type Child, isAlive, startChild } from '../lib/children';
import { freePort, LOOPBACK, sleep } from '../lib/net';
import { cpuSeconds, rssMiB } from '../lib/procfs';
import { round } from '../lib/stats';
import type { BenchOptions } from '../options';
import { type ActivatorPageResult, measureActivatorPage } from './activator-page';
import { FakeApiServer, type KubeObject } from './fake-api-server';
import { type Bundle, bundleHead, startBundledRuntime } from './runtime';
import { measureScrapeCost, SCRAPE_CLIENTS, type ScrapeCostRun } from './scrape-cost';
import { activatorIp, listsActivators, namespaceOf, PODS_PER_REVISION, populate, revisionName, setActivators } from './topology';

export interface ScaleOptions {
  readonly revisions: readonly number[];
  readonly replicas: readonly number[];
  readonly windowSeconds: number;
  /** Registered revisions of the activator-page runs (50 active each). */
  readonly pageRevisions: readonly number[];
  /** Also replace an activator while the one replica scrapes every revision (else only with scrapes off). */
  readonly replacementUnderScrapeLoad: boolean;
}

export interface ReplicaFigures {
  readonly identity: string;
  /** Holds at least one bucket (before buckets: held the one Lease). */
  readonly leader: boolean;
  /** Bucket Leases held at the end of the window (absent in results from before buckets). */
  readonly buckets?: number;
  readonly podScrapesPerSecond: number;
  readonly activatorScrapesPerSecond: number;
  /** CPU time per second of wall time (1 = one core). */
  readonly cpuCores: number;
  readonly rssMiB: number;
  /** Process start → its log line `informers synced`. */
  readonly syncSeconds: number;
  /** `too few pods answered for a full sample` warnings (one per revision each time it starts failing). */
  readonly unsampledWarnings: number;
}

export interface ScaleRun {
  readonly revisions: number;
  readonly pods: number;
  readonly replicas: number;
  readonly windowSeconds: number;
  /** Pod scrapes per second one replica must make to sample every revision every second. */
  readonly scrapesNeededPerReplica: number;
  readonly perReplica: readonly ReplicaFigures[];
  /** Scrapes per second each pod received from all replicas: max and mean over pods. */
  readonly podScrapeRate: { readonly max: number; readonly mean: number };
  /** Samples per second per revision of the replica that sampled most (pod scrapes ÷ sample size): min and mean over revisions. */
  readonly revisionSampleRate: { readonly min: number; readonly mean: number };
  /** Non-watch API requests per second in the window (steady state), and writes among them. */
  readonly apiRequestsPerSecond: number;
  readonly apiWritesInWindow: number;
  readonly fakePodsCpuCores: number;
}

export interface ReplacementRun {
  readonly revisions: number;
  /** Autoscaler replicas, each writing the revisions of its buckets (absent in results from before buckets: 1). */
  readonly replicas?: number;
  /** Per replica identity: bucket Leases held, and its API writes but Lease requests (Endpoints writes here). */
  readonly perReplica?: ReadonlyArray<{ readonly identity: string; readonly buckets: number; readonly writes: number }>;
  /** false: the replica's scrapes were made rare (AUTOSCALER_SCRAPE_MS), measuring the write path alone. */
  readonly scraping: boolean;
  readonly changedObjects: number;
  readonly workers: number;
  readonly qps: number;
  readonly burst: number;
  /** Write requests to public Endpoints, including those answered 409. */
  readonly writes: number;
  readonly maxWritesPerObject: number;
  /** Writes answered 409 Conflict (written from a cache that had not seen the previous write yet). */
  readonly conflicts?: number;
  readonly writeLatencyMs?: number;
  /** Every API request but the watches. */
  readonly peakConcurrentRequests: number;
  /** Without the Lease requests of leader election, which do not go through the write queue. */
  readonly peakConcurrentRequestsWithoutLeases?: number;
  readonly peakRequestsPerSecond: number;
  readonly meanRequestsPerSecond: number;
  /** Activator Endpoints changed → last stale public Endpoints written; undefined: not within the timeout. */
  readonly convergedSeconds?: number;
  readonly boundSeconds: number;
  readonly timeoutSeconds: number;
  readonly requestsByVerb: Readonly<Record<string, number>>;
  /** The host's conntrack table at the end (absent when unreadable, and in older results): at its max, new connections were dropped. */
  readonly conntrackAtEnd?: { readonly count: number; readonly max: number };
}

export interface ScaleResult {
  readonly skipped?: string;
  readonly runtime?: string;
  /** When and under which load this section ran (it may be merged into a results file of another run). */
  readonly measured?: { readonly startedAt: string; readonly finishedAt: string; readonly loadAverageAtStart: readonly number[]; readonly loadAverageAtEnd: readonly number[] };
  readonly options?: ScaleOptions;
  readonly runs: readonly ScaleRun[];
  readonly replacements: readonly ReplacementRun[];
  readonly activatorPages: readonly ActivatorPageResult[];
  /** CPU per pod scrape of the working tree's collector in the bench process, kept-alive and closing connections (./scrape-cost.ts; absent in older results). */
  readonly scrapeCost?: readonly ScrapeCostRun[];
  /** What cannot be measured from outside the processes, with the reason. */
  readonly notObservable: Readonly<Record<string, string>>;
  readonly errors: readonly string[];
}

export const SCALE_OPTIONS = {
  full: { revisions: [1000, 10_000], replicas: [1, 2, 4], windowSeconds: 15, pageRevisions: [2000, 20_000], replacementUnderScrapeLoad: true },
  quick: { revisions: [1000], replicas: [1, 2], windowSeconds: 8, pageRevisions: [20_000], replacementUnderScrapeLoad: false },
} as const satisfies Record<string, ScaleOptions>;

/** Active revisions of the activator-page runs (issue 18's goal). */
export const PAGE_ACTIVE_REVISIONS = 50;
/** The write queue's rate in the replacement runs (KUBE_API_QPS / KUBE_API_BURST, read by the autoscaler): the defaults (10/20) would take 1,000 s for 10,000 objects. */
export const REPLACEMENT_QPS = 100;
export const REPLACEMENT_BURST = 200;
/**
 * AUTOSCALER_BUCKETS in every run, whatever the replica count, so the runs differ only in
 * replicas: 12 splits evenly over 1, 2, 3, 4 and 6 replicas (each holds B ÷ R buckets), and is
 * more than any replica count measured, so every replica has work. The Lease names are the
 * runtime's own (lib/contract/naming.ts autoscalerBucketLeases).
 */
export const SCALE_BUCKETS = 12;
const BUCKET_LEASES = autoscalerBucketLeases(SCALE_BUCKETS);
const ACTIVATORS = [0, 1].map(activatorIp);
/** The second activator replaced by a third. */
const REPLACED = [0, 2].map(activatorIp);
const SYNC_TIMEOUT_MS = 180_000;
/** Each write held this long at the fake API server (a write's round trip through kube-apiserver and etcd is milliseconds to tens of them). */
export const API_WRITE_LATENCY_MS = 20;
/** AUTOSCALER_SCRAPE_MS for the write-path-alone replacement: one round an hour. */
const SCRAPES_OFF_MS = 3_600_000;

export async function runScale(options: BenchOptions, workDir: string): Promise<ScaleResult> {
  const empty = { runs: [], replacements: [], activatorPages: [], errors: [] };
  const notObservable = {
    decisionTick: 'not observable: the autoscaler exports no tick duration and the bench does not change lib/ to add one; its cost is inside the CPU per replica',
  };
  let bundle: Bundle;
  try {
    bundle = bundleHead(workDir);
  } catch (err) {
    return { ...empty, skipped: `bundling HEAD's runtime failed: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`, notObservable };
  }
  console.log(`scale: runtime ${bundle.description}`);
  const scale: ScaleOptions = options.quick ? SCALE_OPTIONS.quick : SCALE_OPTIONS.full;
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  const runs: ScaleRun[] = [];
  const replacements: ReplacementRun[] = [];
  const errors: string[] = [];
  for (const n of scale.revisions) {
    try {
      await measureN(bundle, n, scale, workDir, runs, replacements);
    } catch (err) {
      errors.push(`N = ${n}: ${(err as Error).message.split('\n').slice(0, 6).join(' ')}`);
      console.log(`scale: N = ${n} failed: ${(err as Error).message}`);
    }
  }
  const activatorPages: ActivatorPageResult[] = [];
  for (const registered of scale.pageRevisions) {
    try {
      const page = await measureActivatorPage(bundle, registered, PAGE_ACTIVE_REVISIONS, workDir);
      console.log(`scale: activator page, ${registered} registered / ${PAGE_ACTIVE_REVISIONS} active: ${page.pageBytes} bytes, ${page.series} series, ${round(page.scrapeMs)} ms`);
      activatorPages.push(page);
    } catch (err) {
      errors.push(`activator page at ${registered} revisions: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const scrapeCost: ScrapeCostRun[] = [];
  // Each mode with each client back to back: the runtime's and undici (why the runtime has its own, ./scrape-cost.ts).
  for (const connections of ['keep-alive', 'close'] as const) {
    for (const client of SCRAPE_CLIENTS) {
      try {
        const cost = await measureScrapeCost(connections, undefined, undefined, client);
        console.log(`scale: scrape cost (${client}, ${connections}): ${cost.cpuMicrosPerScrape} µs CPU per pod scrape, ${cost.scrapesPerCoreSecond} scrapes/s per core (${cost.podScrapesPerSecond} scrapes/s at ${cost.cpuCores} cores, ${cost.rssMiB} MiB RSS)`);
        scrapeCost.push(cost);
      } catch (err) {
        errors.push(`scrape cost (${client}, ${connections}): ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  const measured = { startedAt, finishedAt: new Date().toISOString(), loadAverageAtStart, loadAverageAtEnd: loadAverage() };
  return { runtime: bundle.description, measured, options: scale, runs, replacements, activatorPages, scrapeCost, notObservable, errors };
}

/**
 * Just the replacement under scrape load: N revisions, one replica scraping, one activator
 * replaced (`npx tsx bench/scale/replacement.ts [N]`): about a minute instead of the section's 22.
 * Leaves the replica's log in the work directory.
 */
export async function runReplacementUnderScrapeLoad(workDir: string, n = 1000): Promise<ReplacementRun> {
  const bundle = bundleHead(workDir);
  console.log(`scale: runtime ${bundle.description}`);
  const api = new FakeApiServer(API_WRITE_LATENCY_MS);
  populate(api, n, ACTIVATORS);
  const server = await api.start();
  const [podPort, activatorPort] = [await freePort(), await freePort()];
  const pods = await FakePods.start([podPort], [activatorPort], n * PODS_PER_REVISION);
  try {
    const set = await ReplicaSet.start(bundle, api, (identity) => writeKubeconfig(workDir, server, identity), n, 1, [podPort], [activatorPort], {});
    try {
      const result = await measureReplacement(api, set, n, true);
      const logFile = path.join(workDir, 'autoscaler-0.log');
      writeFileSync(logFile, set.children[0].output());
      console.log(`scale: the replica's log is in ${logFile}`);
      return result;
    } finally {
      await set.stop();
    }
  } finally {
    await pods.stop();
    await api.stop();
  }
}

/** One N: fake cluster and pods up, each replica count in turn, then the replacement with one replica. */
async function measureN(bundle: Bundle, n: number, scale: ScaleOptions, workDir: string, runs: ScaleRun[], replacements: ReplacementRun[]): Promise<void> {
  const api = new FakeApiServer(API_WRITE_LATENCY_MS);
  populate(api, n, ACTIVATORS);
  const server = await api.start();
  const kubeconfig = (identity: string) => writeKubeconfig(workDir, server, identity);
  const maxReplicas = Math.max(...scale.replicas);
  const podPorts = await Promise.all(Array.from({ length: maxReplicas }, () => freePort()));
  const activatorPorts = await Promise.all(Array.from({ length: maxReplicas }, () => freePort()));
  const pods = await FakePods.start(podPorts, activatorPorts, n * PODS_PER_REVISION);
  const resetCluster = () => {
    for (const lease of BUCKET_LEASES) api.remove('leases', SYSTEM_NAMESPACE, lease);
    populate(api, n, ACTIVATORS); // back to the converged state (activators a0, a1 everywhere)
  };
  const withReplicas = async <T>(replicas: number, env: Record<string, string>, measure: (set: ReplicaSet) => Promise<T>): Promise<T> => {
    const set = await ReplicaSet.start(bundle, api, kubeconfig, n, replicas, podPorts, activatorPorts, env);
    try {
      return await measure(set);
    } finally {
      await set.stop();
      resetCluster();
    }
  };
  try {
    for (const replicas of scale.replicas) {
      await withReplicas(replicas, {}, async (set) => {
        runs.push(await measureWindow(api, pods, set, n, scale.windowSeconds));
        if (replicas === 1 && scale.replacementUnderScrapeLoad) replacements.push(await measureReplacement(api, set, n, true));
      });
    }
    // The write path alone: scrapes made rare, so only the decisions (every 2 s) share its CPU.
    // With one replica, then with the most, each writing the revisions of its buckets.
    const scrapesOff = { AUTOSCALER_SCRAPE_MS: String(SCRAPES_OFF_MS) };
    for (const replicas of new Set([1, maxReplicas])) {
      replacements.push(await withReplicas(replicas, scrapesOff, (set) => measureReplacement(api, set, n, false)));
    }
  } finally {
    await pods.stop();
    await api.stop();
  }
}

async function measureWindow(api: FakeApiServer, pods: FakePods, set: ReplicaSet, n: number, windowSeconds: number): Promise<ScaleRun> {
  await pods.takeCounts();
  api.counters.reset();
  const cpuBefore = set.children.map((c) => cpuSeconds(c.pid));
  const podsCpuBefore = cpuSeconds(pods.child.pid);
  const start = performance.now();
  await sleep(windowSeconds * 1000);
  const counts = await pods.takeCounts();
  const seconds = (performance.now() - start) / 1000;
  set.checkAlive();
  const held = set.bucketsHeld(api);
  const perPort = set.podPorts.map((port) => counts.pods.get(port)!);
  const perReplica = set.children.map((c, i): ReplicaFigures => ({
    identity: set.identities[i],
    leader: (held.get(set.identities[i]) ?? 0) > 0,
    buckets: held.get(set.identities[i]) ?? 0,
    podScrapesPerSecond: round(sum(perPort[i]) / seconds, 1),
    activatorScrapesPerSecond: round((counts.activators.get(set.activatorPorts[i]) ?? 0) / seconds, 2),
    cpuCores: round((cpuSeconds(c.pid) - cpuBefore[i]) / seconds, 3),
    rssMiB: round(rssMiB(c.pid), 1),
    syncSeconds: round(set.syncSeconds[i], 1),
    unsampledWarnings: set.unsampledWarnings[i],
  }));
  const run: ScaleRun = {
    revisions: n,
    pods: n * PODS_PER_REVISION,
    replicas: set.children.length,
    windowSeconds: round(seconds, 1),
    scrapesNeededPerReplica: n * sampleSize(PODS_PER_REVISION),
    perReplica,
    podScrapeRate: podRates(perPort, seconds),
    revisionSampleRate: revisionRates(perPort, n, seconds),
    apiRequestsPerSecond: round(api.counters.requestTimes.length / seconds, 2),
    apiWritesInWindow: sum([...api.counters.writesPerObject.values()]),
    fakePodsCpuCores: round((cpuSeconds(pods.child.pid) - podsCpuBefore) / seconds, 3),
  };
  console.log(`scale: N = ${n}, ${run.replicas} replica(s): ${perReplica.map((r) => `${r.identity} (${r.buckets} buckets) ${r.podScrapesPerSecond} scrapes/s, ${r.cpuCores} cores, ${r.rssMiB} MiB`).join('; ')}; pod rate max ${run.podScrapeRate.max}/s; revision samples min ${run.revisionSampleRate.min}/s`);
  return run;
}

function podRates(perPort: readonly Uint32Array[], seconds: number): ScaleRun['podScrapeRate'] {
  const pods = perPort[0].length;
  let max = 0;
  let total = 0;
  for (let g = 0; g < pods; g++) {
    let s = 0;
    for (const a of perPort) s += a[g];
    max = Math.max(max, s);
    total += s;
  }
  return { max: round(max / seconds, 2), mean: round(total / pods / seconds, 3) };
}

/** Per revision, the best replica's pod scrapes ÷ the sample size, per second. */
function revisionRates(perPort: readonly Uint32Array[], n: number, seconds: number): ScaleRun['revisionSampleRate'] {
  const size = sampleSize(PODS_PER_REVISION);
  let min = Infinity;
  let total = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (const a of perPort) best = Math.max(best, sum(a.subarray(r * PODS_PER_REVISION, (r + 1) * PODS_PER_REVISION)));
    const rate = best / size / seconds;
    min = Math.min(min, rate);
    total += rate;
  }
  return { min: round(min, 3), mean: round(total / n, 3) };
}

/**
 * One activator replaced (activator-service Endpoints: a1 → a2): every revision is in Proxy mode
 * with both activators listed, so every public Endpoints object must be rewritten.
 */
async function measureReplacement(api: FakeApiServer, set: ReplicaSet, n: number, scraping: boolean): Promise<ReplacementRun> {
  await waitQuiet(api);
  const stale = new Set<string>();
  for (let r = 0; r < n; r++) stale.add(`${namespaceOf(r)}/${Names.publicService(revisionName(r))}`);
  const changedObjects = stale.size;
  let convergedAt: number | undefined;
  api.onWrite = (resource, obj: KubeObject) => {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (resource === 'endpoints' && stale.has(key) && listsActivators(obj, REPLACED)) {
      stale.delete(key);
      if (stale.size === 0) convergedAt = performance.now();
    }
  };
  api.counters.reset();
  const boundSeconds = changedObjects / REPLACEMENT_QPS + 10;
  const timeoutSeconds = Math.round(2 * boundSeconds + 10);
  const start = performance.now();
  const startMs = Date.now();
  setActivators(api, REPLACED);
  while (convergedAt === undefined && performance.now() - start < timeoutSeconds * 1000) {
    set.checkAlive();
    await sleep(200);
  }
  api.onWrite = () => undefined;
  const c = api.counters;
  const elapsed = ((convergedAt ?? performance.now()) - start) / 1000;
  const perSecond = new Map<number, number>();
  for (const t of c.requestTimes) perSecond.set(Math.floor((t - startMs) / 1000), (perSecond.get(Math.floor((t - startMs) / 1000)) ?? 0) + 1);
  const writes = [...c.writesPerObject.entries()].filter(([k]) => k.startsWith('endpoints '));
  const held = set.bucketsHeld(api);
  const result: ReplacementRun = {
    revisions: n,
    replicas: set.children.length,
    perReplica: set.identities.map((identity) => ({ identity, buckets: held.get(identity) ?? 0, writes: c.writesByClient.get(identity) ?? 0 })),
    scraping,
    changedObjects,
    workers: WriteQueueDefaults.workers,
    qps: REPLACEMENT_QPS,
    burst: REPLACEMENT_BURST,
    writes: sum(writes.map(([, v]) => v)),
    maxWritesPerObject: Math.max(0, ...writes.map(([, v]) => v)),
    conflicts: c.conflicts,
    writeLatencyMs: API_WRITE_LATENCY_MS,
    peakConcurrentRequests: c.peakInFlight,
    peakConcurrentRequestsWithoutLeases: c.peakInFlightWithoutLeases,
    peakRequestsPerSecond: Math.max(0, ...perSecond.values()),
    meanRequestsPerSecond: round(c.requestTimes.length / Math.max(elapsed, 1), 1),
    convergedSeconds: convergedAt === undefined ? undefined : round(elapsed, 1),
    boundSeconds: round(boundSeconds, 1),
    timeoutSeconds,
    requestsByVerb: Object.fromEntries(c.byVerb),
  };
  const conntrack = conntrackUse();
  console.log(`scale: N = ${n}, ${result.replicas} replica(s), activator replaced (${scraping ? 'scraping' : 'scrapes off'}): ${result.writes} writes for ${changedObjects} objects (${result.perReplica!.map((r) => `${r.identity} ${r.buckets} buckets, ${r.writes} writes`).join('; ')}), peak ${result.peakConcurrentRequests} in flight, peak ${result.peakRequestsPerSecond} req/s, converged ${result.convergedSeconds ?? `not within ${timeoutSeconds}`} s (bound ${result.boundSeconds} s)${conntrack ? `; host conntrack table ${conntrack.count}/${conntrack.max}` : ''}`);
  return conntrack ? { ...result, conntrackAtEnd: conntrack } : result;
}

/**
 * The host's netfilter connection table, when readable. Full, the kernel drops the SYN of every
 * new connection ("nf_conntrack: table full, dropping packet"), the API requests' too: fake pods
 * that close each scrape's connection open thousands a second, each held 120 s in TIME_WAIT.
 */
function conntrackUse(): { count: number; max: number } | undefined {
  try {
    const read = (name: string) => Number(readFileSync(`/proc/sys/net/netfilter/${name}`, 'utf8').trim());
    return { count: read('nf_conntrack_count'), max: read('nf_conntrack_max') };
  } catch {
    return undefined;
  }
}

/** Until no write reached the API server for 3 s (bounded: 60 s). */
async function waitQuiet(api: FakeApiServer): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastWrite = Date.now();
  api.onWrite = () => (lastWrite = Date.now());
  while (Date.now() - lastWrite < 3000 && Date.now() < deadline) await sleep(250);
  api.onWrite = () => undefined;
}

/** The autoscaler replicas of one run. */
class ReplicaSet {
  readonly syncSeconds: number[] = [];
  readonly unsampledWarnings: number[] = [];

  private constructor(
    readonly children: Child[],
    readonly identities: string[],
    readonly podPorts: number[],
    readonly activatorPorts: number[],
  ) {}

  static async start(bundle: Bundle, api: FakeApiServer, kubeconfig: (identity: string) => string, n: number, replicas: number, podPorts: number[], activatorPorts: number[], env: Record<string, string>): Promise<ReplicaSet> {
    const identities = Array.from({ length: replicas }, (_, i) => `autoscaler-${i}`);
    const children: Child[] = [];
    const set = new ReplicaSet(children, identities, podPorts.slice(0, replicas), activatorPorts.slice(0, replicas));
    const synced: Array<Promise<void>> = [];
    for (let i = 0; i < replicas; i++) {
      const [httpPort, metricsPort] = [await freePort(), await freePort()];
      const startedAt = performance.now();
      const child = startBundledRuntime(bundle, identities[i], 'autoscaler', {
        // No KSERVICE_NAMESPACES: the default cluster-wide, label-selected watches.
        KUBECONFIG: kubeconfig(identities[i]),
        [SystemEnv.AUTOSCALER_BUCKETS]: String(SCALE_BUCKETS),
        POD_NAME: identities[i],
        AUTOSCALER_HTTP_PORT: String(httpPort),
        AUTOSCALER_METRICS_PORT: String(metricsPort),
        AUTOSCALER_BIND_ADDRESS: LOOPBACK,
        AUTOSCALER_QUEUE_METRICS_PORT: String(podPorts[i]),
        AUTOSCALER_ACTIVATOR_METRICS_PORT: String(activatorPorts[i]),
        KUBE_API_QPS: String(REPLACEMENT_QPS),
        KUBE_API_BURST: String(REPLACEMENT_BURST),
        ...env,
      });
      children.push(child);
      set.unsampledWarnings.push(0);
      synced.push(set.watchLog(child, i, startedAt));
    }
    await Promise.all(synced);
    await set.waitForBuckets(api);
    await sleep(3000); // a few scrape rounds before the window
    return set;
  }

  /** Resolves at `informers synced`; counts the warnings the window reports. */
  private watchLog(child: Child, i: number, startedAt: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending = '';
      const timer = setTimeout(() => reject(new Error(`${child.name}: informers not synced within ${SYNC_TIMEOUT_MS / 1000} s\n${child.output().slice(-1500)}`)), SYNC_TIMEOUT_MS);
      child.process.once('exit', (code) => reject(new Error(`${child.name} exited (${code}) before it synced\n${child.output().slice(-1500)}`)));
      child.process.stdout?.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes('"informers synced"')) {
            this.syncSeconds[i] = (performance.now() - startedAt) / 1000;
            clearTimeout(timer);
            resolve();
          } else if (line.includes('too few pods answered for a full sample')) this.unsampledWarnings[i]++;
        }
      });
    });
  }

  /**
   * Until every bucket Lease is held (60 s, else an error), then until each replica holds its
   * even share, B ÷ R rounded down (30 s more, else the run goes on with the split it got: the
   * figures report buckets per replica).
   */
  async waitForBuckets(api: FakeApiServer): Promise<void> {
    const allHeld = () => sum([...this.bucketsHeld(api).values()]) === BUCKET_LEASES.length;
    if (!(await this.waitUntil(allHeld, 60_000))) throw new Error(`the ${BUCKET_LEASES.length} bucket Leases were not all held within 60 s\n${this.children[0]?.output().slice(-1500)}`);
    const share = Math.floor(BUCKET_LEASES.length / this.children.length);
    const even = () => this.identities.every((id) => (this.bucketsHeld(api).get(id) ?? 0) >= share);
    if (!(await this.waitUntil(even, 30_000))) console.log(`scale: buckets not split evenly within 30 s: ${JSON.stringify(Object.fromEntries(this.bucketsHeld(api)))}`);
  }

  private async waitUntil(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline) return false;
      this.checkAlive();
      await sleep(200);
    }
    return true;
  }

  /** Holder identity → bucket Leases it holds now. */
  bucketsHeld(api: FakeApiServer): Map<string, number> {
    const held = new Map<string, number>();
    for (const name of BUCKET_LEASES) {
      const holder = (api.get('leases', SYSTEM_NAMESPACE, name) as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity;
      if (holder) held.set(holder, (held.get(holder) ?? 0) + 1);
    }
    return held;
  }

  checkAlive(): void {
    const dead = this.children.find((c) => !isAlive(c));
    if (dead) throw new Error(`${dead.name} exited\n${dead.output().slice(-1500)}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
  }
}

/** The fake pods and activators child (./fake-pods.ts) and its scrape counters. */
export class FakePods {
  private constructor(
    readonly child: Child,
    private readonly controlPort: number,
  ) {}

  static async start(podPorts: number[], activatorPorts: number[], pods: number, keepAlive = false): Promise<FakePods> {
    const args = [podPorts.join(','), activatorPorts.join(','), String(pods), ...(keepAlive ? ['keep-alive'] : [])];
    const child = startChild('fake-pods', process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'fake-pods.ts'), ...args]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = /ready (\d+)/.exec(child.output());
      if (m) return new FakePods(child, Number(m[1]));
      if (!isAlive(child) || Date.now() > deadline) throw new Error(`fake pods did not start\n${child.output().slice(-1500)}`);
      await sleep(100);
    }
  }

  /** Scrapes per pod (per port) and per activator port since the last call. */
  async takeCounts(): Promise<{ pods: Map<number, Uint32Array>; activators: Map<number, number> }> {
    const res = await fetch(`http://${LOOPBACK}:${this.controlPort}/counts`);
    const body = (await res.json()) as { pods: Record<string, string>; activators: Record<string, number> };
    const pods = new Map(Object.entries(body.pods).map(([port, b64]) => {
      const buf = Buffer.from(b64, 'base64');
      return [Number(port), new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4)] as const;
    }));
    return { pods, activators: new Map(Object.entries(body.activators).map(([p, v]) => [Number(p), v])) };
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/** One kubeconfig per replica: its identity is its bearer token, so the fake API server counts writes per replica. */
function writeKubeconfig(workDir: string, server: string, identity: string): string {
  const file = path.join(workDir, `scale-kubeconfig-${identity}.json`);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }], // plain HTTP: client-node refuses it without this
    users: [{ name: 'bench', user: { token: identity } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'bench' } }],
    'current-context': 'fake',
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

const loadAverage = () => os.loadavg().map((l) => round(l, 2));

function sum(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}
