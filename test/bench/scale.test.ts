import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../../bench/scale/fake-api-server';
import { scaleGoals } from '../../bench/scale/report';
import type { ReplacementRun, ScaleResult, ScaleRun } from '../../bench/scale/run';
import { listsActivators, podIndexOf, podIp, proxySubsets } from '../../bench/scale/topology';
import type { BenchResults } from '../../bench/results';

describe('the fake API server the scale bench runs the autoscaler against', () => {
  let api: FakeApiServer;
  let base: string;
  beforeEach(async () => {
    api = new FakeApiServer();
    base = await api.start();
  });
  afterEach(() => api.stop());

  const endpoints = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, namespace: 'ns', labels }, subsets: proxySubsets(['127.200.0.1']) });

  it('lists by label selector, in one namespace or all, with a resourceVersion', async () => {
    api.put('endpoints', endpoints('a', { sel: 'x' }));
    api.put('endpoints', endpoints('b'));
    const list = (await (await fetch(`${base}/api/v1/namespaces/ns/endpoints?labelSelector=sel`)).json()) as { items: Array<{ metadata: { name: string } }>; metadata: { resourceVersion: string } };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['a']);
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThan(0);
    const all = (await (await fetch(`${base}/api/v1/endpoints`)).json()) as { items: unknown[] };
    expect(all.items).toHaveLength(2);
  });

  it('streams a watch event for an object written after the watch started', async () => {
    const res = await fetch(`${base}/api/v1/namespaces/ns/endpoints?watch=true&labelSelector=sel`);
    const reader = res.body!.getReader();
    api.put('endpoints', endpoints('ignored'));
    api.put('endpoints', endpoints('seen', { sel: 'x' }));
    const event = JSON.parse(new TextDecoder().decode((await reader.read()).value).split('\n')[0]) as { type: string; object: { metadata: { name: string } } };
    expect(event).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'seen' } } });
    await reader.cancel();
  });

  it('streams a cluster-wide label-selected watch (as the runtime asks without KSERVICE_NAMESPACES), bookmarks asked for and ignored', async () => {
    const res = await fetch(`${base}/api/v1/endpoints?watch=true&allowWatchBookmarks=true&timeoutSeconds=300&labelSelector=sel`);
    const reader = res.body!.getReader();
    api.put('endpoints', { ...endpoints('unlabelled'), metadata: { name: 'unlabelled', namespace: 'other' } });
    api.put('endpoints', { ...endpoints('seen'), metadata: { name: 'seen', namespace: 'other', labels: { sel: 'x' } } });
    const event = JSON.parse(new TextDecoder().decode((await reader.read()).value).split('\n')[0]) as { type: string; object: { metadata: { name: string; namespace: string } } };
    expect(event).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'seen', namespace: 'other' } } });
    await reader.cancel();
  });

  it('counts writes per client by bearer token, Lease requests apart', async () => {
    const stored = api.put('endpoints', endpoints('a'));
    const write = (token: string, url: string, body: object, method = 'PUT') =>
      fetch(`${base}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await write('replica-0', '/api/v1/namespaces/ns/endpoints/a', stored);
    await write('replica-1', '/apis/coordination.k8s.io/v1/namespaces/ns/leases', { metadata: { name: 'bucket' } }, 'POST');
    expect(Object.fromEntries(api.counters.writesByClient)).toEqual({ 'replica-0': 1 });
  });

  it('refuses a replace with a stale resourceVersion (409) and counts each write per object', async () => {
    const stored = api.put('endpoints', endpoints('a'));
    const put = (resourceVersion: string) =>
      fetch(`${base}/api/v1/namespaces/ns/endpoints/a`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...stored, metadata: { ...stored.metadata, resourceVersion } }) });
    expect((await put(stored.metadata.resourceVersion!)).status).toBe(200);
    expect((await put(stored.metadata.resourceVersion!)).status).toBe(409);
    expect(api.counters.writesPerObject.get('endpoints ns/a')).toBe(2);
    expect(api.counters.byVerb.get('put')).toBe(2);
    expect(api.counters.conflicts).toBe(1);
  });

  it('holds each write for its latency, so concurrent writes are in flight together', async () => {
    const slow = new FakeApiServer(100);
    const url = await slow.start();
    try {
      const lease = (name: string) => fetch(`${url}/apis/coordination.k8s.io/v1/namespaces/ns/leases`, { method: 'POST', body: JSON.stringify({ metadata: { name } }) });
      await Promise.all([lease('a'), lease('b')]);
      expect(slow.counters.peakInFlight).toBe(2);
      expect(slow.counters.peakInFlightWithoutLeases).toBe(0); // Lease requests are counted apart
    } finally {
      await slow.stop();
    }
  });

  it('creates a Lease once (409 after) and patches a Deployment\'s replicas through its scale subresource', async () => {
    const lease = { metadata: { name: 'l', namespace: 'ns' }, spec: { holderIdentity: 'me' } };
    const post = () => fetch(`${base}/apis/coordination.k8s.io/v1/namespaces/ns/leases`, { method: 'POST', body: JSON.stringify(lease) });
    expect((await post()).status).toBe(201);
    expect((await post()).status).toBe(409);
    api.put('deployments', { metadata: { name: 'd', namespace: 'ns' }, spec: { replicas: 1 } });
    const scale = await fetch(`${base}/apis/apps/v1/namespaces/ns/deployments/d/scale`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'add', path: '/spec/replicas', value: 3 }]),
    });
    expect(await scale.json()).toMatchObject({ kind: 'Scale', spec: { replicas: 3 } });
    expect(api.get('deployments', 'ns', 'd')?.spec).toMatchObject({ replicas: 3 });
  });
});

describe('the simulated topology', () => {
  it('gives 100,000 pods distinct loopback addresses that map back to their index', () => {
    for (const g of [0, 255, 256, 65_535, 65_536, 99_999]) expect(podIndexOf(podIp(g))).toBe(g);
    expect(podIndexOf('127.0.0.1')).toBeUndefined();
    expect(podIndexOf('127.200.0.1')).toBeUndefined();
  });

  it('tells a public Endpoints object that lists the new activators from one that does not', () => {
    const obj = { metadata: { name: 'r', namespace: 'ns' }, subsets: proxySubsets(['127.200.0.3', '127.200.0.1']) };
    expect(listsActivators(obj, ['127.200.0.1', '127.200.0.3'])).toBe(true);
    expect(listsActivators(obj, ['127.200.0.1', '127.200.0.2'])).toBe(false);
  });
});

describe('the scale goals', () => {
  const run = (over: Partial<ScaleRun>): ScaleRun => ({
    revisions: 10_000,
    pods: 100_000,
    replicas: 4,
    windowSeconds: 10,
    scrapesNeededPerReplica: 70_000,
    perReplica: [0, 1, 2, 3].map((i) => ({ identity: `a-${i}`, leader: i === 0, podScrapesPerSecond: 5000, activatorScrapesPerSecond: 2, cpuCores: 0.5, rssMiB: 500, syncSeconds: 10, unsampledWarnings: 0 })),
    podScrapeRate: { max: 3, mean: 0.2 },
    revisionSampleRate: { min: 0.1, mean: 0.07 },
    apiRequestsPerSecond: 2,
    apiWritesInWindow: 0,
    fakePodsCpuCores: 0.3,
    ...over,
  });
  const replacement: ReplacementRun = {
    revisions: 10_000, scraping: true, changedObjects: 10_000, workers: 4, qps: 100, burst: 200, writes: 10_000, maxWritesPerObject: 1,
    peakConcurrentRequests: 2, peakRequestsPerSecond: 250, meanRequestsPerSecond: 99, convergedSeconds: 120, boundSeconds: 110, timeoutSeconds: 230, requestsByVerb: {},
  };
  const results = (scale: Partial<ScaleResult>) =>
    ({ sections: { scale: { runs: [], replacements: [], activatorPages: [], notObservable: {}, errors: [], ...scale } }, notRun: {} }) as unknown as BenchResults;

  it('judges each goal from the figures at 10,000 revisions and 4 replicas', () => {
    const goals = scaleGoals(results({ runs: [run({})], replacements: [replacement], activatorPages: [{ registeredRevisions: 20_000, activeRevisions: 50, pageBytes: 19_000, series: 250, scrapeMs: 7 }] }));
    expect(goals.map((g) => g.verdict)).toEqual(['missed', 'missed', 'met', 'met', 'met', 'met', 'missed', 'met']);
    expect(goals[6].measured).toContain('120.0 s (bound 110 s)');
  });

  it('judges the activator replacement on the one-replica run, whatever several replicas measured', () => {
    const shared: ReplacementRun = { ...replacement, scraping: false, replicas: 2, convergedSeconds: 50, perReplica: [{ identity: 'a-0', buckets: 6, writes: 5000 }, { identity: 'a-1', buckets: 6, writes: 5000 }] };
    const goals = scaleGoals(results({ replacements: [shared, replacement] }));
    expect(goals[6]).toMatchObject({ verdict: 'missed', measured: expect.stringContaining('120.0 s (bound 110 s)') });
    expect(goals[6].measured).not.toContain('50.0 s');
  });

  it('allows one scrape more or less per window at the window\'s edges, no more', () => {
    const edgeOk = run({ podScrapeRate: { max: 1.1, mean: 1 }, revisionSampleRate: { min: 0.9, mean: 1 } });
    expect(scaleGoals(results({ runs: [edgeOk] })).slice(0, 2).map((g) => g.verdict)).toEqual(['met', 'met']);
    const over = run({ podScrapeRate: { max: 1.2, mean: 1 }, revisionSampleRate: { min: 0.8, mean: 1 } });
    expect(scaleGoals(results({ runs: [over] })).slice(0, 2).map((g) => g.verdict)).toEqual(['missed', 'missed']);
  });

  it('is not measured, saying why, when a quick run measured 1,000 revisions only or the section was skipped', () => {
    const quick = scaleGoals(results({ runs: [run({ revisions: 1000, replicas: 1 })], options: { revisions: [1000], replicas: [1], windowSeconds: 8, pageRevisions: [20_000], replacementUnderScrapeLoad: false } }));
    expect(quick[0]).toMatchObject({ verdict: 'not measured', measured: expect.stringContaining('this run: N = 1000, replicas 1') });
    const skipped = scaleGoals(results({ skipped: 'no bundle' }));
    expect(skipped.map((g) => [g.verdict, g.measured])).toEqual(Array(8).fill(['not measured', 'no bundle']));
  });
});
