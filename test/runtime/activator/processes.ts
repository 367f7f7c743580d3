/**
 * The bundled activator as a real process in standalone mode (ACTIVATOR_STATIC_CONFIG), for the
 * local end-to-end tests. Queue-proxies and test-apps come from the queue-proxy tests' helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchOutput } from '../../support/child-output';
import { RUNTIME_BUNDLE } from '../queue-proxy/processes';
import { RUNTIME_NODE } from '../../support/runtime-bundle';

const running = new Set<ChildProcess>();
const tempDirs: string[] = [];

export interface ActivatorProcess {
  readonly proc: ChildProcess;
  readonly httpPort: number;
  readonly h2cPort: number;
  readonly metricsPort: number;
  readonly lines: string[];
}

export interface StaticRevision {
  namespace: string;
  revision: string;
  containerConcurrency?: number;
  timeoutSeconds?: number;
  /** Sidecar-less revisions (lib/runtime/activator/static-config.ts): pods are the apps themselves. */
  dataPlane?: 'full' | 'activator';
  responseStartTimeoutSeconds?: number;
  idleTimeoutSeconds?: number;
  readinessProbe?: Record<string, unknown>;
  pods: string[];
  /** The revision's public Endpoints (activator IPs): each activator whose POD_IP is listed takes its slice of the pods. */
  activators?: string[];
}

export async function startActivator(revisions: StaticRevision[], env: Record<string, string> = {}): Promise<ActivatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'activator-test-'));
  tempDirs.push(dir);
  const configPath = join(dir, 'revisions.json');
  writeFileSync(configPath, JSON.stringify({ revisions }, null, 2));
  const proc = spawn(RUNTIME_NODE, [RUNTIME_BUNDLE, 'activator'], {
    env: {
      PATH: process.env.PATH ?? '',
      ACTIVATOR_STATIC_CONFIG: configPath,
      ACTIVATOR_HTTP_PORT: '0',
      ACTIVATOR_H2C_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_DRAIN_SECONDS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const output = watchOutput(
    proc,
    (line) => (line.includes('"msg":"activator listening"') ? (JSON.parse(line) as ListeningLine) : undefined),
    'activator',
  );
  const { httpPort, h2cPort, metricsPort } = await output.ready;
  return { proc, httpPort, h2cPort, metricsPort, lines: output.lines };
}

interface ListeningLine {
  readonly httpPort: number;
  readonly h2cPort: number;
  readonly metricsPort: number;
}

export async function stopActivators(): Promise<void> {
  await Promise.all([...running].map((p) => new Promise((resolve) => (p.once('exit', resolve), p.kill('SIGKILL')))));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A port nothing listens on (bound by the OS, then released): connections to it are refused. */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Per-revision gauges of the requests in the activator. The page lists only revisions with
 * requests in the activator (lib/runtime/activator/metrics.ts), so a page that answered without
 * the revision's series says 0 for these.
 */
const LOAD_GAUGES = new Set(['activator_queue_depth', 'activator_in_flight', 'activator_average_concurrent_requests', 'activator_requests_per_second']);

/**
 * The activator's usable pods for a revision, from its last `usable pods changed` log line (the
 * /metrics page lists `activator_ready_pods` only for revisions with requests in the activator).
 */
export function usablePods(activator: ActivatorProcess, revision: string): number | undefined {
  let pods: number | undefined;
  for (const line of activator.lines) {
    if (!line.includes('"msg":"usable pods changed"')) continue;
    const entry = JSON.parse(line) as { revision?: string; pods?: number };
    if (entry.revision === revision) pods = entry.pods;
  }
  return pods;
}

/** A labelled sample of the activator's /metrics; undefined when absent (0 for LOAD_GAUGES). */
export async function activatorMetric(metricsPort: number, name: string, revision: string): Promise<number | undefined> {
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`revision="${revision}"`));
  if (line === undefined) return LOAD_GAUGES.has(name) ? 0 : undefined;
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
