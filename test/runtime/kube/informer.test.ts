// What the runtime's informers ask the API server for (lib/runtime/kube/informer.ts): the requests
// are recorded by an HTTP server on 127.0.0.1 that answers lists and watches the way kube-apiserver
// does (JSON list; a watch is a stream of JSON lines). test/cluster/runtime-watches.test.ts runs
// the same informers against the real API server; this file checks what that test cannot see
// there: the jittered timeout, the paths per namespace, and the relist after 410 Gone.
import * as http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { Labels } from '../../../lib/contract/constants';
import { loadKubeClients } from '../../../lib/runtime/kube/client';
import { revisionInformers } from '../../../lib/runtime/kube/informer';
import { createLogger } from '../../../lib/runtime/shared/logger';

const logger = createLogger('test', { level: 'silent' });

interface Seen {
  path: string;
  query: URLSearchParams;
  watch: boolean;
}

/** Lists answer empty at `listVersion`; each watch is handed to `onWatch`, which writes its events. */
async function apiServer(onWatch: (res: http.ServerResponse, n: number) => void, listVersion = '5') {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true';
    seen.push({ path: url.pathname, query: url.searchParams, watch });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (!watch) {
      res.end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: listVersion }, items: [] }));
      return;
    }
    res.flushHeaders();
    onWatch(res, seen.filter((s) => s.watch && s.path === url.pathname).length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  stops.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { kube: loadKubeClients(kc), seen };
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never: ${what}`);
}

const event = (type: string, object: object) => `${JSON.stringify({ type, object })}\n`;

describe('revisionInformers', () => {
  it('cluster-wide: one list and one watch per resource, label-selected, with bookmarks and a timeout in [300, 600) s', async () => {
    const { kube, seen } = await apiServer(() => undefined);
    const { deployments, endpoints } = revisionInformers(kube, [], logger);
    stops.push(async () => void (await Promise.all([deployments.stop(), endpoints.stop()])));
    await Promise.all([deployments.start(), endpoints.start()]);
    await until('both watches', () => seen.filter((s) => s.watch).length === 2);
    expect(seen.map((s) => `${s.watch ? 'WATCH' : 'LIST'} ${s.path} ${s.query.get('labelSelector')}`).sort()).toEqual([
      `LIST /api/v1/endpoints ${Labels.SERVERLESS_SERVICE}`,
      `LIST /apis/apps/v1/deployments ${Labels.REVISION}`,
      `WATCH /api/v1/endpoints ${Labels.SERVERLESS_SERVICE}`,
      `WATCH /apis/apps/v1/deployments ${Labels.REVISION}`,
    ]);
    for (const w of seen.filter((s) => s.watch)) {
      expect(w.query.get('allowWatchBookmarks')).toBe('true');
      expect(w.query.get('resourceVersion')).toBe('5');
      const timeout = Number(w.query.get('timeoutSeconds'));
      expect(timeout).toBeGreaterThanOrEqual(300);
      expect(timeout).toBeLessThan(600);
    }
  });

  it('restricted to namespaces: one watch per namespace and resource', async () => {
    const { kube, seen } = await apiServer(() => undefined);
    const { deployments } = revisionInformers(kube, ['a', 'b'], logger);
    stops.push(() => deployments.stop());
    await deployments.start();
    await until('two watches', () => seen.filter((s) => s.watch).length === 2);
    expect(seen.filter((s) => s.watch).map((s) => s.path).sort()).toEqual(['/apis/apps/v1/namespaces/a/deployments', '/apis/apps/v1/namespaces/b/deployments']);
  });

  it('a watch the server ends resumes from the last bookmark without a list; 410 Gone relists', async () => {
    const { kube, seen } = await apiServer((res, n) => {
      // 1st watch: a bookmark, then the server ends it (its timeout); 2nd: 410 Gone; 3rd (after the relist): stays open.
      if (n === 1) res.end(event('BOOKMARK', { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { resourceVersion: '9' } }));
      if (n === 2) res.end(event('ERROR', { kind: 'Status', apiVersion: 'v1', code: 410, reason: 'Expired', message: 'too old resource version: 9 (12)' }));
    });
    const { deployments } = revisionInformers(kube, [], logger);
    stops.push(() => deployments.stop());
    await deployments.start();
    await until('three watches', () => seen.filter((s) => s.watch).length === 3);
    expect(seen.map((s) => (s.watch ? `WATCH from ${s.query.get('resourceVersion')}` : 'LIST'))).toEqual(['LIST', 'WATCH from 5', 'WATCH from 9', 'LIST', 'WATCH from 5']);
  });
});
