// A real node whose test process dies without stop() (SIGKILL, OOM): containerd's shims and the
// pods' containers are not its children, so they outlive it, and the kernel settings the kubelet
// changed stay changed. The next real node must clean that up before it starts (harness/real-node.ts
// reapDeadRun), or a CI machine collects containers and a panicking kernel configuration run by run.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { startControlPlane } from '../harness';
import { reapDeadRealNode, realNodeFootprint, startRealNode } from '../harness/real-node';

const REPO = resolve(__dirname, '..', '..', '..');
const SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'];

const sysctls = (): string[] => SYSCTLS.map((k) => readFileSync(join('/proc/sys', k), 'utf8').trim());

function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Starts the child, waits for its READY line, returns its dirs and the task PIDs. */
async function startChild(): Promise<{ pid: number; cpDir: string; nodeDir: string; taskPids: number[] }> {
  // `node --import tsx`, not the tsx CLI: the CLI runs the script in a second process, which a
  // SIGKILL of the CLI would not reach.
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test', 'cluster', 'harness', 'real-node-child.ts')], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('the child did not report READY within 240 s')), 240_000);
    lines.on('line', (l) => l.startsWith('READY ') && (clearTimeout(timer), res(l)));
    child.on('exit', (code) => (clearTimeout(timer), rej(new Error(`the child exited (${code}) before READY`))));
  });
  const [, cpDir, nodeDir, pids] = ready.split(' ');
  return { pid: child.pid!, cpDir, nodeDir, taskPids: pids.split(',').map(Number) };
}

describe('a real node left by a killed test process', () => {
  it('is cleaned up by the next start: its containers killed, the kernel settings restored, nothing left after stop', async () => {
    await reapDeadRealNode(); // an earlier dead run's settings would otherwise count as the host's
    const before = sysctls();
    const child = await startChild();
    expect(child.taskPids.length).toBe(3); // pause, user container, queue-proxy
    process.kill(child.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    // What the dead run left: its containers run on, the kubelet's kernel settings are in force.
    expect(child.taskPids.filter(running)).toEqual(child.taskPids);
    expect(sysctls()).not.toEqual(before);

    const cp = await startControlPlane();
    try {
      const node = await startRealNode(cp);
      expect(child.taskPids.filter(running)).toEqual([]);
      await node.stop();
      expect(sysctls()).toEqual(before);
      expect(realNodeFootprint()).toEqual({ cgroups: [], bridge: false, lock: false });
    } finally {
      await cp.stop();
      // The dead run's dirs stay for inspection after a real crash; here they are the test's own.
      for (const dir of [child.cpDir, child.nodeDir]) rmSync(dir, { recursive: true, force: true });
    }
  }, 420_000);
});
