/**
 * What cdk8s users expect of the constructs: the chart's namespace, the name from the construct
 * id, customizations of the children that survive later `add*` calls, and wrong JavaScript types
 * reported as ValidationErrors naming the property. Everything is asserted on synthesized objects.
 */
import { ApiObject, App, Chart, Duration, JsonPatch } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { Ingress, KService, ServingSystem, ValidationError, type KServiceProps } from '../../lib';
import { ResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { serviceSpecOf } from '../../lib/constructs/kservice';
import { ManifestObject } from '../../lib/constructs/manifest-object';

const IMAGE = 'ghcr.io/example/app:1.0.0';
const BASE: KServiceProps = { containers: [{ image: IMAGE }] };

type Manifest = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

function objectsOf(chart: Chart): Manifest[] {
  return chart.toJson() as Manifest[];
}

function find(objects: Manifest[], kind: string, name: string): Manifest {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** The problems of the ValidationError `make` throws (and that it is one), by path as text. */
function problemsOf(make: () => unknown): readonly { path: string; message: string }[] {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).problems.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

describe('objects default to the chart namespace', () => {
  const cases: [string, string | undefined, string | undefined, string][] = [
    // [case, chart namespace, namespace prop, expected namespace]
    ['no chart namespace, no prop', undefined, undefined, 'default'],
    ['chart namespace', 'team', undefined, 'team'],
    ['the prop wins over the chart', 'team', 'shop', 'shop'],
    ['the prop without a chart namespace', undefined, 'shop', 'shop'],
  ];
  it.each(cases)('%s', (_case, chartNamespace, namespace, expected) => {
    const chart = new Chart(new App(), 'c', { namespace: chartNamespace });
    const svc = new KService(chart, 'hello', { ...BASE, namespace });
    const objects = objectsOf(chart);
    expect(svc.namespace).toBe(expected);
    expect(svc.revisions.map((r) => r.namespace)).toEqual([expected]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      `Deployment/${expected}/hello-00001-deployment`,
      `Service/${expected}/hello-00001-private`,
      `Service/${expected}/hello-00001`,
      `Endpoints/${expected}/hello-00001`,
      `Service/${expected}/hello`,
      `VirtualService/${expected}/hello-ingress`,
      `VirtualService/${expected}/hello-mesh`,
    ]);
    // The hosts follow the namespace too.
    expect(find(objects, 'VirtualService', 'hello-mesh').spec.hosts).toContain(`hello.${expected}.svc.cluster.local`);
  });

  it("a chart namespace that is not a DNS-1123 label is reported as the chart's", () => {
    const chart = new Chart(new App(), 'c', { namespace: 'Team' });
    expect(problemsOf(() => new KService(chart, 'hello', BASE))).toEqual([
      { path: 'namespace', message: 'not set, and the chart\'s namespace "Team" is not a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters); fix the chart\'s namespace or set `namespace`' },
    ]);
    expect(() => new KService(chart, 'hello', { ...BASE, namespace: 'team' })).not.toThrow();
  });

  it.each([{}, { ingress: Ingress.GATEWAY_API }])('a ServingSystem synthesizes the same in a namespaced chart (config %j)', (config) => {
    const plain = new Chart(new App(), 'c');
    new ServingSystem(plain, 'serving', { config });
    const team = new Chart(new App(), 'c', { namespace: 'team' });
    new ServingSystem(team, 'serving', { config });
    expect(objectsOf(team)).toEqual(objectsOf(plain));
  });

  it("the ServingSystem's RBAC follows the chart namespace; its Namespace object takes none", () => {
    const app = new App();
    new KService(new Chart(app, 'a', { namespace: 'team' }), 'hello', BASE);
    new KService(new Chart(app, 'b', { namespace: 'shop' }), 'cart', { ...BASE, namespace: 'orders' });
    const system = new Chart(app, 'system', { namespace: 'team' });
    new ServingSystem(system, 'serving');
    const objects = objectsOf(system);
    const roles = objects.filter((o) => o.kind.endsWith('Role') || o.kind.endsWith('RoleBinding')).map((o) => `${o.kind}/${o.metadata.namespace}`);
    // knative-serving's own, plus one per namespace holding revisions (the chart's 'team', the prop's 'orders');
    // the read ClusterRole and its binding take no namespace.
    expect(new Set(roles)).toEqual(
      new Set(['ClusterRole/undefined', 'ClusterRoleBinding/undefined', 'Role/knative-serving', 'RoleBinding/knative-serving', 'Role/team', 'RoleBinding/team', 'Role/orders', 'RoleBinding/orders']),
    );
    expect(find(objects, 'Namespace', 'knative-serving').metadata).toEqual({ name: 'knative-serving' });
    const env = find(objects, 'Deployment', 'autoscaler').spec.template.spec.containers[0].env;
    expect(env.map((e: { name: string }) => e.name)).not.toContain('KSERVICE_NAMESPACES');
  });
});

describe('the service name defaults from the construct id', () => {
  const hint = (id: string, example: string) =>
    `not set, and the construct id "${id}" cannot be the service name (a DNS-1035 label: lowercase letters, digits and "-", ` +
    `starting with a letter, at most 63 characters); set \`name\`${example}`;
  const bad: [string, string][] = [
    ['HelloWorld', hint('HelloWorld', ", e.g. name: 'hello-world'")],
    ['my_service', hint('my_service', ", e.g. name: 'my-service'")],
    ['API-v2', hint('API-v2', ", e.g. name: 'api-v2'")],
    ['1st', hint('1st', ", e.g. name: 'st'")],
    ['123', hint('123', '')],
  ];
  it.each(bad)('id %j gives one error that says to set name', (id, message) => {
    const chart = new Chart(new App(), 'c');
    expect(problemsOf(() => new KService(chart, id, BASE))).toEqual([{ path: 'name', message }]);
    expect(chart.node.children).toHaveLength(0);
  });

  it('also when other props are wrong (the name is decided first)', () => {
    expect(problemsOf(() => new KService(new Chart(new App(), 'c'), 'HelloWorld', { ...BASE, containerConcurrency: -1 }))).toEqual([
      { path: 'name', message: hint('HelloWorld', ", e.g. name: 'hello-world'") },
    ]);
  });

  const good: [string, KServiceProps, string][] = [
    ['hello', BASE, 'hello'],
    ['HelloWorld', { ...BASE, name: 'hello-world' }, 'hello-world'],
  ];
  it.each(good)('id %j with %j is named %j', (id, props, name) => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, id, props);
    expect(svc.name).toBe(name);
    expect(find(objectsOf(chart), 'Service', name).spec.type).toBe('ExternalName');
  });
});

