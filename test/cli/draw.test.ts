/**
 * `kservice graph` in-process: one Mermaid snapshot per example (drawn from the cdk8s App's
 * synthesized manifests, as `cdk8s synth` writes them), Knative YAML compiled first, the SVG
 * Graphviz lays out, tag-header routes, the README's picture, and bad input.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toMermaid } from '../../lib/cli/draw/mermaid';
import type { DrawGraph } from '../../lib/cli/draw/model';
import { toDot } from '../../lib/cli/draw/svg';
import { synthExamples, toYaml } from '../compiler/support/synth';
import { HELLO, run, snapshotTree, workDirs } from './helpers';

const workDir = workDirs();
const charts = synthExamples();
const EXAMPLES = Object.keys(charts).filter((name) => name !== 'serving-system').sort();
const synthDir = workDir(Object.fromEntries(Object.entries(charts).map(([name, objects]) => [`${name}.k8s.yaml`, toYaml(objects)])));
const README_PICTURE = path.join(__dirname, '..', '..', 'docs', 'graph', 'hello.mmd');

async function graph(...args: string[]): Promise<string> {
  const result = await run(['graph', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

describe('kservice graph: the examples', () => {
  it('covers every example', () => {
    expect(EXAMPLES).toEqual(['canary', 'cluster-local', 'data-plane-modes', 'gateway-api', 'grpc', 'hello', 'hpa-class', 'tuned-autoscaling']);
  });

  for (const name of EXAMPLES) {
    it(`${name}: the Mermaid of its synthesized manifests matches the snapshot`, async () => {
      const mermaid = await graph(path.join(synthDir, `${name}.k8s.yaml`));
      await expect(mermaid).toMatchFileSnapshot(`__snapshots__/draw/${name}.mmd`);
    });
  }

  it('draws the whole synth directory (serving system included) deterministically, one cluster per service', async () => {
    const first = await graph(synthDir);
    expect(await graph(synthDir)).toBe(first);
    const services = [...first.matchAll(/subgraph \S+\["service ([^"]+)"\]/g)].map((m) => m[1]);
    expect(services).toEqual([...services].sort());
    expect(services).toContain('shop/shop');
    expect(services).toContain('modes/lean');
    expect(services.some((s) => s.startsWith('knative-serving/'))).toBe(false);
  });

  it('canary: weights, the tag route and both revisions with their data-plane mode', async () => {
    const mermaid = await graph(path.join(synthDir, 'canary.k8s.yaml'));
    expect(mermaid).toContain('VirtualService_shop_shop_ingress -->|"90%"| Service_shop_shop_00001');
    expect(mermaid).toContain('VirtualService_shop_shop_ingress -->|"10%"| Service_shop_shop_00002');
    expect(mermaid).toContain('VirtualService_shop_shop_ingress -->|"tag candidate: 100%"| Service_shop_shop_00002');
    expect(mermaid).toContain('"revision shop-00001 · data plane full"');
    expect(mermaid).toContain('Service_shop_candidate_shop --> Gateway_knative_serving_knative_local_gateway');
  });

  it('data-plane-modes: the activator always in the path, or the public Service selecting the pods', async () => {
    const mermaid = await graph(path.join(synthDir, 'data-plane-modes.k8s.yaml'));
    expect(mermaid).toContain('Endpoints_modes_lean_00001 -->|"always (mode activator)"| Activator_knative_serving');
    expect(mermaid).not.toContain('Endpoints_modes_lean_00001 -->|"Serve');
    expect(mermaid).toContain('Service_modes_edge_00001 -->|"selector"| Deployment_modes_edge_00001_deployment');
    expect(mermaid).not.toContain('Endpoints_modes_edge_00001');
  });

  it('clients: outside ones through the external gateway, in-cluster ones by the ExternalName alias; a cluster-local service has no outside client', async () => {
    const hello = await graph(path.join(synthDir, 'hello.k8s.yaml'));
    expect(hello).toContain('Client_outside --> Gateway_knative_serving_knative_ingress_gateway');
    expect(hello).toContain('Client_in_cluster --> Service_default_hello\n');
    expect(hello).not.toMatch(/Client_outside --> Gateway_knative_serving_knative_local_gateway/);
    const clusterLocal = await graph(path.join(synthDir, 'cluster-local.k8s.yaml'));
    expect(clusterLocal).not.toContain('Client_outside');
    expect(clusterLocal).toContain('Client_in_cluster --> Service_backend_internal_api\n');
  });

  it('gateway-api: HTTPRoutes under their Gateways', async () => {
    const mermaid = await graph(path.join(synthDir, 'gateway-api.k8s.yaml'));
    expect(mermaid).toMatch(/\(\["Gateway<br\/>istio-system\/knative-local-gateway"\]\)/);
    expect(mermaid).toContain('HTTPRoute catalog.shop.example.com');
  });
});

describe('kservice graph: the README picture', () => {
  it(`docs/graph/hello.mmd is the graph of the hello example (regenerate: npx cdk8s synth && node bin/kservice.js graph dist/hello.k8s.yaml -o docs/graph/hello.mmd)`, async () => {
    const mermaid = await graph(path.join(synthDir, 'hello.k8s.yaml'));
    expect(readFileSync(README_PICTURE, 'utf8')).toBe(mermaid);
  });

  it('the README shows that picture under Request path', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const requestPath = readme.slice(readme.indexOf('## Request path'), readme.indexOf('## Set-up on a fresh machine'));
    expect(requestPath).toContain('```mermaid\n' + readFileSync(README_PICTURE, 'utf8') + '```');
  });
});

describe('kservice graph: Knative YAML and formats', () => {
  it('compiles Knative YAML first: stdin gives the same picture as the compiled manifests', async () => {
    const fromKnative = await run(['graph', '-'], HELLO);
    expect(fromKnative.code).toBe(0);
    const compiled = await run(['compile', '-'], HELLO);
    const dir = workDir({ 'compiled.yaml': compiled.stdout });
    expect(await graph(path.join(dir, 'compiled.yaml'))).toBe(fromKnative.stdout);
    expect(fromKnative.stdout).toContain('"revision hello-00001 · data plane full"');
  });

  it('renders SVG with Graphviz: well-formed, one node per object, the labels in it', async () => {
    const svg = await graph(path.join(synthDir, 'canary.k8s.yaml'), '--format', 'svg');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(unbalancedTags(svg)).toEqual([]);
    const titles = [...svg.matchAll(/<g id="node\d+" class="node">\s*<title>([^<]+)<\/title>/g)].map((m) => m[1]).sort();
    const mermaidIds = [...(await graph(path.join(synthDir, 'canary.k8s.yaml'))).matchAll(/^\s+(\w+)(?:\[|\(\[|\{)"/gm)].map((m) => m[1]).sort();
    expect(titles).toEqual(mermaidIds);
    for (const text of ['Service shop-00002', 'Endpoints shop-00001', 'activator', 'tag candidate: 100%', 'revision shop-00002 · data plane full']) {
      expect(svg).toContain(`>${text.replace(/-/g, '&#45;')}</text>`);
    }
  });

  it('writes DOT for users with their own Graphviz; -o picks the format from the extension, written atomically', async () => {
    const dir = workDir();
    const dot = await graph(path.join(synthDir, 'hello.k8s.yaml'), '--format', 'dot');
    expect(dot).toMatch(/^digraph kservice \{\n  rankdir=LR;/);
    expect(await graph(path.join(synthDir, 'hello.k8s.yaml'), '-o', path.join(dir, 'out', 'hello.dot'))).toBe('');
    expect(readFileSync(path.join(dir, 'out', 'hello.dot'), 'utf8')).toBe(dot);
    await graph(path.join(synthDir, 'hello.k8s.yaml'), '-o', path.join(dir, 'hello.svg'));
    expect(readFileSync(path.join(dir, 'hello.svg'), 'utf8')).toContain('<svg');
  });

  it('labels the routes of tag-header routing (Knative-Serving-Tag matches, Istio and Gateway API)', async () => {
    const dir = workDir({ 'routes.yaml': TAG_HEADER_ROUTES });
    const mermaid = await graph(path.join(dir, 'routes.yaml'));
    expect(mermaid).toContain('VirtualService_t_web_ingress -->|"Knative-Serving-Tag: blue → 100%"| Service_t_web_00002');
    expect(mermaid).toContain('VirtualService_t_web_ingress -->|"100%"| Service_t_web_00001');
    expect(mermaid).toContain('HTTPRoute_t_web_example_com -->|"Knative-Serving-Tag: blue → 100%"| Service_t_web_00002');
    expect(mermaid).toContain('"Service web-00002<br/>not in the input"');
  });
});

describe('kservice graph: the renderers quote what a hand-written manifest may hold', () => {
  const graph: DrawGraph = {
    nodes: [{ id: 'a', lines: ['say "hi"', '<b>\\x'], shape: 'box', cluster: 'c' }, { id: 'b', lines: ['b'], shape: 'diamond' }],
    edges: [{ from: 'a', to: 'b', label: '"50%"', dashed: true }],
    clusters: [{ id: 'c', label: 'the "c"' }],
  };

  it('Mermaid: entity codes for quotes and angle brackets', () => {
    expect(toMermaid(graph)).toBe(
      'flowchart LR\n  b{"b"}\n  subgraph c["the #quot;c#quot;"]\n    a["say #quot;hi#quot;<br/>#lt;b#gt;\\x"]\n  end\n  a -.->|"#quot;50%#quot;"| b\n',
    );
  });

  it('DOT: backslashes and quotes escaped, lines joined with \\n', () => {
    const dot = toDot(graph);
    expect(dot).toContain('a [label="say \\"hi\\"\\n<b>\\\\x", shape=box];');
    expect(dot).toContain('subgraph cluster_c {\n    label="the \\"c\\"";');
    expect(dot).toContain('a -> b [label="\\"50%\\"", style=dashed];');
  });
});

describe('kservice graph: bad input', () => {
  it('names file, position and field of a manifest it cannot draw, and writes nothing', async () => {
    const dir = workDir({ 'bad.yaml': BAD_ROUTE, 'picture.mmd': 'old picture\n' });
    const before = snapshotTree(dir);
    const result = await run(['graph', path.join(dir, 'bad.yaml'), '-o', path.join(dir, 'picture.mmd')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `${path.join(dir, 'bad.yaml')}:11:19 spec.http[0].route[0].destination.host: must be a string, got number 5\n` +
        `${path.join(dir, 'bad.yaml')}:12:19 spec.http[0].route[0].weight: must be a number, got string "ninety"\n` +
        'kservice: 2 problems found; nothing was written\n',
    );
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('reports Knative YAML problems as compile does', async () => {
    const result = await run(['graph', '-'], HELLO.replace('ghcr.io/example/hello:1', 'Bad Image'));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^<stdin>:9:18 spec\.template\.spec\.containers\[0\]\.image: /);
  });

  it('says when there is nothing to draw', async () => {
    const dir = workDir({ 'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n' });
    const result = await run(['graph', path.join(dir, 'ns.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'ns.yaml')}: no Knative service to draw`);
  });

  it('answers a usage error with the help text', async () => {
    const bad = await run(['graph', 'x.yaml', '--format', 'png']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kservice: --format 'png' must be one of mermaid, svg, dot\n\nUsage: kservice graph/);
    expect((await run(['graph'])).code).toBe(2);
    const help = await run(['help', 'graph']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kservice graph FILE_OR_DIR/);
  });
});

/** Open tags without their close (or the reverse), ignoring comments, the XML declaration and the DOCTYPE. */
function unbalancedTags(xml: string): string[] {
  const stack: string[] = [];
  const stray: string[] = [];
  const body = xml.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '').replace(/<![\s\S]*?>/g, '');
  for (const [tag, close, name, selfClosing] of body.matchAll(/<(\/?)([\w:-]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!close) stack.push(name);
    else if (stack.pop() !== name) stray.push(tag);
  }
  return [...stray, ...stack];
}

const BAD_ROUTE = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: web-ingress
  labels:
    serving.knative.dev/route: web
spec:
  http:
    - route:
        - destination:
            host: 5
          weight: ninety
`;

const TAG_HEADER_ROUTES = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: web-ingress
  namespace: t
  labels:
    serving.knative.dev/route: web
spec:
  gateways: [knative-serving/knative-ingress-gateway]
  http:
    - match:
        - authority: {prefix: web.t.example.com}
          headers:
            Knative-Serving-Tag: {exact: blue}
      route:
        - destination: {host: web-00002.t.svc.cluster.local}
          weight: 100
    - match:
        - authority: {prefix: web.t.example.com}
      route:
        - destination: {host: web-00001.t.svc.cluster.local}
          weight: 100
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web.example.com
  namespace: t
  labels:
    serving.knative.dev/route: web
spec:
  hostnames: [web.t.example.com]
  parentRefs: [{name: knative-gateway, namespace: istio-system}]
  rules:
    - matches:
        - headers: [{name: Knative-Serving-Tag, value: blue}]
      backendRefs: [{name: web-00002, port: 80}]
    - backendRefs: [{name: web-00001, port: 80}]
`;
