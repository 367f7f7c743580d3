// Child processes of the harness: spawned with their output in a log file,
// tracked by PID, and always killed, also when a test fails or the test
// process dies.
//
// Three layers make sure no binary outlives the tests:
//  1. stop() (called from afterAll) sends SIGTERM, then SIGKILL after a grace period;
//  2. a process 'exit' handler SIGKILLs whatever is still tracked (uncaught
//     errors, process.exit from the test runner);
//  3. each child runs under `setpriv --pdeathsig SIGKILL` when available, so the
//     kernel kills it if the test process itself is killed (SIGKILL, OOM),
//     where no JavaScript handler can run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process has exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
}

const live = new Map<number, ChildProcess>();

function killAllSync(): void {
  for (const [pid] of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Only when nobody else handles the signal: adding a listener would
    // otherwise swallow the default "terminate" behaviour of the runner.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      killAllSync();
      process.kill(process.pid, sig);
    });
  }
}

let setprivPath: string | null | undefined;
function pdeathsigWrapper(): string[] {
  if (setprivPath === undefined) {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', 'true']);
    setprivPath = probe.status === 0 ? 'setpriv' : null;
  }
  return setprivPath ? [setprivPath, '--pdeathsig', 'SIGKILL', '--'] : [];
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Starts `command args` with stdout+stderr appended to logFile. */
export function startProcess(name: string, command: string, args: string[], logFile: string): ManagedProcess {
  installExitHandlers();
  const argv = [...pdeathsigWrapper(), command, ...args];
  const fd = openSync(logFile, 'a');
  // setpriv execs the binary, so child.pid is the binary's PID.
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: failed to start ${command}`);
  const pid = child.pid;
  live.set(pid, child);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.on('exit', (code, signal) => {
      done = true;
      live.delete(pid);
      res({ code, signal });
    });
    child.on('error', () => {
      done = true;
      live.delete(pid);
      res({ code: null, signal: null });
    });
  });
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (done) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { name, pid, logFile, exited, running: () => !done, stop, logTail: (n = 30) => tail(logFile, n) };
}

/** PIDs of processes started by this module that are still running. */
export function livePids(): number[] {
  return [...live.keys()];
}
