/**
 * DomainMapping (serving.knative.dev/v1beta1) beyond the golden case (golden/domain-mapping, Istio,
 * compared with Knative's own MakeIngress in the differential suite): the Gateway API rendering
 * (net-gateway-api's URLRewrite hostname filter), what kservice refuses that Knative would take
 * (spec.tls), and the model's domain rule on its own.
 */
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { fullyQualifiedDomainNameErrors, parseDomainMapping } from '../../lib/model/domain-mapping';
import { isKnownKind, strictErrors, validateWithModels } from '../compiler/support/schemas';
import type { Manifest } from '../compiler/support/synth';
import { existsSync } from 'node:fs';
import { removeDir, run, tempDir } from './helpers';

const SERVICE = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: shop
  namespace: store
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/example/shop:1.0
`;

const MAPPING = `apiVersion: serving.knative.dev/v1beta1
kind: DomainMapping
metadata:
  name: shop.example.org
  namespace: store
spec:
  ref:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: shop
`;

const GATEWAY_API = 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: ServingConfig\ningress: gateway-api\n';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

function work(files: Record<string, string>): string {
  const dir = tempDir(files);
  dirs.push(dir);
  return dir;
}

describe('DomainMapping in Gateway API mode', () => {
  it('is one HTTPRoute on the external Gateway that rewrites the host to the Knative Service and sets K-Original-Host', async () => {
    const dir = work({ 'shop.yaml': `${SERVICE}---\n${MAPPING}`, 'config.yaml': GATEWAY_API });
    const result = await run(['compile', path.join(dir, 'shop.yaml'), '--config', path.join(dir, 'config.yaml')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const objects = parseAllDocuments(result.stdout).map((d) => d.toJS() as Manifest);
    const route = objects.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'shop.example.org') as Manifest & { spec: Record<string, unknown> };
    expect(route).toBeDefined();
    expect(isKnownKind(route)).toBe(true);
    expect(() => validateWithModels(route)).not.toThrow();
    expect(strictErrors(route)).toEqual([]);
    expect(route.metadata.namespace).toBe('store');
    expect(route.metadata.labels).toEqual({
      'networking.internal.knative.dev/ingress': 'shop.example.org',
      'networking.knative.dev/visibility': '',
      'serving.knative.dev/domainMappingNamespace': 'store',
    });
    expect(route.metadata.annotations).toEqual({ 'networking.knative.dev/ingress.class': 'gateway-api.ingress.networking.knative.dev' });
    expect(route.spec).toEqual({
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'istio-system', name: 'knative-gateway' }],
      hostnames: ['shop.example.org'],
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'shop.store.svc.cluster.local' } }],
        backendRefs: [{
          group: '', kind: 'Service', name: 'shop', port: 80, weight: 100,
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'K-Original-Host', value: 'shop.example.org' }] } }],
        }],
        timeouts: { request: '0s' },
      }],
    });
    // Gateway API mode: no VirtualService for the mapping.
    expect(objects.some((o) => o.kind === 'VirtualService')).toBe(false);
  });
});

describe('DomainMapping input kservice refuses', () => {
  it('spec.tls: no certificate is compiled, so it is an unknown field, not dropped (Knative would take it)', async () => {
    const dir = work({ 'dm.yaml': `${MAPPING}  tls:\n    secretName: shop-cert\n` });
    const out = path.join(dir, 'out');
    const result = await run(['compile', path.join(dir, 'dm.yaml'), '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr.split(`${dir}/`).join('')).toBe('dm.yaml:11:3 spec.tls: unknown field\nkservice: 1 problem found; nothing was written\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('the DomainMapping model', () => {
  it.each([
    ['example.org', []],
    ['a.b.c.example.org', []],
    ['example', ['invalid name "example": should be a domain with at least two segments separated by dots']],
    ['-a.example.org', ['invalid name "-a.example.org": must be a domain name of lower-case letters, digits, "-" and ".", at most 253 characters']],
    [`${'a'.repeat(64)}.org`, [`invalid name "${'a'.repeat(64)}.org": must be a domain name of lower-case letters, digits, "-" and ".", at most 253 characters`]],
    ['x.svc.cluster.local', ['invalid name "x.svc.cluster.local": must not be a subdomain of cluster local domain "cluster.local"']],
  ])('%s', (name, messages) => {
    expect(fullyQualifiedDomainNameErrors(name).problems.map((p) => p.message)).toEqual(messages);
  });

  it('targets the ref by its cluster address and reports every ref problem at once', () => {
    const ok = parseDomainMapping({ name: 'shop.example.org', namespace: 'store', ref: { apiVersion: 'v1', kind: 'Service', name: 'legacy' } });
    expect(ok.errors.empty).toBe(true);
    expect(ok.value.target).toEqual({ kind: 'Service', serviceName: 'legacy', host: 'legacy.store.svc.cluster.local' });
    const bad = parseDomainMapping({ name: 'shop', namespace: 'store', ref: { kind: 'Service', namespace: 'other' } });
    expect(bad.errors.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'metadata.name: invalid name "shop": should be a domain with at least two segments separated by dots',
      'spec.ref.name: missing field',
      'spec.ref.apiVersion: missing field',
      'spec.ref.namespace: mismatched namespaces: must be the DomainMapping\'s namespace "store", got "other"',
    ]);
  });
});
