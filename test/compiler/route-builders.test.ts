import { describe, expect, it } from 'vitest';
import { Visibility } from '../../lib';
import { buildRouteServices } from '../../lib/builders/route-service';
import { buildIngressVirtualService, buildMeshVirtualService, hostPrefixes } from '../../lib/builders/virtual-service';
import { IMAGE, serviceSpec } from './support/spec';
import { RUNTIME_ONLY_HEADERS } from '../../lib/contract/constants';

/** Every HTTP route strips the headers only the runtime may set. */
const STRIPPED = { request: { remove: [...RUNTIME_ONLY_HEADERS] } };

const canaryProps = {
  namespace: 'shop',
  generation: 2,
  revisions: [{ name: 'svc-00001', containers: [{ image: IMAGE }] }],
  traffic: [
    { revisionName: 'svc-00001', percent: 90 },
    { latestRevision: true, percent: 10, tag: 'candidate' },
  ],
};

function destination(rev: string, ns: string, weight: number, port = 80) {
  return {
    destination: { host: `${rev}.${ns}.svc.cluster.local`, port: { number: port } },
    weight,
    headers: { request: { set: { 'Knative-Serving-Namespace': ns, 'Knative-Serving-Revision': rev } } },
  };
}

describe('route k8s Services', () => {
  it.each([
    { case: 'default local gateway', config: {}, externalName: 'knative-local-gateway.istio-system.svc.cluster.local' },
    { case: 'configured local gateway', config: { localGatewayService: 'cluster-local-gateway.gke-system.svc.cluster.local' }, externalName: 'cluster-local-gateway.gke-system.svc.cluster.local' },
  ])('ExternalName to the $case', ({ config, externalName }) => {
    expect(buildRouteServices(serviceSpec({ config, labels: { team: 'a', 'networking.knative.dev/visibility': 'cluster-local' } }).route)).toEqual([{
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'svc', namespace: 'default', labels: { team: 'a', 'serving.knative.dev/route': 'svc', 'serving.knative.dev/service': 'svc' } },
      spec: {
        type: 'ExternalName',
        externalName,
        sessionAffinity: 'None',
        ports: [{ name: 'http2', appProtocol: 'kubernetes.io/h2c', port: 80, targetPort: 80 }],
      },
    }]);
  });

  it('one per tag, named by the tag template', () => {
    const names = (config = {}) => buildRouteServices(serviceSpec({ ...canaryProps, config }).route).map((s: any) => s.metadata.name);
    expect(names()).toEqual(['svc', 'candidate-svc']);
    expect(names({ tagTemplate: '{{.Name}}-{{.Tag}}' })).toEqual(['svc', 'svc-candidate']);
  });
});

