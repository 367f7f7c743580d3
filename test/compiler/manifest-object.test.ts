import { ApiObject, App, Chart, JsonPatch, Lazy, type IResolver, type ResolutionContext } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { buildExamplesApp } from '../../examples/charts';
import { ManifestObject, NOT_PLAIN, sanitizePlainJson } from '../../lib/constructs/manifest-object';

/** What cdk8s' own ApiObject.toJson renders for the same object (or the error it throws). */
function cdk8sRendering(obj: ApiObject): string {
  try {
    return JSON.stringify(ApiObject.prototype.toJson.call(obj));
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

function ourRendering(obj: ApiObject): string {
  try {
    return JSON.stringify(obj.toJson());
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

function manifestObjects(app: App): ManifestObject[] {
  return app.node.findAll().filter((c): c is ManifestObject => c instanceof ManifestObject);
}

/** A ManifestObject with a hand-written body in a fresh chart. */
function objectWith(body: Record<string, unknown>, options: { app?: App; chartLabels?: Record<string, string>; chartNamespace?: string } = {}): ManifestObject {
  const app = options.app ?? new App();
  const chart = new Chart(app, 'c', { labels: options.chartLabels, namespace: options.chartNamespace });
  return new ManifestObject(chart, 'o', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'm' }, ...body } as never);
}

describe('ManifestObject renders exactly what ApiObject.toJson renders', () => {
  const app = buildExamplesApp();
  const objects = manifestObjects(app);

  it('for every object of the examples, key order included', () => {
    expect(objects.length).toBeGreaterThan(50);
    for (const obj of objects) expect(ourRendering(obj), obj.node.path).toBe(cdk8sRendering(obj));
  });

  it('takes the fast path for every builder object except the lazily computed runtime Deployments', () => {
    const slow = objects.filter((o) => sanitizePlainJson((o as unknown as { body: unknown }).body) === NOT_PLAIN);
    expect(slow.map((o) => o.name).sort()).toEqual(['activator', 'autoscaler']);
  });

  const cases: [string, () => ManifestObject][] = [
    ['nulls, undefined and unsorted nested keys', () => objectWith({ data: { z: '1', a: null, m: undefined, nested: { y: 2, b: [{ d: true, c: 'x' }] } } })],
    ['chart labels and namespace, metadata added later', () => {
      const o = objectWith({ data: { a: '1' } }, { chartLabels: { team: 'x' }, chartNamespace: 'ns' });
      o.metadata.addLabel('added', 'later');
      o.metadata.addAnnotation('note', 'yes');
      return o;
    }],
    ['a JSON patch', () => {
      const o = objectWith({ data: { a: '1' } });
      o.addJsonPatch(JsonPatch.add('/data/b', '2'));
      return o;
    }],
    ['a Lazy value', () => objectWith({ data: { a: Lazy.any({ produce: () => ({ z: 1, b: 'two' }) }) } })],
    ['a custom resolver on the App', () => {
      const upper: IResolver = { resolve: (c: ResolutionContext) => (typeof c.value === 'string' && c.value === 'low' ? c.replaceValue('HIGH') : undefined) };
      return objectWith({ data: { a: 'low' } }, { app: new App({ resolvers: [upper] }) });
    }],
    ['numbers JSON cannot carry (NaN, Infinity, -0)', () => objectWith({ data: { n: NaN, i: Infinity, z: -0 } })],
    ['null and missing array items', () => objectWith({ list: [1, null, undefined, 'x'], sparse: [1, , 3] })],
    ['a "constructor" key', () => objectWith({ data: { constructor: 'x' } })],
    ['a class instance', () => objectWith({ data: { when: new Date(0) } })],
    ['an object with a resolve() method', () => objectWith({ data: { v: { resolve: () => 'resolved' } } })],
  ];
  for (const [name, build] of cases) {
    it(`with ${name}`, () => {
      const obj = build();
      expect(ourRendering(obj)).toBe(cdk8sRendering(obj));
    });
  }

  it('keeps JSON-unsafe values exactly (cdk8s path), e.g. NaN stays NaN', () => {
    const obj = objectWith({ data: { n: NaN } });
    expect(Number.isNaN((obj.toJson() as { data: { n: number } }).data.n)).toBe(true);
  });
});

describe('sanitizePlainJson', () => {
  it('sorts keys, drops nullish properties and copies', () => {
    const input = { b: 1, a: { d: null, c: ['x'] } };
    const out = sanitizePlainJson(input) as Record<string, unknown>;
    expect(JSON.stringify(out)).toBe('{"a":{"c":["x"]},"b":1}');
    expect(out.a).not.toBe(input.a);
  });

  it.each([
    ['a function', { f: () => 1 }],
    ['a Lazy', { l: Lazy.any({ produce: () => 1 }) }],
    ['a null array item', { a: [null] }],
    ['NaN', { n: NaN }],
    ['-0', { z: -0 }],
    ['a bigint', { b: BigInt(1) }],
    ['an own __proto__ key', JSON.parse('{"__proto__": {"x": 1}}')],
  ])('refuses %s', (_name, value) => {
    expect(sanitizePlainJson(value)).toBe(NOT_PLAIN);
  });
});
