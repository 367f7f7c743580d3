// One container of a pod, run as a local process inside the pod's network namespace
// (`ip netns exec`), with its output appended to a log file. The stand-in for a container runtime:
// there is no image, no filesystem isolation, only the network namespace and the environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';

export interface ContainerCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** The complete environment of the process (nothing is inherited from the test). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last line of defence when the test process exits without stopping its pods. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export class ContainerProcess {
  readonly pid: number;
  readonly startedAt = new Date();
  /** Resolves once the process has exited; never rejects. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;

  /**
   * `setpriv --pdeathsig SIGKILL` makes the kernel kill the process if the test process dies
   * (where no JavaScript handler runs); `ip netns exec` then execs the command in the namespace,
   * so the PID we hold is the command's own and signals reach it directly.
   */
  constructor(netns: string, cmd: ContainerCommand, readonly logFile: string) {
    installExitHook();
    const fd = openSync(logFile, 'a');
    writeSync(fd, `--- ${new Date().toISOString()} start: ${cmd.command} ${cmd.args.join(' ')}\n`);
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'SIGKILL', '--', 'ip', 'netns', 'exec', netns, cmd.command, ...cmd.args],
      { env: { ...cmd.env }, cwd: cmd.cwd, stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`failed to start ${cmd.command} in ${netns}`);
    this.pid = child.pid;
    live.add(child);
    this.exited = new Promise((resolve) => {
      const done = (status: ExitStatus): void => {
        live.delete(child);
        this.exitStatus ??= status;
        resolve(this.exitStatus);
      };
      child.on('exit', (code, signal) => done({ code, signal }));
      child.on('error', () => done({ code: null, signal: null }));
    });
    this.child = child;
  }

  private readonly child: ChildProcess;

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get status(): ExitStatus | undefined {
    return this.exitStatus;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL once graceMs have passed; resolves when the process is gone. */
  async stop(graceMs: number): Promise<ExitStatus> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), Math.max(0, graceMs));
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }
}