/** A customization of one child object, and how to see it in that object's manifest. */
interface Customization {
  readonly name: string;
  readonly apply: (o: ApiObject) => void;
  readonly visible: (m: Manifest) => unknown;
  readonly expected: unknown;
}

const customizations: Customization[] = [
  { name: 'metadata.addLabel', apply: (o) => o.metadata.addLabel('team', 'payments'), visible: (m) => m.metadata.labels?.team, expected: 'payments' },
  { name: 'metadata.addAnnotation', apply: (o) => o.metadata.addAnnotation('owner', 'me'), visible: (m) => m.metadata.annotations?.owner, expected: 'me' },
  { name: 'addJsonPatch', apply: (o) => o.addJsonPatch(JsonPatch.add('/metadata/labels/patched', 'yes')), visible: (m) => m.metadata.labels?.patched, expected: 'yes' },
];

/** Which child to customize, and which object it is in the output. */
const children: [string, (svc: KService) => ApiObject, string, string][] = [
  ['the Deployment', (svc) => svc.revisions[0].deployment, 'Deployment', 'svc-00002-deployment'],
  ['the public Service', (svc) => svc.revisions[0].publicService, 'Service', 'svc-00002'],
  ['the ingress VirtualService', (svc) => svc.route.ingressVirtualService!, 'VirtualService', 'svc-ingress'],
  ['the route Service', (svc) => svc.route.services[0], 'Service', 'svc'],
];

/** The service the mutations start from: generation 2, so that svc-00001 can be added. */
const MUTATED: KServiceProps = { containers: [{ image: IMAGE, port: 8080 }], generation: 2 };
const OLD = { name: 'svc-00001', containers: [{ image: 'ghcr.io/example/app:0.9.0' }] };

