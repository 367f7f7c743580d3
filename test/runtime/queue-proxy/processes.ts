/**
 * Real processes for the queue-proxy tests: the bundled runtime (`node dist-runtime/… queue-proxy`)
 * and test-app, each on ports the OS picked (port 0), found from their start-up lines. Every
 * process started here is killed by `stopAll` (call it in afterAll).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { watchOutput } from '../../support/child-output';
import { RUNTIME_BUNDLE, RUNTIME_NODE } from '../../support/runtime-bundle';

export { RUNTIME_BUNDLE };
const root = join(__dirname, '..', '..', '..');
export const TEST_APP = join(root, 'test', 'runtime', 'apps', 'test-app.mjs');

const running = new Set<ChildProcess>();

export interface Started {
  readonly proc: ChildProcess;
  /** Everything the process printed so far, line by line. */
  readonly lines: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** The runtime bundle runs on RUNTIME_NODE; everything else (the test app) on the test's node. */
const nodeFor = (args: readonly string[]): string => (args[0] === RUNTIME_BUNDLE ? RUNTIME_NODE : process.execPath);

function start(args: string[], env: Record<string, string>, readyLine: RegExp, what: string): Promise<Started & { ready: RegExpExecArray }> {
  const proc = spawn(nodeFor(args), args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => (running.delete(proc), resolve(code))));
  const output = watchOutput(proc, (line) => readyLine.exec(line) ?? undefined, what);
  return output.ready.then((ready) => ({ proc, lines: output.lines, exited, ready }));
}

export interface TestApp extends Started {
  readonly port: number;
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const started = await start([TEST_APP], { PORT: '0', ...env }, /^ready \d+ port=(\d+)/, 'test-app');
  return { ...started, port: Number(started.ready[1]) };
}

export interface QueueProxyProcess extends Started {
  readonly servingPort: number;
  readonly adminPort: number;
  readonly metricsPort: number;
}

/** Knative's env for a revision `hello-00001` in `default` on 127.0.0.1 (ports chosen by the OS). */
export function queueProxyEnv(userPort: number): Record<string, string> {
  return {
    SERVING_NAMESPACE: 'default',
    SERVING_SERVICE: 'hello',
    SERVING_CONFIGURATION: 'hello',
    SERVING_REVISION: 'hello-00001',
    SERVING_POD: 'hello-00001-deployment-abc',
    SERVING_POD_IP: '127.0.0.1',
    USER_PORT: String(userPort),
    QUEUE_SERVING_PORT: '0',
    QUEUE_ADMIN_PORT: '0',
    QUEUE_METRICS_PORT: '0',
    QUEUE_BIND_ADDRESS: '127.0.0.1',
    CONTAINER_CONCURRENCY: '0',
    REVISION_TIMEOUT_SECONDS: '300',
  };
}

/** queueProxyEnv plus the given overrides. */
export async function startQueueProxy(userPort: number, env: Record<string, string> = {}): Promise<QueueProxyProcess> {
  if (!existsSync(RUNTIME_BUNDLE)) throw new Error(`runtime bundle missing: ${RUNTIME_BUNDLE} (npm run build:runtime)`);
  const started = await start(
    [RUNTIME_BUNDLE, 'queue-proxy'],
    { ...queueProxyEnv(userPort), ...env },
    /"msg":"listening"/,
    'queue-proxy',
  );
  const { ports } = JSON.parse(started.ready.input) as { ports: { serving: number; admin: number; metrics: number } };
  return { ...started, servingPort: ports.serving, adminPort: ports.admin, metricsPort: ports.metrics };
}

/** Starts a process expected to fail at start-up; resolves with its exit code and output. */
export async function runToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(nodeFor(args), args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c));
  proc.stderr.on('data', (c: Buffer) => (output += c));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  running.delete(proc);
  return { code, output };
}

/** Kills every process still running (SIGKILL: tests must not leave anything behind). */
export async function stopAll(): Promise<void> {
  const waits = [...running].map((proc) => new Promise((resolve) => (proc.once('exit', resolve), proc.kill('SIGKILL'))));
  await Promise.all(waits);
}

// --- HTTP/1.1 client helpers ---

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? keepAlive },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One sample of the queue-proxy's /metrics (no labels needed: one revision per process). */
export async function metric(metricsPort: number, name: string): Promise<number> {
  const { body } = await request(metricsPort, '/metrics', { agent: new http.Agent() });
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`metric ${name} not found in:\n${body}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Polls `check` every 20 ms until it holds; fails after `limitMs` (a guard, not a measurement). */
export async function eventually(check: () => Promise<boolean>, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Opens a websocket (to test-app's /ws) and resolves once the upgrade answered 101. */
export function openWebsocket(port: number): Promise<import('node:net').Socket> {
  const net = require('node:net') as typeof import('node:net');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve(socket);
      else reject(new Error(`no upgrade: ${chunk.toString('latin1')}`));
    });
    socket.once('error', reject);
  });
}
