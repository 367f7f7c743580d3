/**
 * docs/benchmarks.md and the README section, from the results JSON. Where a goal is missed the
 * table says so next to the number.
 */
import { coldStartModes, type ColdStartModeResult } from '../coldstart/run';
import { COLD_START_MODES } from '../coldstart/samples';
import { TIMELINE_EVENTS, type TimelineEvent } from '../coldstart/timeline';
import { PathSummary } from '../dataplane/run';
import { realNodeReadmeText, realNodeText } from '../realnode/report';
import { BenchResults } from '../results';
import { scaleText } from '../scale/report';
import { CHART_FILES } from './charts';
import { COLD_START_OVERHEAD_GOAL_MS, evaluateGoals, GoalResult } from './goals';

const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const int = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const VERDICT_MARK: Record<GoalResult['verdict'], string> = { met: '✅ met', missed: '❌ **missed**', 'not measured': '⚪ not measured' };

export function goalsTable(results: BenchResults): string {
  const rows = evaluateGoals(results).map((g) => `| ${g.goal} | ${VERDICT_MARK[g.verdict]} | ${g.measured} |`);
  return ['| goal | verdict | measured |', '|---|---|---|', ...rows].join('\n');
}

export function dataplaneTable(results: BenchResults): string {
  const d = results.sections.dataplane;
  if (!d) return `_Data plane not run: ${results.notRun.dataplane ?? 'unknown'}._`;
  if (d.skipped) return `_Data plane skipped: ${d.skipped}._`;
  const header = [
    `| path | p50 ms | p95 ms | p99 ms | added p50 | added p95 | added p99 | p95 of each run ms | 2xx at ${d.setup.fixedRateRps} rps | saturation rps | saturation p50 / p99 ms | proxy CPU s / 1k req | proxy peak RSS MiB |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  return [...header, ...d.paths.map(pathRow)].join('\n');
}

function pathRow(p: PathSummary): string {
  if (p.skipped) return `| ${p.label} | skipped: ${p.skipped} ||||||||||||`;
  const rss = Object.entries(p.peakRssMiB ?? {}).map(([name, mib]) => `${name} ${mib.toFixed(0)}`).join(', ') || '–';
  const byProcess = Object.entries(p.cpuSecondsPer1kByProcess ?? {});
  const cpu = p.id === 'direct' ? '–' : byProcess.length > 1 ? `${f(p.cpuSecondsPer1k)} (${byProcess.map(([name, v]) => `${name} ${f(v)}`).join(', ')})` : f(p.cpuSecondsPer1k);
  const added = (v: number | undefined) => (p.id === 'direct' ? '–' : f(v));
  return `| ${p.label} | ${f(p.p50Ms)} | ${f(p.p95Ms)} | ${f(p.p99Ms)} | ${added(p.addedP50Ms)} | ${added(p.addedP95Ms)} | ${added(p.addedP99Ms)} | ${p.runs.map((r) => f(r.fixedRate.p95Ms, 1)).join(' / ')} | ${f((p.fixedRateSuccess ?? 0) * 100, 1)}% | ${int(p.saturationRps)} | ${f(p.saturationP50Ms, 2)} / ${f(p.saturationP99Ms, 2)} | ${cpu} | ${rss} |`;
}

/** The data-plane modes side by side, each as the path it is measured by (bench/dataplane/modes.ts). */
export function modesTable(results: BenchResults): string {
  const modes = results.sections.dataplane?.modes;
  if (!modes || modes.length === 0) return '_Data-plane modes not measured in this run._';
  const rows = modes.map((m) =>
    m.skipped
      ? `| ${m.mode} | ${m.when} | ${m.pathLabel} | skipped: ${m.skipped} |||||`
      : `| ${m.mode} | ${m.when} | ${m.pathLabel} | ${f(m.addedP95Ms)} | ${int(m.saturationRps)} | ${f(m.perPodProxyRssMiB, 1)} | ${m.sharedProxyRssMiB ? f(m.sharedProxyRssMiB, 1) : '–'} | ${f(m.cpuSecondsPer1k)} |`,
  );
  return [
    '| mode | when | measured as | added p95 ms | saturation rps | per-pod proxy peak RSS MiB | shared activator peak RSS MiB | proxy CPU s / 1k req |',
    '|---|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

export function synthesisTable(results: BenchResults): string {
  const s = results.sections.synthesis;
  if (!s) return `_Synthesis not run: ${results.notRun.synthesis ?? 'unknown'}._`;
  if (s.skipped) return `_Synthesis skipped: ${s.skipped}._`;
  const rows = s.points.map((p) =>
    `| ${int(p.services)} | ${int(p.objects)} | ${int(p.oursMs)} | ${int(p.baselineMs)} | ${f(p.ratio, 2)}× | ${int(p.oursObjectsPerSecond)} | ${int(p.baselineObjectsPerSecond)} | ${f(p.oursMsPerService, 2)} | ${f(p.baselineMsPerService, 2)} | ${f(p.oursPeakRssMiB, 0)} / ${f(p.baselinePeakRssMiB, 0)} |`);
  return [
    '| services | objects | ours ms | baseline ms | ours ÷ baseline | ours objects/s | baseline objects/s | ours ms/service | baseline ms/service | peak RSS MiB ours / baseline |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Growth: ${s.growth ?? 'needs two sizes'}. Baseline equivalence: ${s.equivalenceNote}.`,
  ].join('\n');
}

