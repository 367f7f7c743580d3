/**
 * Gateway API output (config `ingress: gateway-api`): the HTTPRoutes net-gateway-api would make
 * from the route's KIngress (knative-extensions/net-gateway-api
 * pkg/reconciler/ingress/resources/httproute.go), the Gateways in ServingSystem, the route's
 * ExternalName Service, the CRD schema check, and the CLI `--config` choice.
 */
import { App, Chart } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { GATEWAY_API_CONFIG, buildGatewayApiApp } from '../../examples/charts';
import { Ingress, KService, ServingSystem, Visibility, type KServiceProps, type ServingSystemProps } from '../../lib';
import { RUNTIME_ONLY_HEADERS } from '../../lib/contract/constants';
import { HELLO, removeDir, run, tempDir } from '../cli/helpers';
import { strictErrors, validateWithModels } from './support/schemas';
import { find, synthApp, synthChart, synthExamples, type Manifest } from './support/synth';

const gatewayApp = synthApp(buildGatewayApiApp());
const catalog = gatewayApp['gateway-api'];
const system = gatewayApp['serving-system'];

function service(props: Partial<KServiceProps> & { config?: KServiceProps['config'] }): Manifest[] {
  const chart = new Chart(new App(), 'c');
  new KService(chart, 'svc', { containers: [{ image: 'example/app:1' }], ...props, config: { ...GATEWAY_API_CONFIG, ...props.config } });
  return synthChart(chart);
}

function servingSystem(props: ServingSystemProps): Manifest[] {
  const chart = new Chart(new App(), 'system');
  new ServingSystem(chart, 'serving', props);
  return synthChart(chart);
}

const kinds = (objects: readonly Manifest[], kind: string) => objects.filter((o) => o.kind === kind);
const REVISION_HEADERS = (namespace: string, revision: string) => [{
  type: 'RequestHeaderModifier',
  requestHeaderModifier: { set: [{ name: 'Knative-Serving-Namespace', value: namespace }, { name: 'Knative-Serving-Revision', value: revision }] },
}];

