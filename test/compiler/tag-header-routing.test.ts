/**
 * Tag-header-based routing (config `tagHeaderBasedRouting`, Knative's config-features
 * `tag-header-based-routing`): the default hosts get one header-matched route per tag before their
 * own, which sets `Knative-Serving-Default-Route: true`; a tag's hosts set `Knative-Serving-Tag`
 * (knative.dev/serving pkg/reconciler/route/resources/ingress.go MakeIngressSpec), rendered as
 * net-istio (VirtualService) and net-gateway-api (HTTPRoute) render those KIngress paths.
 * Both front ends, and bad input from both.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { Ingress, KService, type KServiceProps } from '../../lib';
import { HELLO, removeDir, run, tempDir } from '../cli/helpers';
import { find, synthChart, type Manifest } from './support/synth';

const TRAFFIC: KServiceProps['traffic'] = [
  { revisionName: 'shop-00001', percent: 90, tag: 'stable' },
  { latestRevision: true, percent: 10, tag: 'candidate' },
];

function shop(config: KServiceProps['config']): Manifest[] {
  const chart = new Chart(new App(), 'c');
  new KService(chart, 'shop', {
    name: 'shop',
    namespace: 'store',
    revisionName: 'shop-00002',
    containers: [{ image: 'example/shop:2' }],
    revisions: [{ name: 'shop-00001', containers: [{ image: 'example/shop:1' }] }],
    traffic: TRAFFIC,
    config,
  });
  return synthChart(chart);
}

type Json = Record<string, any>;
const httpOf = (objects: Manifest[], name: string) => (find(objects, 'VirtualService', name) as Json).spec.http as Json[];
const destinations = (r: Json) => (r.route as Json[]).map((d) => `${d.destination.host as string}=${d.weight as number}`);

describe('Istio VirtualServices with tagHeaderBasedRouting', () => {
  const objects = shop({ tagHeaderBasedRouting: true });

  it('the external default host: tag-header routes first (sorted by tag), then the default route marked as such', () => {
    const external = httpOf(objects, 'shop-ingress').filter((r) => r.match[0].authority.prefix === 'shop.store.example.com');
    expect(external.map((r) => r.match[0].headers)).toEqual([
      { 'Knative-Serving-Tag': { exact: 'candidate' } },
      { 'Knative-Serving-Tag': { exact: 'stable' } },
      undefined,
    ]);
    expect(external.map(destinations)).toEqual([
      ['shop-00002.store.svc.cluster.local=100'],
      ['shop-00001.store.svc.cluster.local=100'],
      ['shop-00001.store.svc.cluster.local=90', 'shop-00002.store.svc.cluster.local=10'],
    ]);
    expect(external.map((r) => r.headers.request.set)).toEqual([undefined, undefined, { 'Knative-Serving-Default-Route': 'true' }]);
    expect(external.every((r) => r.match[0].gateways[0] === 'knative-serving/knative-ingress-gateway')).toBe(true);
  });

  it('a tag host sets Knative-Serving-Tag, as if routed by the header; the mesh gets the same routes', () => {
    const candidate = httpOf(objects, 'shop-ingress').filter((r) => r.match[0].authority.prefix === 'candidate-shop.store.example.com');
    expect(candidate).toHaveLength(1);
    expect(candidate[0].match[0].headers).toBeUndefined();
    expect(candidate[0].headers.request.set).toEqual({ 'Knative-Serving-Tag': 'candidate' });
    const mesh = httpOf(objects, 'shop-mesh');
    expect(mesh.filter((r) => r.match[0].authority.prefix === 'shop.store').map((r) => r.match[0].headers?.['Knative-Serving-Tag']?.exact ?? '')).toEqual([
      'candidate',
      'stable',
      '',
    ]);
  });

  it('off (the default): no header matches and no appended headers, as before', () => {
    const http = [...httpOf(shop({}), 'shop-ingress'), ...httpOf(shop({ tagHeaderBasedRouting: false }), 'shop-mesh')];
    expect(http.some((r) => (r.match as Json[]).some((m) => m.headers))).toBe(false);
    expect(http.some((r) => r.headers.request.set)).toBe(false);
  });
});

describe('Gateway API HTTPRoutes with tagHeaderBasedRouting', () => {
  const objects = shop({ ingress: Ingress.GATEWAY_API, tagHeaderBasedRouting: true });
  const route = (name: string) => find(objects, 'HTTPRoute', name) as Json;

  it('the default host: one rule per tag with an exact Knative-Serving-Tag match, then the default rule', () => {
    const rules = route('shop.store.example.com').spec.rules as Json[];
    expect(rules.map((r) => r.matches)).toEqual([
      [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'Knative-Serving-Tag', value: 'candidate' }] }],
      [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ type: 'Exact', name: 'Knative-Serving-Tag', value: 'stable' }] }],
      [{ path: { type: 'PathPrefix', value: '/' } }],
    ]);
    expect(rules.map((r) => (r.backendRefs as Json[]).map((b) => `${b.name as string}=${b.weight as number}`))).toEqual([
      ['shop-00002=100'],
      ['shop-00001=100'],
      ['shop-00001=90', 'shop-00002=10'],
    ]);
    // The default rule has two backends, so its rule-level set holds only the appended header.
    expect(rules[2].filters[0].requestHeaderModifier.set).toEqual([{ name: 'Knative-Serving-Default-Route', value: 'true' }]);
    expect(rules[0].filters[0].requestHeaderModifier.set).toEqual([
      { name: 'Knative-Serving-Namespace', value: 'store' },
      { name: 'Knative-Serving-Revision', value: 'shop-00002' },
    ]);
  });

  it("a tag's HTTPRoute sets Knative-Serving-Tag with the revision headers", () => {
    const rules = route('candidate-shop.store.example.com').spec.rules as Json[];
    expect(rules).toHaveLength(1);
    expect(rules[0].filters[0].requestHeaderModifier.set).toEqual([
      { name: 'Knative-Serving-Namespace', value: 'store' },
      { name: 'Knative-Serving-Revision', value: 'shop-00002' },
      { name: 'Knative-Serving-Tag', value: 'candidate' },
    ]);
  });
});

describe('bad tagHeaderBasedRouting', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  it('the construct names config.tagHeaderBasedRouting', () => {
    const make = () => shop({ tagHeaderBasedRouting: 'Enabled' as unknown as boolean });
    expect(make).toThrow('config.tagHeaderBasedRouting: must be true or false, got the string "Enabled"');
  });

  it('the CLI names the --config file, line and column, and writes nothing', async () => {
    const dir = tempDir({ 'hello.yaml': HELLO, 'config.yaml': 'domain: example.org\ntagHeaderBasedRouting: Enabled\n' });
    dirs.push(dir);
    const out = path.join(dir, 'out');
    const result = await run(['compile', path.join(dir, 'hello.yaml'), '--config', path.join(dir, 'config.yaml'), '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'config.yaml')}:2:24 tagHeaderBasedRouting:`);
    expect(result.stderr).toMatch(/tagHeaderBasedRouting: .*boolean/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it('the CLI compiles the same service with tagHeaderBasedRouting: true', async () => {
    const dir = tempDir({ 'hello.yaml': HELLO, 'config.yaml': 'tagHeaderBasedRouting: true\n' });
    dirs.push(dir);
    const result = await run(['compile', path.join(dir, 'hello.yaml'), '--config', path.join(dir, 'config.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Knative-Serving-Default-Route: "true"');
  });
});