/** The cold start per scale-from-zero mode, side by side: a summary row per mode, then the hops. */
export function coldStartText(results: BenchResults): string {
  const c = results.sections.coldstart;
  if (!c) return `_Cold start not run: ${results.notRun.coldstart ?? 'unknown'}._`;
  const modes = coldStartModes(c).filter((m) => m.overheadP50Ms !== undefined);
  if (modes.length === 0) return `_Cold start not measured: ${c.skipped ?? 'unknown'}._`;
  const row = (m: ColdStartModeResult) =>
    `| ${m.mode} | ${m.samples.length} | ${f(m.overheadP50Ms, 0)} | ${f(m.overheadP95Ms, 0)} | ${f(m.requestToResponseP50Ms, 0)} | ${f(m.appStartToReadyP50Ms, 0)} | ${m.overheadP50Ms! <= COLD_START_OVERHEAD_GOAL_MS ? 'met' : '**missed**'} |`;
  const missing = COLD_START_MODES.filter((mode) => !modes.some((m) => m.mode === mode)).map((mode) => `| ${mode} | 0 | not measured | | | | |`);
  return [
    `| mode | samples | overhead p50 ms | overhead p95 ms | request→response p50 ms | app start→ready p50 ms | p50 ≤ ${COLD_START_OVERHEAD_GOAL_MS} ms |`,
    '|---|---:|---:|---:|---:|---:|---|',
    ...modes.map(row),
    ...missing,
    '',
    hopsTable(modes),
  ].join('\n');
}

/** A hop of any mode, identified by its two events. */
interface HopKey {
  readonly from: TimelineEvent;
  readonly to: TimelineEvent;
}

/**
 * The cold-start timeline of each mode side by side: each hop's median time and median share of
 * request → first byte. A hop a mode does not have (no queue-proxy in mode activator) reads
 * "absent", never 0.
 */
function hopsTable(modes: readonly ColdStartModeResult[]): string {
  if (modes.every((m) => !m.hops || m.hops.every((h) => h.samples === 0))) return '_No timeline recorded._';
  const order = (e: TimelineEvent) => TIMELINE_EVENTS.indexOf(e);
  const keys: HopKey[] = [];
  for (const h of modes.flatMap((m) => m.hops ?? [])) {
    if (!keys.some((k) => k.from === h.from && k.to === h.to)) keys.push({ from: h.from, to: h.to });
  }
  keys.sort((a, b) => order(a.to) - order(b.to) || order(a.from) - order(b.from));
  const hopOf = (m: ColdStartModeResult, k: HopKey) => m.hops?.find((h) => h.from === k.from && h.to === k.to);
  const cells = (m: ColdStartModeResult, k: HopKey) => {
    const h = hopOf(m, k);
    if (!h) return 'absent | absent | –';
    return `${f(h.medianMs, 0)} | ${h.medianSharePercent === undefined ? '—' : `${f(h.medianSharePercent, 1)} %`} | ${h.samples}`;
  };
  const owners = (k: HopKey) => {
    const byMode = modes.flatMap((m) => (hopOf(m, k) ? [[m.mode, hopOf(m, k)!.owner] as const] : []));
    const distinct = [...new Set(byMode.map(([, owner]) => owner))];
    return distinct.length === 1 ? distinct[0] : byMode.map(([mode, owner]) => `${mode}: ${owner}`).join('; ');
  };
  const rows = keys.map((k) => `| ${k.from} → ${k.to} | ${owners(k)} | ${modes.map((m) => cells(m, k)).join(' | ')} |`);
  return [
    'Timeline (bench/coldstart/timeline.ts; events from the client, a pod watch, the node agent, the app and the runtime\'s log lines), per mode: median ms, median share of request → first byte, samples. "absent": the mode has no such hop (mode activator has no queue-proxy, so its activator learns straight after the app is ready):',
    '',
    `| hop | whose | ${modes.map((m) => `${m.mode} median ms | ${m.mode} share | ${m.mode} samples`).join(' | ')} |`,
    `|---|---|${modes.map(() => '---:|---:|---:').join('|')}|`,
    ...rows,
  ].join('\n');
}