describe('HTTPRoutes for a 90/10 split with a tag (the gateway-api example)', () => {
  it('the external HTTPRoute of the route itself, field by field', () => {
    const route = find(catalog, 'HTTPRoute', 'catalog.shop.example.com');
    expect(route.metadata.labels).toEqual({
      'networking.internal.knative.dev/ingress': 'catalog',
      'networking.knative.dev/visibility': '',
      'serving.knative.dev/route': 'catalog',
      'serving.knative.dev/routeNamespace': 'shop',
      'serving.knative.dev/service': 'catalog',
    });
    expect((route.metadata.annotations as Record<string, string>)['networking.knative.dev/ingress.class']).toBe('gateway-api.ingress.networking.knative.dev');
    expect(route.spec).toEqual({
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'istio-system', name: 'knative-gateway' }],
      hostnames: ['catalog.shop.example.com'],
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { remove: [...RUNTIME_ONLY_HEADERS] } }],
        backendRefs: [
          { group: '', kind: 'Service', name: 'catalog-00001', port: 80, weight: 90, filters: REVISION_HEADERS('shop', 'catalog-00001') },
          { group: '', kind: 'Service', name: 'catalog-00002', port: 80, weight: 10, filters: REVISION_HEADERS('shop', 'catalog-00002') },
        ],
        timeouts: { request: '0s' },
      }],
    });
  });

  // name | hostnames | Gateway | visibility label | tag label | backends (revision:weight)
  it.each([
    ['catalog.shop.svc.cluster.local', ['catalog.shop', 'catalog.shop.svc', 'catalog.shop.svc.cluster.local'], 'knative-local-gateway', 'cluster-local', undefined, ['catalog-00001:90', 'catalog-00002:10']],
    ['catalog.shop.example.com', ['catalog.shop.example.com'], 'knative-gateway', '', undefined, ['catalog-00001:90', 'catalog-00002:10']],
    ['candidate-catalog.shop.svc.cluster.local', ['candidate-catalog.shop', 'candidate-catalog.shop.svc', 'candidate-catalog.shop.svc.cluster.local'], 'knative-local-gateway', 'cluster-local', 'candidate', ['catalog-00002:100']],
    ['candidate-catalog.shop.example.com', ['candidate-catalog.shop.example.com'], 'knative-gateway', '', 'candidate', ['catalog-00002:100']],
  ])('%s: hosts %j on %s', (name, hostnames, gateway, visibility, tag, backends) => {
    const route = find(catalog, 'HTTPRoute', name) as any;
    expect(route.metadata.namespace).toBe('shop');
    expect(route.spec.hostnames).toEqual(hostnames);
    expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'istio-system', name: gateway }]);
    expect(route.metadata.labels['networking.knative.dev/visibility']).toBe(visibility);
    expect(route.metadata.labels['networking.knative.dev/tag']).toBe(tag);
    expect(route.spec.rules).toHaveLength(1);
    expect(route.spec.rules[0].backendRefs.map((b: any) => `${b.name}:${b.weight}`)).toEqual(backends);
    for (const b of route.spec.rules[0].backendRefs) expect(b.filters).toEqual(REVISION_HEADERS('shop', b.name));
    const single = backends.length === 1 ? { set: REVISION_HEADERS('shop', route.spec.rules[0].backendRefs[0].name)[0].requestHeaderModifier.set } : {};
    expect(route.spec.rules[0].filters).toEqual([{ type: 'RequestHeaderModifier', requestHeaderModifier: { ...single, remove: [...RUNTIME_ONLY_HEADERS] } }]);
  });

  // Traefik v3.6.12 ignores backendRef-level filters, so a single-backend rule also sets the
  // revision headers on the rule-level filter; a split cannot (the headers differ per backend).
  // traffic | rule-level `set` (revision names) | per-backend `set` (revision names)
  it.each([
    ['100% latest', [{ latestRevision: true, percent: 100 }], ['svc-00002'], ['svc-00002']],
    ['100% a pinned revision', [{ revisionName: 'svc-00001', percent: 100 }], ['svc-00001'], ['svc-00001']],
    ['90/10 split', [{ revisionName: 'svc-00001', percent: 90 }, { latestRevision: true, percent: 10 }], [], ['svc-00001', 'svc-00002']],
  ] as const)('%s: the rule-level filter sets the revision headers of %j', (_name, traffic, ruleSet, backendSet) => {
    const objects = service({
      namespace: 'ns', generation: 2, revisions: [{ name: 'svc-00001', containers: [{ image: 'example/app:0' }] }], traffic: [...traffic],
    });
    for (const route of kinds(objects, 'HTTPRoute') as any[]) {
      const rule = route.spec.rules[0];
      const ruleFilter = rule.filters[0].requestHeaderModifier;
      expect(ruleFilter.remove).toEqual([...RUNTIME_ONLY_HEADERS]);
      expect(ruleFilter.set ?? []).toEqual(ruleSet.flatMap((r) => REVISION_HEADERS('ns', r)[0].requestHeaderModifier.set));
      expect(rule.backendRefs.map((b: any) => b.name)).toEqual(backendSet);
      for (const b of rule.backendRefs) expect(b.filters).toEqual(REVISION_HEADERS('ns', b.name));
    }
    expect(kinds(objects, 'HTTPRoute').length).toBeGreaterThan(0);
  });

  it('exactly those four HTTPRoutes, and no Istio object', () => {
    expect(kinds(catalog, 'HTTPRoute').map((o) => o.metadata.name).sort()).toEqual([
      'candidate-catalog.shop.example.com', 'candidate-catalog.shop.svc.cluster.local', 'catalog.shop.example.com', 'catalog.shop.svc.cluster.local',
    ]);
    expect(catalog.filter((o) => o.apiVersion.startsWith('networking.istio.io'))).toEqual([]);
  });

  it("the route's ExternalName Services point at the local Gateway's Service", () => {
    const externalNames = kinds(catalog, 'Service').filter((s: any) => s.spec.type === 'ExternalName') as any[];
    expect(externalNames.map((s) => [s.metadata.name, s.spec.externalName])).toEqual([
      ['catalog', 'knative-local-gateway.istio-system.svc.cluster.local'],
      ['candidate-catalog', 'knative-local-gateway.istio-system.svc.cluster.local'],
    ]);
  });
});

