// The pod network on its own (no control plane): namespaces with addresses on the test bridge,
// reachable from the host and from each other, unable to reach anything outside the bridge, and
// gone after destroy().
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait';
import { httpGet } from '../scenarios/support/http';
import { ContainerProcess } from './container-process';
import { TEST_APP } from './images';
import { PodNetwork, type PodSandbox } from './network';

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
    expect(a.ip).toBe('10.244.0.2');
    expect(b.ip).toBe('10.244.0.3');
    expect(net.hostIp).toBe('10.244.0.1');

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
    expect(await net.leftovers()).toEqual(['ksvc0']);
  });

  it('leaves no namespace, veth or bridge after destroy, and cleans stale ones on create', async () => {
    await net.addPod();
    expect((await net.leftovers()).length).toBe(3); // bridge, namespace, host veth
    // A second create (a new run after a crash) removes the leftovers of the first.
    const again = await PodNetwork.create();
    expect(await again.leftovers()).toEqual(['ksvc0']);
    await again.destroy();
    expect(await net.leftovers()).toEqual([]);
  });
});