/** Each mutation, and a check that it took effect. */
const mutations: [string, (svc: KService) => void, (objects: Manifest[]) => void][] = [
  ['addEnv', (svc) => svc.addEnv('GREETING', 'hi'), (objects) => {
    const env = find(objects, 'Deployment', 'svc-00002-deployment').spec.template.spec.containers[0].env;
    expect(env[0]).toEqual({ name: 'GREETING', value: 'hi' });
  }],
  ['addContainer', (svc) => svc.addContainer({ name: 'logger', image: 'ghcr.io/example/logger:1' }), (objects) => {
    const names = find(objects, 'Deployment', 'svc-00002-deployment').spec.template.spec.containers.map((c: { name: string }) => c.name);
    expect(names).toEqual(['user-container-0', 'logger', 'queue-proxy']);
  }],
  ['addRevision + addTraffic (split and tag)', (svc) => {
    svc.addRevision(OLD);
    svc.addTraffic({ revisionName: 'svc-00001', percent: 90 }, { latestRevision: true, percent: 10, tag: 'next' });
  }, (objects) => {
    find(objects, 'Deployment', 'svc-00001-deployment');
    find(objects, 'Service', 'next-svc');
    const weights = find(objects, 'VirtualService', 'svc-ingress').spec.http.map((h: { route: { weight: number }[] }) => h.route.map((r) => r.weight));
    expect(weights).toContainEqual([90, 10]);
  }],
];

describe('customizations of the children survive later add* calls', () => {
  for (const [mutation, mutate, tookEffect] of mutations) {
    for (const [child, pick, kind, name] of children) {
      it.each(customizations)(`${mutation}: $name on ${child}`, ({ apply, visible, expected }) => {
        const chart = new Chart(new App(), 'c');
        const svc = new KService(chart, 'svc', MUTATED);
        const object = pick(svc);
        apply(object);
        mutate(svc);
        const objects = objectsOf(chart);
        tookEffect(objects);
        expect(pick(svc)).toBe(object); // the same, long-lived child
        expect(visible(find(objects, kind, name))).toEqual(expected);
      });
    }
  }

  it.each(mutations)('%s synthesizes the same objects as the same props given at once', (_name, mutate) => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', MUTATED);
    mutate(svc);
    const direct = new Chart(new App(), 'c');
    new KService(direct, 'svc', svc.props);
    expect(objectsOf(chart)).toEqual(objectsOf(direct)); // objects, fields and order
  });

  it.each(customizations)('Gateway API: $name on an HTTPRoute survives addTraffic with a new tag', ({ apply, visible, expected }) => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', { ...MUTATED, config: { ingress: Ingress.GATEWAY_API } });
    const [route] = svc.route.httpRoutes;
    apply(route);
    svc.addTraffic({ latestRevision: true, tag: 'next' });
    const objects = objectsOf(chart);
    expect(objects.filter((o) => o.kind === 'HTTPRoute').map((o) => o.metadata.name)).toEqual(svc.route.httpRoutes.map((r) => r.name));
    expect(svc.route.httpRoutes[0]).toBe(route);
    expect(svc.route.httpRoutes.length).toBeGreaterThan(1); // the tag's own HTTPRoute(s) were added
    expect(visible(find(objects, 'HTTPRoute', route.name))).toEqual(expected);
  });

  it('a customization made after an add* call is kept too, and the child keeps its construct path', () => {
    const chart = new Chart(new App(), 'c');
    const svc = new KService(chart, 'svc', BASE);
    const path = svc.revisions[0].deployment.node.path;
    svc.addEnv('A', 'b');
    svc.revisions[0].deployment.metadata.addLabel('after', 'yes');
    svc.addEnv('C', 'd');
    expect(svc.revisions[0].deployment.node.path).toBe(path);
    expect(find(objectsOf(chart), 'Deployment', 'svc-00001-deployment').metadata.labels?.after).toBe('yes');
  });
});