describe('VirtualServices', () => {
  it('hello: ingress VS as net-istio makes it (knative-extensions/net-istio pkg/reconciler/ingress/resources/virtual_service.go)', () => {
    const vs = buildIngressVirtualService(serviceSpec({}, 'hello').route) as any;
    expect(vs.metadata.name).toBe('hello-ingress');
    expect(vs.metadata.labels).toEqual({
      'networking.internal.knative.dev/ingress': 'hello',
      'serving.knative.dev/route': 'hello',
      'serving.knative.dev/routeNamespace': 'default',
    });
    expect(vs.spec).toEqual({
      hosts: ['hello.default', 'hello.default.example.com', 'hello.default.svc', 'hello.default.svc.cluster.local'],
      gateways: ['knative-serving/knative-ingress-gateway', 'knative-serving/knative-local-gateway'],
      http: [
        { match: [{ authority: { prefix: 'hello.default' }, gateways: ['knative-serving/knative-local-gateway'] }], route: [destination('hello-00001', 'default', 100)], headers: STRIPPED, retries: {} },
        { match: [{ authority: { prefix: 'hello.default.example.com' }, gateways: ['knative-serving/knative-ingress-gateway'] }], route: [destination('hello-00001', 'default', 100)], headers: STRIPPED, retries: {} },
      ],
    });
  });

  it('hello: mesh VS has only cluster-local hosts on the mesh gateway', () => {
    const vs = buildMeshVirtualService(serviceSpec({}, 'hello').route) as any;
    expect(vs.metadata.name).toBe('hello-mesh');
    expect(vs.spec).toEqual({
      hosts: ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local'],
      gateways: ['mesh'],
      http: [{ match: [{ authority: { prefix: 'hello.default' }, gateways: ['mesh'] }], route: [destination('hello-00001', 'default', 100)], headers: STRIPPED, retries: {} }],
    });
  });

  it('canary: weighted split on the route hosts, the tag at 100% on its own hosts', () => {
    const vs = buildIngressVirtualService(serviceSpec(canaryProps).route) as any;
    const split = [destination('svc-00001', 'shop', 90), destination('svc-00002', 'shop', 10)];
    const tag = [destination('svc-00002', 'shop', 100)];
    expect(vs.spec.http.map((h: any) => [h.match[0].authority.prefix, h.route])).toEqual([
      ['svc.shop', split],
      ['svc.shop.example.com', split],
      ['candidate-svc.shop', tag],
      ['candidate-svc.shop.example.com', tag],
    ]);
    expect(vs.spec.hosts).toContain('candidate-svc.shop.svc.cluster.local');
    expect(JSON.parse(vs.metadata.annotations['networking.internal.knative.dev/tag-to-host'])).toEqual({
      // Knative's order: the cluster-local host, then the external one.
      candidate: ['candidate-svc.shop.svc.cluster.local', 'candidate-svc.shop.example.com'],
    });
  });

  it('merges targets on the same revision and skips 0% splits', () => {
    const spec = serviceSpec({
      revisions: [{ name: 'svc-old', containers: [{ image: IMAGE }] }],
      traffic: [
        { latestRevision: true, percent: 60 },
        { revisionName: 'svc-00001', percent: 40, tag: 'pinned' },
        { revisionName: 'svc-old', percent: 0, tag: 'old' },
      ],
    });
    expect(spec.route.names.map((n) => [n.tag, n.splits.map((s) => [s.revisionName, s.percent])])).toEqual([
      ['', [['svc-00001', 100], ['svc-old', 0]]],
      ['old', [['svc-old', 100]]],
      ['pinned', [['svc-00001', 100]]],
    ]);
    const vs = buildIngressVirtualService(spec.route) as any;
    expect(vs.spec.http[0].route).toEqual([destination('svc-00001', 'default', 100)]);
    expect(spec.revisions.map((r) => r.name)).toEqual(['svc-00001', 'svc-old']);
  });

  it.each([
    { case: 'visibility prop', props: { visibility: Visibility.CLUSTER_LOCAL } },
    { case: 'visibility label', props: { labels: { 'networking.knative.dev/visibility': 'cluster-local' } } },
    { case: 'svc.cluster.local domain', props: { config: { domain: 'svc.cluster.local' } } },
  ])('cluster-local ($case): no external host or gateway', ({ props }) => {
    const vs = buildIngressVirtualService(serviceSpec(props).route) as any;
    expect(vs.spec.hosts).toEqual(['svc.default', 'svc.default.svc', 'svc.default.svc.cluster.local']);
    expect(vs.spec.gateways).toEqual(['knative-serving/knative-local-gateway']);
    expect(vs.spec.http).toHaveLength(1);
  });

  it('h2c revisions are reached on port 81', () => {
    const vs = buildIngressVirtualService(serviceSpec({ containers: [{ image: IMAGE, portName: 'h2c' }] }).route) as any;
    expect(vs.spec.http[0].route[0].destination.port).toEqual({ number: 81 });
  });

  it('custom domain and gateways', () => {
    const vs = buildIngressVirtualService(serviceSpec({ config: { domain: 'apps.internal', externalGateway: 'gw/public', domainTemplate: '{{.Name}}-{{.Namespace}}.{{.Domain}}' } }).route) as any;
    expect(vs.spec.hosts).toContain('svc-default.apps.internal');
    expect(vs.spec.gateways).toEqual(['gw/public', 'knative-serving/knative-local-gateway']);
  });

  it('long route names shorten the VirtualService names with childName', () => {
    const long = 'r'.repeat(60);
    const route = serviceSpec({}, long).route;
    const name = (buildIngressVirtualService(route) as any).metadata.name;
    expect(name.length).toBe(63);
    expect(name.endsWith('-ingress')).toBe(true);
  });

  it.each([
    { hosts: ['a.ns', 'a.ns.svc', 'a.ns.svc.cluster.local'], want: ['a.ns'] },
    { hosts: ['a.ns.example.com'], want: ['a.ns.example.com'] },
    { hosts: ['b.ns.svc.cluster.local', 'a.ns.svc.cluster.local'], want: ['a.ns', 'b.ns'] },
  ])('host prefixes of $hosts', ({ hosts, want }) => {
    expect(hostPrefixes(hosts)).toEqual(want);
  });
});
