// One container of a pod, run inside the pod's network namespace (`ip netns exec`), with its output
// appended to a log file. A plain command runs as a local process (test images: no filesystem
// isolation, only the network namespace and the environment); a command with an `image` runs
// that unpacked image's entrypoint in its own read-only root filesystem as the image's user
// (image-container.ts), as a container runtime would.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { UnpackedImage } from '../../support/runtime-image';
import { imageContainerCommand } from './image-container';

export interface ContainerCommand {
  /** The program (for an `image`: only a name for the log, the image's entrypoint is run). */
  readonly command: string;
  /** Its arguments (for an `image`: the arguments after the entrypoint, as a pod's `args`). */
  readonly args: readonly string[];
  /** The complete environment of the process (nothing is inherited from the test). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Run from this image's root filesystem instead of the host's. */
  readonly image?: UnpackedImage;
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
    const launch = cmd.image ? imageContainerCommand(cmd.image, cmd.args, cmd.env, `${logFile}.state`) : cmd;
    const fd = openSync(logFile, 'a');
    const what = cmd.image ? `image ${cmd.image.digest} ${cmd.image.config.config.Entrypoint.join(' ')}` : cmd.command;
    writeSync(fd, `--- ${new Date().toISOString()} start: ${what} ${cmd.args.join(' ')}\n`);
    // For an image the kernel clears the parent-death signal when the runtime switches to the
    // image's user, so the exit hook and removeStaleSlots (network.ts: kills what is left in a
    // crashed run's namespaces) are what stop it if the test process dies.
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'SIGKILL', '--', 'ip', 'netns', 'exec', netns, launch.command, ...launch.args],
      { env: { ...launch.env }, cwd: cmd.cwd, stdio: ['ignore', fd, fd] },
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
