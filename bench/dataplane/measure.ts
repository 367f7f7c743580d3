/**
 * One measured session of one path: start the app and the path's proxies, warm up, run the
 * fixed-rate load and the saturation load, read CPU and peak memory of the proxies, stop.
 */
import { mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Child, isAlive, startChild } from '../lib/children';
import { freePort, waitForHttp200 } from '../lib/net';
import { cpuSeconds, peakRssMiB } from '../lib/procfs';
import { LoadResult, runFixedRate, runSaturation, Target } from './loadgen';
import { PathContext, PathDefinition, ROOT } from './paths';
import { REVISION_HEADERS } from './queue-env';

export const TEST_APP = path.join(ROOT, 'test/runtime/apps/test-app.mjs');
const APP_READY_TIMEOUT_MS = 10_000;

export interface PathRun {
  readonly fixedRate: LoadResult;
  readonly saturation: LoadResult;
  /** CPU seconds of the proxy processes (summed) per 1,000 requests, at the fixed rate and at saturation. */
  readonly proxyCpuPer1kFixed: number;
  readonly proxyCpuPer1kSaturation: number;
  /** The same per proxy process (the activator path has two). */
  readonly cpuPer1kFixedByProcess: Readonly<Record<string, number>>;
  /** CPU seconds of the app per 1,000 requests at the fixed rate (for scale). */
  readonly appCpuPer1kFixed: number;
  /** 1-minute load average of the machine when the fixed-rate run ended (the machine is shared). */
  readonly loadAverage1m: number;
  /** VmHWM of each proxy process after both runs. */
  readonly proxyPeakRssMiB: Readonly<Record<string, number>>;
  /** Names of the proxy processes every pod shares (the activator); the rest run in each pod. */
  readonly sharedProcesses: readonly string[];
}

export async function measurePath(definition: PathDefinition, ctx: Omit<PathContext, 'appPort'>, repetition: number): Promise<PathRun> {
  const workDir = path.join(ctx.workDir, `${definition.id}-${repetition}`);
  mkdirSync(workDir, { recursive: true });
  const app = await startApp(ctx);
  const started: Child[] = [app.child];
  try {
    const running = await definition.start({ ...ctx, workDir, appPort: app.port });
    started.push(...running.proxies);
    const run = await loadPath(ctx, workDir, { port: running.port, headers: REVISION_HEADERS }, running.proxies, app);
    return { ...run, sharedProcesses: (running.shared ?? []).map((c) => c.name) };
  } finally {
    await Promise.all(started.reverse().map((c) => c.stop()));
  }
}

async function loadPath(ctx: Omit<PathContext, 'appPort'>, workDir: string, target: Target, proxies: readonly Child[], app: StartedApp): Promise<Omit<PathRun, 'sharedProcesses'>> {
  const { options, peers } = ctx;
  const vegeta = peers.vegeta!;
  const { rps, seconds, warmupSeconds } = options.fixedRate;
  await runFixedRate({ vegeta, target, rps, seconds: warmupSeconds, cpus: options.loadCpus, workDir });

  const cpuBefore = proxies.map((p) => cpuSeconds(p.pid));
  const appCpuBefore = cpuSeconds(app.child.pid);
  const fixedRate = await runFixedRate({ vegeta, target, rps, seconds, cpus: options.loadCpus, workDir });
  const cpuFixed = proxies.map((p, i) => cpuSeconds(p.pid) - cpuBefore[i]);
  const proxyCpuFixed = cpuFixed.reduce((a, b) => a + b, 0);
  const appCpuFixed = cpuSeconds(app.child.pid) - appCpuBefore;
  const loadAverage1m = Number(os.loadavg()[0].toFixed(2));

  const cpuBeforeSat = proxyCpu(proxies);
  const saturation = await runSaturation({ wrk: peers.wrk, target, seconds: options.saturation.seconds, connections: options.saturation.connections, cpus: options.loadCpus });
  const proxyCpuSat = proxyCpu(proxies) - cpuBeforeSat;

  for (const p of [...proxies, app.child]) {
    if (!isAlive(p)) throw new Error(`${p.name} exited during the run:\n${p.output().slice(-1500)}`);
  }
  return {
    fixedRate,
    saturation,
    proxyCpuPer1kFixed: per1k(proxyCpuFixed, fixedRate.requests, proxies),
    cpuPer1kFixedByProcess: Object.fromEntries(proxies.map((p, i) => [p.name, (cpuFixed[i] / fixedRate.requests) * 1000])),
    proxyCpuPer1kSaturation: per1k(proxyCpuSat, saturation.requests, proxies),
    appCpuPer1kFixed: (appCpuFixed / fixedRate.requests) * 1000,
    loadAverage1m,
    proxyPeakRssMiB: Object.fromEntries(proxies.map((p) => [p.name, peakRssMiB(p.pid)])),
  };
}

const proxyCpu = (proxies: readonly Child[]) => proxies.reduce((sum, p) => sum + cpuSeconds(p.pid), 0);
const per1k = (cpu: number, requests: number, proxies: readonly Child[]) => (proxies.length === 0 ? Number.NaN : (cpu / requests) * 1000);

interface StartedApp {
  readonly port: number;
  readonly child: Child;
}

export async function startApp(ctx: Pick<PathContext, 'options'>): Promise<StartedApp> {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), RESPONSE_BYTES: String(ctx.options.responseBytes) };
  const child = startChild('test-app', process.execPath, [TEST_APP], { env, cpus: ctx.options.serverCpus });
  await waitForHttp200(port, '/healthz', {}, APP_READY_TIMEOUT_MS, () => isAlive(child));
  return { port, child };
}
