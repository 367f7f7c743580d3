/**
 * The activator's stats page with many registered revisions, few of them active: a real activator
 * process from dist-runtime in standalone mode (ACTIVATOR_STATIC_CONFIG, lib/runtime/activator/
 * static-config.ts) with `registered` revisions, `active` of which have a pod (a plain HTTP app,
 * data-plane mode `activator`, probed by TCP) and get a request every 100 ms; the others have no
 * pod (at zero). The page is what the autoscaler reads every second from every activator.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Headers } from '../../lib/contract/constants';
import { type Child, isAlive } from '../lib/children';
import { freePort, LOOPBACK, sleep, waitForHttp200 } from '../lib/net';
import { rssMiB } from '../lib/procfs';
import { type Bundle, startBundledRuntime } from './runtime';

export interface ActivatorPageResult {
  readonly registeredRevisions: number;
  readonly activeRevisions: number;
  readonly pageBytes: number;
  /** Series on the page (non-comment lines). */
  readonly series: number;
  /** Wall time of one GET /metrics (render + transfer), median of 5. */
  readonly scrapeMs: number;
  readonly activatorRssMiB?: number;
}

const NAMESPACE = 'scale-page';
const TRAFFIC_PERIOD_MS = 100;

export async function measureActivatorPage(bundle: Bundle, registered: number, active: number, workDir: string): Promise<ActivatorPageResult> {
  const app = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => app.listen(0, LOOPBACK, resolve));
  const appPort = (app.address() as AddressInfo).port;
  let activator: Child | undefined;
  let traffic: NodeJS.Timeout | undefined;
  try {
    const config = path.join(workDir, `activator-page-${registered}.json`);
    writeFileSync(config, JSON.stringify({ revisions: staticRevisions(registered, active, appPort) }));
    const [port, h2cPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    activator = startBundledRuntime(bundle, `activator (${registered} revisions)`, 'activator', {
      ACTIVATOR_STATIC_CONFIG: config,
      ACTIVATOR_HTTP_PORT: String(port),
      ACTIVATOR_H2C_PORT: String(h2cPort),
      ACTIVATOR_METRICS_PORT: String(metricsPort),
      ACTIVATOR_BIND_ADDRESS: LOOPBACK,
      ACTIVATOR_DRAIN_SECONDS: '0',
      POD_NAME: 'activator-scale',
      LOG_LEVEL: 'warn',
    });
    const a = activator;
    await waitForHttp200(port, '/', revisionHeaders(0), 60_000, () => isAlive(a));
    const agent = new http.Agent({ keepAlive: true });
    traffic = setInterval(() => {
      for (let r = 0; r < active; r++) http.get({ host: LOOPBACK, port, path: '/', agent, headers: revisionHeaders(r) }, (res) => res.resume()).on('error', () => undefined);
    }, TRAFFIC_PERIOD_MS);
    // Two reporting periods (1 s each) with traffic, so every active revision has a closed period.
    await sleep(2500);
    const scrapes: Array<{ bytes: number; ms: number; text: string }> = [];
    for (let i = 0; i < 5; i++) scrapes.push(await getPage(metricsPort));
    const last = scrapes[scrapes.length - 1];
    const activatorRssMiB = rssMiB(a.pid);
    return {
      registeredRevisions: registered,
      activeRevisions: active,
      pageBytes: Math.max(...scrapes.map((s) => s.bytes)),
      series: last.text.split('\n').filter((l) => l && !l.startsWith('#')).length,
      scrapeMs: scrapes.map((s) => s.ms).sort((x, y) => x - y)[2],
      activatorRssMiB,
    };
  } finally {
    clearInterval(traffic);
    await activator?.stop();
    app.closeAllConnections();
    app.close();
  }
}

function staticRevisions(registered: number, active: number, appPort: number): object[] {
  return Array.from({ length: registered }, (_, r) => ({
    namespace: NAMESPACE,
    revision: `rev-${r}`,
    dataPlane: 'activator',
    containerConcurrency: 0,
    timeoutSeconds: 300,
    pods: r < active ? [`${LOOPBACK}:${appPort}`] : [],
  }));
}

const revisionHeaders = (r: number) => ({ [Headers.REVISION]: `rev-${r}`, [Headers.NAMESPACE]: NAMESPACE });

function getPage(port: number): Promise<{ bytes: number; ms: number; text: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: LOOPBACK, port, path: '/metrics' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ bytes: body.length, ms: performance.now() - start, text: body.toString('utf8') });
        });
      })
      .on('error', reject);
  });
}