describe('Gateway API choices', () => {
  it('Istio stays the default: the Istio examples have VirtualServices and no HTTPRoute', () => {
    const istio = Object.entries(synthExamples()).filter(([chart]) => chart !== 'gateway-api').flatMap(([, objects]) => objects);
    expect(kinds(istio, 'HTTPRoute')).toEqual([]);
    expect(kinds(istio, 'VirtualService').length).toBeGreaterThan(0);
    expect(kinds(istio, 'Gateway').every((g) => g.apiVersion === 'networking.istio.io/v1beta1')).toBe(true);
  });

  it('a cluster-local service gets only the cluster-local HTTPRoute, on the local Gateway', () => {
    const routes = kinds(service({ visibility: Visibility.CLUSTER_LOCAL }), 'HTTPRoute') as any[];
    expect(routes.map((r) => [r.metadata.name, r.spec.parentRefs[0].name, r.metadata.labels['networking.knative.dev/visibility']])).toEqual([
      ['svc.default.svc.cluster.local', 'knative-local-gateway', 'cluster-local'],
    ]);
  });

  it('gateways, the ExternalName target and the request timeout are configurable', () => {
    const objects = service({
      config: {
        ingress: Ingress.GATEWAY_API,
        gatewayApi: {
          externalGateway: 'traefik/public', localGateway: 'traefik/internal',
          localGatewayService: 'traefik-internal.traefik.svc.cluster.local', requestTimeoutSupported: false,
        },
      },
    }) as any[];
    const routes = kinds(objects, 'HTTPRoute') as any[];
    expect(routes.map((r) => `${r.spec.parentRefs[0].namespace}/${r.spec.parentRefs[0].name}`)).toEqual(['traefik/internal', 'traefik/public']);
    expect(routes.every((r) => !('timeouts' in r.spec.rules[0]))).toBe(true);
    expect(find(objects, 'Service', 'svc').spec).toMatchObject({ type: 'ExternalName', externalName: 'traefik-internal.traefik.svc.cluster.local' });
  });

  it('an h2c revision is reached on its public Service port 81', () => {
    const routes = kinds(service({ containers: [{ image: 'example/grpc:1', port: 9000, portName: 'h2c' }] }), 'HTTPRoute') as any[];
    expect(routes.flatMap((r) => r.spec.rules[0].backendRefs.map((b: any) => b.port))).toEqual([81, 81]);
  });

  it("a tag added later (KService.addTraffic) gets its Service and HTTPRoutes", () => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', { containers: [{ image: 'example/app:1' }], config: GATEWAY_API_CONFIG });
    svc.addTraffic({ latestRevision: true, percent: 0, tag: 'preview' });
    expect(kinds(synthChart(chart), 'HTTPRoute').map((o) => o.metadata.name)).toEqual([
      'svc.default.svc.cluster.local', 'svc.default.example.com', 'preview-svc.default.svc.cluster.local', 'preview-svc.default.example.com',
    ]);
    expect(svc.route.httpRoutes).toHaveLength(4);
    expect(svc.route.ingressVirtualService).toBeUndefined();
  });

  it('a bad ingress value is a clear error naming the field', () => {
    expect(() => service({ config: { ingress: 'nginx' as Ingress } })).toThrow(/config\.ingress: must be one of istio, gateway-api, got "nginx"/);
    expect(() => servingSystem({ config: { ingress: 'nginx' as Ingress } })).toThrow(/config\.ingress: must be one of istio, gateway-api, got "nginx"/);
  });

  it('gateway references that are not NAMESPACE/NAME and an empty class are clear errors', () => {
    const config = { ingress: Ingress.GATEWAY_API, gatewayApi: { externalGateway: 'public', localGateway: 'a/b/c', gatewayClassName: ' ' } };
    for (const build of [() => service({ config }), () => servingSystem({ config })]) {
      expect(build).toThrow(/config\.gatewayApi\.externalGateway: must be NAMESPACE\/NAME of a Gateway API Gateway, got "public"/);
      expect(build).toThrow(/config\.gatewayApi\.localGateway: must be NAMESPACE\/NAME of a Gateway API Gateway, got "a\/b\/c"/);
      expect(build).toThrow(/config\.gatewayApi\.gatewayClassName: must be a non-empty string/);
    }
    const wrongType = { ingress: Ingress.GATEWAY_API, gatewayApi: { gatewayClassName: 7 as unknown as string } };
    expect(() => servingSystem({ config: wrongType })).toThrow(/config\.gatewayApi\.gatewayClassName: must be a non-empty string/);
  });
});