export function memoryText(results: BenchResults): string {
  const m = results.sections.memory;
  if (!m) return `_Memory not run: ${results.notRun.memory ?? 'unknown'}._`;
  if (m.skipped) return `_Memory skipped: ${m.skipped}._`;
  const rows = m.processes.map((p) => `| ${p.label} | ${f(p.rssMiB, 1)} | ${f(p.rssMiB * 1.048576, 1)} | ${f(p.peakRssMiB, 1)} |`);
  return [`RSS ${m.label}.`, '', '| process | RSS MiB | RSS MB | peak (VmHWM) MiB |', '|---|---:|---:|---:|', ...rows].join('\n');
}

function uncommitted(results: BenchResults): string {
  const files = results.uncommittedChanges ?? [];
  return files.length === 0 ? '' : ` plus uncommitted changes in ${files.map((f) => `\`${f}\``).join(', ')} (measured as found in the working tree)`;
}

function setupText(results: BenchResults): string {
  const d = results.sections.dataplane;
  const m = results.machine;
  const lines = [
    `Run: ${results.quick ? '**quick** (`npm run bench -- --quick`)' : 'full (`npm run bench`)'}, ${results.startedAt} → ${results.finishedAt}, commit \`${results.commit}\`${uncommitted(results)}.`,
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; load average (1/5/15 min) at start ${m.loadAverageAtStart.join(' / ')}, at end ${m.loadAverageAtEnd?.join(' / ') ?? '–'}. The machine is shared with other engineers' builds and tests, so absolute figures are noisy; comparisons are ratios taken in the same run, each figure the median of repetitions.`,
  ];
  if (d && !d.skipped) {
    const s = d.setup;
    lines.push(
      `Data plane: test-app (\`RESPONSE_BYTES=${s.responseBytes}\`) behind each path on 127.0.0.1; containerConcurrency ${s.containerConcurrency} everywhere (HAProxy: server \`maxconn ${s.containerConcurrency}\`, \`maxqueue ${Number(s.containerConcurrency) * 10}\`). ` +
        `Proxies and app pinned to CPU ${s.serverCpus}, the load generator to CPU ${s.loadCpus} (\`taskset\`), measured processes at raised priority (nice −10) when run as root. ` +
        `Fixed rate: ${s.fixedRateLoadGenerator}, ${s.fixedRateRps} rps open model for ${s.fixedRateSeconds} s after ${s.warmupSeconds} s warm-up. Saturation: ${s.saturationLoadGenerator}, ${s.saturationConnections} connections for ${s.saturationSeconds} s (wrk reports p50/p99, not p95). ${s.repetitions} repetition(s), interleaved across paths. ` +
        'CPU from /proc/<pid>/stat (utime+stime) of the proxy processes over the fixed-rate run; peak RSS is VmHWM after both runs.',
    );
  }
  return lines.join('\n\n');
}

function failuresText(results: BenchResults): string {
  const notes: string[] = [];
  for (const p of results.sections.dataplane?.paths ?? []) {
    for (const failure of p.failures) notes.push(`- ${p.label}: a repetition failed: ${failure.split('\n')[0]}`);
    for (const run of p.runs) {
      for (const e of run.fixedRate.errors) notes.push(`- ${p.label}: fixed-rate error: ${e}`);
    }
  }
  for (const [section, reason] of Object.entries(results.notRun)) notes.push(`- ${section}: not run (${reason})`);
  return notes.length > 0 ? [...new Set(notes)].join('\n') : '- none';
}