describe('a produced ManifestObject (the long-lived children) fails loudly rather than turn into another object', () => {
  const configMap = (name: string, labels: Record<string, string>, data: Record<string, string> = { a: '1' }) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });

  function produced(first: ReturnType<typeof configMap>) {
    let current = first;
    const chart = new Chart(new App(), 'c');
    const object = new ManifestObject(chart, 'o', first as never, () => current as never);
    return { chart, object, set: (next: ReturnType<typeof configMap>) => (current = next) };
  }

  it('renders the current body and labels, keeping labels added by hand', () => {
    const { chart, object, set } = produced(configMap('m', { a: '1', b: '1' }));
    object.metadata.addLabel('mine', 'x');
    set(configMap('m', { a: '1', b: '2', c: '3' }, { a: '2' }));
    expect(objectsOf(chart)).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', labels: { a: '1', b: '2', c: '3', mine: 'x' } }, data: { a: '2' } }]);
  });

  const refused: [string, ReturnType<typeof configMap>, string][] = [
    ['a new name', configMap('other', { a: '1' }), 'its name, namespace or other metadata changed'],
    ['a dropped label', configMap('m', {}), 'its label "a" was dropped'],
    ['other top-level fields', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm', labels: { a: '1' } }, binaryData: {} } as never, 'its kind or its top-level fields changed'],
  ];
  it.each(refused)('%s', (_case, next, reason) => {
    const { chart, set } = produced(configMap('m', { a: '1' }));
    set(next);
    expect(() => chart.toJson()).toThrow(`c/o: the object was created at construction and cannot become another one at synth time (${reason}); create a new construct instead`);
  });
});

describe('wrong JavaScript types are ValidationErrors naming the property', () => {
  const cases: [string, Record<string, unknown>, { path: string; message: string }[]][] = [
    ['timeout: 30', { timeout: 30 }, [{ path: 'timeout', message: 'must be a Duration (cdk8s Duration.seconds(...) etc.), got the number 30' }]],
    ["timeout: '30s'", { timeout: '30s' }, [{ path: 'timeout', message: 'must be a Duration (cdk8s Duration.seconds(...) etc.), got the string "30s"' }]],
    ['env: { A: 1 }', { containers: [{ image: IMAGE, env: { A: 1 } }] }, [{ path: 'containers[0].env.A', message: 'must be a string, got the number 1' }]],
    ["minScale: '1'", { autoscaling: { minScale: '1' } }, [{ path: 'autoscaling.minScale', message: 'must be a number, got the string "1"' }]],
    ['window: 60', { autoscaling: { window: 60 } }, [{ path: 'autoscaling.window', message: 'must be a Duration (cdk8s Duration.seconds(...) etc.), got the number 60' }]],
    ['an earlier revision\'s timeout', { revisions: [{ name: 'h-00001', containers: [{ image: IMAGE }], timeout: 30 }] }, [{ path: 'revisions[0].timeout', message: 'must be a Duration (cdk8s Duration.seconds(...) etc.), got the number 30' }]],
    ['resources: a Date', { containers: [{ image: IMAGE, resources: new Date(0) }] }, [{ path: 'containers[0].resources', message: 'must be an object, got a Date' }]],
    ['nodeSelector: a Map', { nodeSelector: new Map([['disk', 'ssd']]) }, [{ path: 'nodeSelector', message: 'must be an object, got a Map' }]],
    ['port: "8080"', { containers: [{ image: IMAGE, port: '8080' }] }, [{ path: 'containers[0].port', message: 'must be a number, got the string "8080"' }]],
  ];
  it.each(cases)('%s', (_case, change, problems) => {
    const chart = new Chart(new App(), 'c');
    expect(problemsOf(() => new KService(chart, 'h', { ...BASE, ...change } as unknown as KServiceProps))).toEqual(problems);
    expect(chart.node.children).toHaveLength(0);
  });

  it('kubernetes-models objects pass as the plain objects they render', () => {
    const chart = new Chart(new App(), 'c');
    new KService(chart, 'h', { containers: [{ image: IMAGE, resources: new ResourceRequirements({ limits: { memory: '128Mi' } }) }] });
    const container = find(objectsOf(chart), 'Deployment', 'h-00001-deployment').spec.template.spec.containers[0];
    expect(container.resources).toEqual({ limits: { memory: '128Mi' } });
  });

  it('the right types pass (Duration values)', () => {
    const svc = new KService(new Chart(new App(), 'c'), 'h', { ...BASE, timeout: Duration.seconds(30), autoscaling: { minScale: 1, window: Duration.seconds(60) } });
    expect(serviceSpecOf(svc).revisions[0].timeoutSeconds).toBe(30);
  });
});
