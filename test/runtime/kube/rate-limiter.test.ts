// The kube client's one rate limit (lib/runtime/kube/rate-limiter.ts): every request but watches
// takes a token, Lease requests have a reserve and go first, and the write queue's works spend
// the token the queue took for them. The first part steps a manual clock through the limiter
// alone; the second sends the runtime's real API clients to an HTTP server on 127.0.0.1 that
// records what arrives.
import * as http from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKubeClients } from '../../../lib/runtime/kube/client';
import { ClientRateLimiter, defaultLeaseReserve, RequestClass } from '../../../lib/runtime/kube/rate-limiter';
import { WorkQueue } from '../../../lib/runtime/kube/work-queue';
import { ManualClock, settle } from '../../support/manual-clock';

const BACKOFF = { baseMs: 5, maxMs: 1000 };

/** Asks for a token per entry; `granted` records `<ms> <name>` as each is given. */
function requester(limiter: ClientRateLimiter, clock: ManualClock) {
  const granted: string[] = [];
  const ask = (name: string, what: RequestClass) => void limiter.acquire(what).then(() => granted.push(`${clock.now()} ${name}`));
  return { granted, ask };
}

describe('ClientRateLimiter', () => {
  it('leaves the Lease reserve to Leases, serves waiting Leases first, the others in order', async () => {
    const clock = new ManualClock();
    const limiter = new ClientRateLimiter({ qps: 1, burst: 4 }, { clock, reservedForLeases: 1 });
    const { granted, ask } = requester(limiter, clock);
    for (const n of [1, 2, 3, 4, 5]) ask(`list${n}`, 'other');
    await settle();
    // Three of the four tokens: the fourth is the Leases'.
    expect(granted).toEqual(['0 list1', '0 list2', '0 list3']);
    ask('lease1', 'lease');
    await settle();
    expect(granted.at(-1)).toBe('0 lease1');
    ask('lease2', 'lease');
    await clock.advance(10_000);
    expect(granted.slice(4)).toEqual(['1000 lease2', '3000 list4', '4000 list5']);
  });

  it('never lets more than burst + qps × T through in T seconds, Leases included', async () => {
    const clock = new ManualClock();
    const limiter = new ClientRateLimiter({ qps: 2, burst: 5 }, { clock });
    const { granted, ask } = requester(limiter, clock);
    for (let i = 0; i < 60; i++) ask(`r${i}`, i % 7 === 0 ? 'lease' : 'other');
    await clock.advance(60_000);
    const times = granted.map((g) => Number(g.split(' ')[0]));
    expect(times).toHaveLength(60);
    for (const from of times) {
      for (const seconds of [0.5, 1, 3, 10]) {
        const inWindow = times.filter((t) => t >= from && t < from + seconds * 1000).length;
        expect(inWindow).toBeLessThanOrEqual(5 + 2 * seconds);
      }
    }
  });

  it('the write queue takes its tokens here, behind requests already waiting, and its works spend them', async () => {
    const clock = new ManualClock();
    const limiter = new ClientRateLimiter({ qps: 1, burst: 3 }, { clock, reservedForLeases: 1 });
    const { granted, ask } = requester(limiter, clock);
    const queue = new WorkQueue({ workers: 4, tokens: limiter, backoff: BACKOFF, clock, random: () => 0.5 });
    // Each work sends one request, which asks the limiter as the client's middleware does.
    const work = (name: string) => () => limiter.acquire('other').then(() => void granted.push(`${clock.now()} ${name}`));
    for (const n of [1, 2]) void queue.add(`w${n}`, work(`write${n}`));
    await settle();
    // Two tokens above the reserve: two works started, each request paid by its work's token.
    expect(granted).toEqual(['0 write1', '0 write2']);
    ask('list', 'other');
    void queue.add('w3', work('write3'));
    await clock.advance(5_000);
    // The list waited first and gets the next token; the queue's work the one after.
    expect(granted.slice(2)).toEqual(['1000 list', '2000 write3']);
  });

  it('refuses a reserve that leaves the others no token', () => {
    expect(() => new ClientRateLimiter({ qps: 1, burst: 2 }, { reservedForLeases: 2 })).toThrow(/Lease reserve must be a whole number from 0 to burst - 1 \(1\), got 2/);
    expect([1, 2, 20, 100].map(defaultLeaseReserve)).toEqual([0, 1, 5, 25]);
  });
});

interface Seen {
  atMs: number;
  method: string;
  path: string;
}

/** Answers lists and GETs with an empty object; a watch stays open. */
async function apiServer(clock: ManualClock) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ atMs: clock.now(), method: req.method ?? '', path: `${url.pathname}${url.searchParams.get('watch') === 'true' ? '?watch' : ''}` });
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') return void res.flushHeaders();
    res.end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { name: 'x', resourceVersion: '1' }, items: [] }));
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
  return { kc, seen };
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

describe('loadKubeClients rate limit', () => {
  it('limits lists, GETs and Lease requests of every API client, not watches; a Lease does not wait behind lists', async () => {
    const clock = new ManualClock();
    const { kc, seen } = await apiServer(clock);
    const kube = loadKubeClients(kc, { qps: 1, burst: 3 }, clock); // reserve 1: two tokens for the rest
    const calls = [
      kube.apps.listDeploymentForAllNamespaces({ labelSelector: 'a' }),
      kube.core.listEndpointsForAllNamespaces({ labelSelector: 'a' }),
      kube.core.readNamespacedEndpoints({ namespace: 'ns', name: 'e' }),
      kube.apps.listNamespacedDeployment({ namespace: 'ns' }),
    ];
    const watch = await new Watch(kc).watch('/api/v1/endpoints', {}, () => undefined, () => undefined);
    stops.push(async () => watch.abort());
    const lease = kube.coordination.readNamespacedLease({ namespace: 'sys', name: 'l' });
    await until('the watch, two requests and the Lease read arrived', () => seen.length === 4);
    await settle();
    expect(seen.map((s) => s.path).sort()).toEqual(['/api/v1/endpoints', '/api/v1/endpoints?watch', '/apis/apps/v1/deployments', '/apis/coordination.k8s.io/v1/namespaces/sys/leases/l']);
    expect(kube.limiter.waitingRequests).toBe(2);
    for (let t = 1; t <= 4; t++) await clock.advance(1000);
    await until('every request arrived', () => seen.length === 6);
    await Promise.all([...calls, lease]);
    expect(seen.slice(4).map((s) => `${s.atMs} ${s.method} ${s.path}`)).toEqual([
      '2000 GET /api/v1/namespaces/ns/endpoints/e',
      '3000 GET /apis/apps/v1/namespaces/ns/deployments',
    ]);
  });
});
