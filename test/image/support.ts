/**
 * Helpers for the image tests: the image tarball (built when stale), skopeo, and roles of the
 * runtime started from the image's root filesystem.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchOutput } from '../support/child-output';
import {
  ensureRuntimeImage, IMAGE_DIR, imageEnv, rootfsCommand, unpackImage, type UnpackedImage,
} from '../support/runtime-image';

/** dist-image/runtime.tar, (re)built when stale, and its unpacked root filesystem. */
export function builtImage(): UnpackedImage {
  return unpackImage(ensureRuntimeImage(), join(IMAGE_DIR, 'unpacked'));
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

export function skopeo(args: readonly string[]): string {
  return execFileSync('skopeo', [...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
}

const running = new Set<ChildProcess>();
const stateDirs: string[] = [];

export interface RoleProcess {
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly ready: Promise<string>;
  readonly exited: Promise<number | null>;
}

/**
 * `role` (or other entrypoint arguments) run from the image: its entrypoint, its Env plus `env`,
 * its user, its root filesystem read-only. `ready` resolves with the first line matching `readyLine`.
 */
/** Running from the root filesystem needs root (mount namespaces, overlayfs, chroot): say so plainly. */
export function assertRoot(what: string): void {
  const uid = process.getuid?.();
  if (uid !== 0) throw new Error(`${what} needs root (mount namespaces, overlayfs, chroot); uid is ${uid}. .ci/run runs the suites as root.`);
}

export function startFromImage(
  image: UnpackedImage,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  readyLine: RegExp,
  volumes: Readonly<Record<string, string>> = {},
): RoleProcess {
  assertRoot('starting the runtime from the image');
  const stateDir = mkdtempSync(join(tmpdir(), 'kservice-container-'));
  stateDirs.push(stateDir);
  const cmd = rootfsCommand(image, args, { stateDir, volumes });
  const proc = spawn(cmd.command, cmd.args, { env: { ...imageEnv(image.config), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => (running.delete(proc), resolve(code))));
  const output = watchOutput(proc, (line) => (readyLine.test(line) ? line : undefined), args.join(' '));
  output.ready.catch(() => undefined);
  return { proc, lines: output.lines, ready: output.ready, exited };
}

export async function stopAllFromImage(): Promise<void> {
  await Promise.all([...running].map((proc) => new Promise((resolve) => (proc.once('exit', resolve), proc.kill('SIGKILL')))));
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The uid and gid the kernel reports for a process (`Uid:`/`Gid:` lines: real, effective, saved, fs). */
export function credentials(pid: number): { uids: string[]; gids: string[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/);
  return { uids: field('Uid'), gids: field('Gid') };
}
