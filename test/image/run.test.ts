/**
 * The image runs: its root filesystem, unpacked from the tarball's layers, read-only, each role
 * started with the image's entrypoint as uid 65532 (test/support/runtime-image.ts) and answering
 * real requests on 127.0.0.1: the test app (on the host's node) behind the queue-proxy behind
 * the activator, both from the image. The autoscaler needs a Kubernetes API; it runs from the
 * image against a real one in the control-plane suite (test/cluster, whose node agent uses this
 * image), and here it shows it starts and reports bad configuration clearly.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueProxyEnv, request, startTestApp, stopAll, type TestApp } from '../runtime/queue-proxy/processes';
import type { UnpackedImage } from '../support/runtime-image';
import { builtImage, credentials, startFromImage, stopAllFromImage } from './support';

let image: UnpackedImage;
let app: TestApp;
let volume: string;

const listeningPorts = (line: string) => (JSON.parse(line) as { ports: { serving: number; admin: number; metrics: number } }).ports;

beforeAll(async () => {
  image = builtImage();
  app = await startTestApp();
  volume = mkdtempSync(join(tmpdir(), 'kservice-image-volume-'));
  chmodSync(volume, 0o755);
}, 600_000);

afterAll(async () => {
  await stopAllFromImage();
  await stopAll();
  if (volume) rmSync(volume, { recursive: true, force: true });
});

function queueProxyFromImage(userPort: number) {
  return startFromImage(image, ['queue-proxy'], { ...queueProxyEnv(userPort), QUEUE_DRAIN_SECONDS: '1' }, /"msg":"listening"/);
}

describe('the runtime from the image root filesystem', () => {
  it('runs node 26 as 65532:65532 on a read-only root', async () => {
    // node's own view through the same root, user and mounts, with the entrypoint overridden as
    // `docker run --entrypoint` would.
    const node = startFromImage(
      { ...image, config: { ...image.config, config: { ...image.config.config, Entrypoint: ['/nodejs/bin/node', '-e', WHO_AM_I] } } },
      [],
      {},
      /^\{"version"/,
    );
    const line = JSON.parse(await node.ready) as { version: string; uid: number; gid: number; groups: number[]; cwd: string; write: string; passwd: string };
    expect(line.version).toMatch(/^v26\./);
    expect([line.uid, line.gid, line.groups]).toEqual([65532, 65532, [65532]]);
    expect(line.cwd).toBe('/app');
    expect(line.write).toBe('EROFS');
    expect(line.passwd).toBe('nonroot');
  });

  it('queue-proxy: proxies requests to the app and reports its metrics, as 65532 on the image node', async () => {
    const qp = queueProxyFromImage(app.port);
    const ports = listeningPorts(await qp.ready);
    const { uids, gids } = credentials(qp.proc.pid!);
    expect(uids).toEqual(['65532', '65532', '65532', '65532']);
    expect(gids).toEqual(['65532', '65532', '65532', '65532']);
    const answer = await request(ports.serving, '/');
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('Hello World!\n');
    const probe = await request(ports.serving, '/', { headers: { 'K-Network-Probe': 'queue' } });
    expect(probe.status).toBe(200);
    const metrics = await request(ports.metrics, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^# (HELP|TYPE) /m);
    // SIGTERM reaches the runtime itself (the PID is node's: every wrapper execs), which drains and exits 0.
    qp.proc.kill('SIGTERM');
    await expect(qp.exited).resolves.toBe(0);
    expect(qp.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });

  it('queue-proxy: reads the compile cache built into the image, on the read-only root as 65532, and still serves', async () => {
    // Node's own compile-cache trace (NODE_DEBUG_NATIVE=COMPILE_CACHE, on stderr) says whether V8
    // accepted each cached entry; the image's Env points NODE_COMPILE_CACHE at /app/compile-cache.
    const qp = startFromImage(image, ['queue-proxy'], { ...queueProxyEnv(app.port), QUEUE_DRAIN_SECONDS: '0', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }, /"msg":"listening"/);
    const ports = listeningPorts(await qp.ready);
    expect(credentials(qp.proc.pid!).uids[1]).toBe('65532');
    for (const bundle of ['/app/kservice-runtime.js', '/app/queue-proxy.js']) {
      expect(qp.lines).toContainEqual(`[compile cache] V8 code cache for CommonJS ${bundle} was accepted, keeping the in-memory entry`);
    }
    expect(qp.lines.filter((l) => /was rejected|mismatch|not initialized/.test(l))).toEqual([]);
    const answer = await request(ports.serving, '/');
    expect([answer.status, answer.body]).toEqual([200, 'Hello World!\n']);
    qp.proc.kill('SIGTERM');
    await expect(qp.exited).resolves.toBe(0);
    // Nothing had to be written back: the cache matched, so the read-only root was never tried.
    expect(qp.lines.filter((l) => /Creating temporary file|failed|error/i.test(l) && l.startsWith('[compile cache]'))).toEqual([]);
  });

  it('activator: 404 for an unknown revision, probe answer, and requests through to a queue-proxy from the image', async () => {
    const qp = queueProxyFromImage(app.port);
    const qpPorts = listeningPorts(await qp.ready);
    // The standalone activator's revisions, mounted like a ConfigMap volume (the root stays read-only).
    writeFileSync(join(volume, 'revisions.json'), JSON.stringify({
      revisions: [{ namespace: 'default', revision: 'hello-00001', containerConcurrency: 0, timeoutSeconds: 60, pods: [`127.0.0.1:${qpPorts.serving}`] }],
    }));
    chmodSync(join(volume, 'revisions.json'), 0o644);
    const activator = startFromImage(image, ['activator'], {
      ACTIVATOR_STATIC_CONFIG: '/etc/kservice/revisions.json',
      ACTIVATOR_HTTP_PORT: '0',
      ACTIVATOR_H2C_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_DRAIN_SECONDS: '0',
    }, /"msg":"activator listening"/, { [volume]: '/etc/kservice' });
    const { httpPort } = JSON.parse(await activator.ready) as { httpPort: number };
    expect(credentials(activator.proc.pid!).uids[1]).toBe('65532');

    const unknown = await request(httpPort, '/', { headers: { 'Knative-Serving-Namespace': 'default', 'Knative-Serving-Revision': 'nope' } });
    expect(unknown.status).toBe(404);
    const probe = await request(httpPort, '/', { headers: { 'K-Network-Probe': 'activator' } });
    expect([probe.status, probe.body.trim()]).toEqual([200, 'activator']);
    const through = await request(httpPort, '/', { headers: { 'Knative-Serving-Namespace': 'default', 'Knative-Serving-Revision': 'hello-00001' } });
    expect([through.status, through.body]).toEqual([200, 'Hello World!\n']);
  });

  it('autoscaler: starts from the image and names the missing setting when it has no configuration', async () => {
    const autoscaler = startFromImage(image, ['autoscaler'], {}, /KUBECONFIG/);
    const line = JSON.parse(await autoscaler.ready) as { level: string; variable: string; component: string };
    expect(line).toMatchObject({ level: 'fatal', component: 'autoscaler', variable: 'KUBECONFIG' });
    await expect(autoscaler.exited).resolves.toBe(1);
  });
});

/** Prints what the process sees: node version, credentials, working directory, a write to /app. */
const WHO_AM_I = `
const fs = require('node:fs');
let write = 'written';
try { fs.writeFileSync('/app/probe', 'x'); } catch (err) { write = err.code; }
const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\\n').find((l) => l.split(':')[2] === String(process.getuid()));
console.log(JSON.stringify({ version: process.version, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), cwd: process.cwd(), write, passwd: passwd && passwd.split(':')[0] }));
`;