const SCALE_METHOD = [
  'The real autoscaler processes (the committed runtime bundled as `npm run build:runtime` bundles it) against a fake API server (`bench/scale/fake-api-server.ts`: list and watch, Endpoints replace and apply, the scale subresource, Leases; every request counted) and fake queue-proxies and activators (`bench/scale/fake-pods.ts`: one listener per replica answers every 127.x.y.z pod address, so each replica\'s scrapes are counted apart; each answer closes its connection, since 100,000 pods kept alive would pass the machine\'s 20,000 file descriptors). N revisions of 10 pods in namespaces of 1,000, all in Proxy mode and pinned at 10 pods, with two activators, so the steady state writes nothing and replacing one activator rewrites every public Endpoints object.',
  'CPU and RSS from /proc per replica; "needed" is N × the sample size of 10 pods (7) per second; samples per revision = the best replica\'s scrapes of its pods ÷ 7. Which replicas scrape is measured, not assumed (each has its own port); in the runtime measured here only the leader scraped and wrote, and there is no sharding yet. Each write is held 20 ms at the fake API server, as a round trip to etcd, so the bound on writes in flight is exercised. The replacement is measured with one replica while it scrapes (as in a cluster; full run only) and with its scrapes made rare (`AUTOSCALER_SCRAPE_MS` = 1 h: the write path alone), at `KUBE_API_QPS` 100 / `KUBE_API_BURST` 200 (the defaults 10 / 20 would take 1,000 s for 10,000 objects). The activator page: a real activator in standalone mode with N registered revisions, 50 of them with a pod and a request every 100 ms.',
].join(' ');

const chartLinks = (prefix: string) => `![latency per path](${prefix}${CHART_FILES.latency}) ![synthesis time against N](${prefix}${CHART_FILES.synthesis})`;

export function benchmarksMarkdown(results: BenchResults): string {
  return [
    '# Benchmarks',
    '',
    '_Generated by `npm run bench` from `bench/results/latest.json`; do not edit by hand._',
    '',
    setupText(results),
    '',
    '## Goals',
    '',
    goalsTable(results),
    '',
    '## Data plane (loopback)',
    '',
    dataplaneTable(results),
    '',
    '### Data-plane modes',
    '',
    modesTable(results),
    '',
    '`full` is two rows: Knative keeps the activator in front of the pods while the revision\'s excess burst capacity is negative (always at zero; with the default target-burst-capacity of 200 until the ready pods have 200 requests of spare capacity) and the queue-proxy alone once serving. Per-pod proxy memory is what each pod carries (the queue-proxy); the activator is shared by every pod of every revision, so its memory is reported apart.',
    '',
    '## Synthesis',
    '',
    synthesisTable(results),
    '',
    '## Cold start on the real control plane',
    '',
    coldStartText(results),
    '',
    'Overhead = request-to-response time of the cold request minus the app\'s own process-start-to-ready time (13-byte body, so first byte ≈ last byte). Measured for each data-plane mode that scales from zero (`full`: queue-proxy sidecar, activator at low scale; `activator`: no sidecar, activator always in the path), the same number of samples each, taking turns on one cluster; the two services differ only in `dataPlane` (and mode `full`\'s target-burst-capacity 0, which mode `activator` does not accept).',
    '',
    '## Cold start on the real node (kubelet, containerd, runc)',
    '',
    realNodeText(results),
    '',
    '## Memory',
    '',
    memoryText(results),
    '',
    '## Scale (fake API server and pods on loopback)',
    '',
    scaleText(results),
    '',
    SCALE_METHOD,
    '',
    '## Charts',
    '',
    chartLinks('../'),
    '',
    '## Errors, skips and notes',
    '',
    failuresText(results),
    '',
  ].join('\n');
}

export function readmeSection(results: BenchResults): string {
  return [
    `Measured ${results.quick ? 'by a quick run' : 'by a full run'} on ${results.finishedAt.slice(0, 10)} (commit \`${results.commit}\`, ${results.machine.cpus}-core shared machine); details, method and notes in [docs/benchmarks.md](docs/benchmarks.md).`,
    '',
    goalsTable(results),
    '',
    dataplaneTable(results),
    '',
    modesTable(results),
    '',
    synthesisTable(results),
    '',
    realNodeReadmeText(results),
    '',
    scaleText(results),
    '',
    chartLinks(''),
  ].join('\n');
}
