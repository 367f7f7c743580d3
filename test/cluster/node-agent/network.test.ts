// The pod network on its own (no control plane): namespaces with addresses on the test bridge,
// reachable from the host and from each other, unable to reach anything outside the bridge, one
// slot per concurrent run, leftovers of crashed runs removed, nothing left after destroy().
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait';
import { httpGet } from '../scenarios/support/http';
import { ContainerProcess } from './container-process';
import { TEST_APP } from './images';
import { PodNetwork, SLOT_DIR, type PodSandbox } from './network';

let net: PodNetwork;
let dir: string;
const procs: ContainerProcess[] = [];

function nodeIn(sandbox: PodSandbox, script: string, logName: string): ContainerProcess {
  const p = new ContainerProcess(sandbox.netns, { command: process.execPath, args: ['-e', script], env: { PATH: process.env.PATH ?? '' } }, join(dir, logName));
  procs.push(p);
  return p;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kservice-net-'));
  net = await PodNetwork.create();
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(0)));
  await net?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('pod network', () => {
  it('gives pods distinct addresses reachable from the host and from each other, and nothing outside', async () => {
    const a = await net.addPod();
    const b = await net.addPod();
    expect(net.hostIp).toBe(`10.244.${net.slot}.1`);
    expect(a.ip).toBe(`10.244.${net.slot}.2`);
    expect(b.ip).toBe(`10.244.${net.slot}.3`);

    const app = new ContainerProcess(a.netns, { command: process.execPath, args: [TEST_APP], env: { PATH: process.env.PATH ?? '', HOST: '0.0.0.0', PORT: '8080' } }, join(dir, 'app.log'));
    procs.push(app);
    const res = await waitFor('test-app answering at its pod IP', async () => (await httpGet(`http://${a.ip}:8080/`, { timeoutMs: 2000 }).catch(() => undefined)) ?? false, { timeoutMs: 20_000 });
    expect(res.body).toBe('Hello World!\n');

    // From pod b: the other pod answers; the host's real network does not exist for it.
    const probe = nodeIn(b, `
      const http = require('node:http');
      const get = (u) => new Promise((r) => http.get(u, { timeout: 3000 }, (res) => { res.resume(); r('status ' + res.statusCode); })
        .on('error', (e) => r('error ' + e.code)).on('timeout', function () { this.destroy(); r('timeout'); }));
      (async () => {
        console.log('pod', await get('http://${a.ip}:8080/'));
        console.log('outside', await get('http://192.0.2.1:80/'));
        console.log('loopback-of-a', await get('http://127.0.0.1:8080/'));
      })();`, 'probe.log');
    const status = await probe.exited;
    expect(status.code).toBe(0);
    const out = readFileSync(join(dir, 'probe.log'), 'utf8');
    expect(out).toContain('pod status 200');
    expect(out).toContain('outside error ENETUNREACH');
    // Each namespace has its own loopback: a's app is not on b's 127.0.0.1.
    expect(out).toContain('loopback-of-a error ECONNREFUSED');

    await app.stop(2000);
    await net.removePod(a);
    await net.removePod(b);
    expect(await net.leftovers()).toEqual([net.bridge]);
  });

  it('gives a concurrent run its own slot, bridge and subnet, and leaves both intact', async () => {
    const other = await PodNetwork.create();
    try {
      expect(other.slot).not.toBe(net.slot);
      expect(other.bridge).not.toBe(net.bridge);
      expect(other.subnet).not.toBe(net.subnet);
      expect(await net.leftovers()).toEqual([net.bridge]);
    } finally {
      await other.destroy();
    }
    expect(await other.leftovers()).toEqual([]);
    expect(await net.leftovers()).toEqual([net.bridge]);
  });

  it('removes the leftovers of a crashed run (lock held by a dead PID) on create', async () => {
    // A crashed run: its slot lock names a process that has exited, its links are still there.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const slot = 63;
    const stale = `ksvc${slot}`;
    writeFileSync(join(SLOT_DIR, `slot-${slot}.lock`), String(dead));
    execFileSync('ip', ['link', 'add', stale, 'type', 'bridge']);
    execFileSync('ip', ['netns', 'add', `${stale}-pod2`]);
    const fresh = await PodNetwork.create();
    try {
      expect(execFileSync('ip', ['-o', 'link', 'show']).toString()).not.toContain(` ${stale}:`);
      expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(`${stale}-pod2`);
      expect(existsSync(join(SLOT_DIR, `slot-${slot}.lock`))).toBe(false);
    } finally {
      await fresh.destroy();
    }
  });

  it('leaves no namespace, veth, bridge or lock after destroy', async () => {
    await net.addPod();
    expect((await net.leftovers()).length).toBe(3); // bridge, namespace, host veth
    await net.destroy();
    expect(await net.leftovers()).toEqual([]);
    expect(existsSync(join(SLOT_DIR, `slot-${net.slot}.lock`))).toBe(false);
  });
});
