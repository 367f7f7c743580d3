/**
 * Every process the benchmark starts goes through `startChild`, which records it so that
 * `stopAllChildren` (called at the end, on failure and on Ctrl-C) ends each one by its own pid.
 * Children run in their own process group (detached), so a terminal's Ctrl-C reaches only us and
 * we decide the order of shutdown.
 */
import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything the child printed (stdout and stderr), kept for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Child>();
const OUTPUT_LIMIT = 64 * 1024;
const STOP_GRACE_MS = 2000;

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** CPU list for `taskset -c` (e.g. "0"); undefined = no pinning. */
  readonly cpus?: string;
}

/**
 * Niceness for measured children (set once by the bench). The machine is shared with other
 * engineers' builds; as root we run the measured processes at a higher priority so their
 * compilers disturb the figures less. 0 = unchanged.
 */
let niceness = 0;
export function setMeasuredNiceness(value: number): void {
  niceness = value;
}

/** The command line with `nice` and `taskset` in front; both exec the command, so the pid stays the command's. */
function wrap(command: string, args: string[], cpus: string | undefined): [string, string[]] {
  let argv = [command, ...args];
  if (cpus !== undefined) argv = ['taskset', '-c', cpus, ...argv];
  if (niceness !== 0) argv = ['nice', '-n', String(niceness), ...argv];
  return [argv[0], argv.slice(1)];
}

export function startChild(name: string, command: string, args: string[], options: StartOptions = {}): Child {
  const [cmd, argv] = wrap(command, args, options.cpus);
  const spawnOptions: SpawnOptions = { env: options.env ?? process.env, cwd: options.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] };
  const proc = spawn(cmd, argv, spawnOptions);
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const child: Child = { name, process: proc, pid: proc.pid, output: () => log, stop: () => stopChild(child) };
  running.add(child);
  proc.once('exit', () => running.delete(child));
  return child;
}

export function isAlive(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

/** SIGTERM, then SIGKILL after a short grace: the proxies drain on SIGTERM, which a benchmark need not wait for. */
async function stopChild(child: Child): Promise<void> {
  if (!isAlive(child)) return;
  const exited = once(child.process, 'exit');
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

/** Synchronous last resort for process exit: SIGKILL whatever is still running. */
function killAllNow(): void {
  for (const child of running) {
    if (isAlive(child)) child.process.kill('SIGKILL');
  }
}

let installed = false;
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping ${running.size} child process(es)`);
      void stopAllChildren().finally(() => process.exit(130));
    });
  }
}

/** Runs a command to completion and returns its stdout; rejects with its stderr on a non-zero exit. */
export async function runToCompletion(name: string, command: string, args: string[], options: StartOptions & { timeoutMs: number }): Promise<string> {
  const [cmd, argv] = wrap(command, args, options.cpus);
  const proc = spawn(cmd, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const child: Child = { name, process: proc, pid: proc.pid ?? -1, output: () => '', stop: () => stopChild(child) };
  running.add(child);
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-OUTPUT_LIMIT)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs);
  const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  running.delete(child);
  if (code !== 0) throw new Error(`${name} exited with ${code ?? signal}: ${stderr.trim().slice(-2000)}`);
  return stdout;
}
