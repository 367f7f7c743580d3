// The harness itself: stop() leaves no process and no files behind, and a
// missing binary directory gives an actionable error.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { findBinaries, livePids, startControlPlane, type ControlPlane } from './harness';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control-plane harness', () => {
  let cp: ControlPlane | undefined;
  afterEach(async () => {
    await cp?.stop(); // no-op when the test already stopped it
  });

  it('stops etcd, kube-apiserver and kube-controller-manager by PID and removes its files', async () => {
    cp = await startControlPlane();
    const pids = Object.values(cp.processes).map((p) => p.pid);
    expect(pids.every(alive)).toBe(true);
    expect(livePids()).toEqual(expect.arrayContaining(pids));

    await cp.stop();

    expect(pids.filter(alive)).toEqual([]);
    expect(livePids().filter((p) => pids.includes(p))).toEqual([]);
    expect(existsSync(cp.dir)).toBe(false);
  });

  it('tells how to build the binaries when they are missing', () => {
    const saved = process.env.KSERVICE_BIN_DIR;
    process.env.KSERVICE_BIN_DIR = '/nonexistent/kservice-bin';
    try {
      expect(() => findBinaries()).toThrow(/npm run build:control-plane/);
    } finally {
      if (saved === undefined) delete process.env.KSERVICE_BIN_DIR;
      else process.env.KSERVICE_BIN_DIR = saved;
    }
  });
});