describe('ServingSystem with the Gateway API', () => {
  const gateways = kinds(system, 'Gateway') as any[];

  it('emits the external and the local Gateway, HTTP on port 80 for routes of every namespace', () => {
    expect(gateways.map((g) => [g.apiVersion, `${g.metadata.namespace}/${g.metadata.name}`])).toEqual([
      ['gateway.networking.k8s.io/v1', 'istio-system/knative-gateway'],
      ['gateway.networking.k8s.io/v1', 'istio-system/knative-local-gateway'],
    ]);
    for (const g of gateways) {
      expect(g.spec).toEqual({
        gatewayClassName: 'istio',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
      });
    }
  });

  it('emits no Istio object (no Istio Gateway, no knative-local-gateway Service)', () => {
    expect(system.filter((o) => o.apiVersion.startsWith('networking.istio.io'))).toEqual([]);
    expect(system.filter((o) => o.metadata.namespace === 'istio-system' && o.kind === 'Service')).toEqual([]);
  });

  it('takes the gatewayClassName from the config and leaves Gateways it is pointed at alone', () => {
    const custom = servingSystem({ config: { ingress: Ingress.GATEWAY_API, gatewayApi: { gatewayClassName: 'traefik', externalGateway: 'edge/public', listenerPort: 8000 } } }) as any[];
    expect(kinds(custom, 'Gateway').map((g: any) => [`${g.metadata.namespace}/${g.metadata.name}`, g.spec.gatewayClassName, g.spec.listeners[0].port])).toEqual([
      ['istio-system/knative-local-gateway', 'traefik', 8000],
    ]);
    expect(() => servingSystem({ config: { ingress: Ingress.GATEWAY_API, gatewayApi: { listenerPort: 0 } } })).toThrow(/config\.gatewayApi\.listenerPort: must be a port number \(1-65535\), got 0/);
  });
});

describe('schema: Gateway API CRDs (v1.4.1 standard channel)', () => {
  const objects = [...catalog, ...system];

  it.each(objects.map((o) => [`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o] as const))('%s is valid (open and strict)', (_label, o) => {
    expect(() => validateWithModels(o)).not.toThrow();
    expect(strictErrors(o)).toEqual([]);
  });

  function withChange(o: Manifest, change: (copy: any) => void): Manifest {
    const copy = structuredClone(o);
    change(copy);
    return copy;
  }

  it('rejects a typo in an HTTPRoute backendRef', () => {
    const bad = withChange(find(catalog, 'HTTPRoute', 'catalog.shop.example.com'), (r) => (r.spec.rules[0].backendRefs[0].wieght = 90));
    expect(() => validateWithModels(bad)).not.toThrow();
    expect(strictErrors(bad).join('\n')).toContain('wieght');
  });

  it('rejects a typo in a Gateway listener', () => {
    const bad = withChange(find(system, 'Gateway', 'knative-gateway'), (g) => (g.spec.listeners[0].allowedRoute = {}));
    expect(strictErrors(bad).join('\n')).toContain('allowedRoute');
  });

  it('rejects a weight that is not a number and a weight above the CRD maximum', () => {
    const route = find(catalog, 'HTTPRoute', 'catalog.shop.example.com');
    expect(() => validateWithModels(withChange(route, (r) => (r.spec.rules[0].backendRefs[0].weight = 'ninety')))).toThrow(/weight/);
    expect(strictErrors(withChange(route, (r) => (r.spec.rules[0].backendRefs[0].weight = 1_000_001))).join('\n')).toMatch(/weight must be <= 1000000/);
  });
});

describe('CLI --config ingress', () => {
  async function compileWith(config: string) {
    const dir = tempDir({ 'hello.yaml': HELLO, 'config.yaml': config });
    try {
      return await run(['compile', `${dir}/hello.yaml`, '--config', `${dir}/config.yaml`]);
    } finally {
      removeDir(dir);
    }
  }

  it('ingress: gateway-api compiles HTTPRoutes and Gateway API Gateways instead of Istio objects', async () => {
    const result = await compileWith('ingress: gateway-api\ngatewayApi:\n  gatewayClassName: traefik\n  listenerPort: 8000\n');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const objects = parseAllDocuments(result.stdout).map((d) => d.toJS() as Manifest).filter(Boolean);
    expect(kinds(objects, 'HTTPRoute').map((o) => o.metadata.name)).toEqual(['hello.default.svc.cluster.local', 'hello.default.example.com']);
    expect(kinds(objects, 'Gateway').map((g: any) => [g.apiVersion, g.spec.gatewayClassName, g.spec.listeners[0].port])).toEqual([
      ['gateway.networking.k8s.io/v1', 'traefik', 8000], ['gateway.networking.k8s.io/v1', 'traefik', 8000],
    ]);
    expect(kinds(objects, 'VirtualService')).toEqual([]);
  });

  it('rejects an unknown ingress and a misspelt gatewayApi field with file, position and field', async () => {
    const result = await compileWith('ingress: nginx\ngatewayApi:\n  gatewayClass: traefik\n');
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/config\.yaml:1:10 ingress: must be one of/);
    expect(result.stderr).toMatch(/config\.yaml:3:3 gatewayApi\.gatewayClass: unknown field/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
