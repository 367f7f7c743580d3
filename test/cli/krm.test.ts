/**
 * `kservice krm` in-process: a ResourceList in, a ResourceList out. Its compiled items must be
 * exactly what `kservice compile` emits for the same documents, every other item must come back
 * as it went in (orchestrator annotations and comments included), and bad input must give the
 * compiler's own problems as results.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { HELLO, run, snapshotTree, workDirs } from './helpers';

const workDir = workDirs();

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> } } & Record<string, unknown>;
interface ResultOut {
  message: string;
  severity: string;
  resourceRef?: Record<string, string>;
  field?: { path: string };
  file?: { path: string; index?: number };
}
interface ListOut { apiVersion: string; kind: string; items: Obj[]; results?: ResultOut[]; functionConfig?: unknown }

const PATH_ANNOTATIONS = ['internal.config.kubernetes.io/path', 'internal.config.kubernetes.io/index', 'config.kubernetes.io/path', 'config.kubernetes.io/index'];

/** A ConfigMap as kustomize sends it: its id and index annotations, and a comment to keep. */
const CONFIG_MAP_ITEM = `- apiVersion: v1
  kind: ConfigMap # kept as written
  metadata:
    name: settings
    annotations:
      team: web
      kustomize.config.k8s.io/id: |
        kind: ConfigMap
        name: settings
        version: v1
      config.kubernetes.io/index: '1'
      internal.config.kubernetes.io/index: '1'
      internal.config.kubernetes.io/id: '2'
      config.k8s.io/id: '2'
  data:
    mode: "fast"
`;

/** HELLO as an item, with kpt's path and index annotations and kustomize's ids (which compile never sees). */
function helloItem(extraSpec = '', file = 'apps/hello.yaml', index = 0, name = 'hello'): string {
  return `- apiVersion: serving.knative.dev/v1
  kind: Service
  metadata:
    name: ${name}
    annotations:
      internal.config.kubernetes.io/path: ${file}
      internal.config.kubernetes.io/index: '${index}'
      config.k8s.io/id: '1'
  spec:
    template:
      spec:${extraSpec}
        containers:
          - image: ghcr.io/example/hello:1
`;
}

function resourceList(items: string, functionConfig = ''): string {
  return `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}${functionConfig}`;
}

const FUNCTION_CONFIG = (fields: string) => `functionConfig:
  apiVersion: kservice.cdk8s.io/v1alpha1
  kind: KServiceConfig
  metadata:
    name: kservice
    annotations:
      config.kubernetes.io/function: |
        exec:
          path: ./kservice-krm.sh
${fields.replace(/^(?=.)/gm, '  ')}`;

function withoutPathAnnotations(object: Obj): Obj {
  const annotations = Object.fromEntries(Object.entries(object.metadata.annotations ?? {}).filter(([k]) => !PATH_ANNOTATIONS.includes(k)));
  const { annotations: _a, ...metadata } = object.metadata;
  return { ...object, metadata: Object.keys(annotations).length > 0 ? { ...metadata, annotations } : metadata };
}

function documents(stream: string): Obj[] {
  return parseAllDocuments(stream).map((d) => d.toJS() as Obj);
}

describe('kservice krm', () => {
  it('replaces Services with exactly what compile emits, passes other items through untouched, and annotates each object with its file', async () => {
    const out = await run(['krm'], resourceList(helloItem() + CONFIG_MAP_ITEM));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const list = parse(out.stdout) as ListOut;
    expect(list.apiVersion).toBe('config.kubernetes.io/v1');
    expect(list.kind).toBe('ResourceList');
    expect(list.results).toBeUndefined();

    // The ConfigMap first, as received: every annotation (the orchestrator's too) and its comment.
    expect(list.items[0]).toEqual((parse(CONFIG_MAP_ITEM) as Obj[])[0]);
    expect(out.stdout).toContain('kind: ConfigMap # kept as written');

    // Then compile's stream for the same Service, in compile's order, with only the file annotations added.
    const compiled = await run(['compile', '-'], HELLO);
    expect(compiled.code).toBe(0);
    const expected = documents(compiled.stdout);
    const generated = list.items.slice(1);
    expect(generated.map(withoutPathAnnotations)).toEqual(expected);
    expect(generated.every((o) => !Object.keys(o.metadata.annotations ?? {}).some((k) => k.endsWith('/id')))).toBe(true);

    // The files of `compile -o`: serving-system.yaml and NAMESPACE-NAME.yaml, numbered within each.
    const files = generated.map((o) => [o.metadata.annotations!['internal.config.kubernetes.io/path'], o.metadata.annotations!['internal.config.kubernetes.io/index']]);
    const systemCount = files.filter(([f]) => f === 'serving-system.yaml').length;
    expect(systemCount).toBeGreaterThan(0);
    expect(files).toEqual([
      ...Array.from({ length: systemCount }, (_, i) => ['serving-system.yaml', String(i)]),
      ...Array.from({ length: generated.length - systemCount }, (_, i) => ['default-hello.yaml', String(i)]),
    ]);
    expect(generated.map((o) => o.metadata.annotations!['config.kubernetes.io/path'])).toEqual(files.map(([f]) => f));
  });

  it('reads the serving config from a KServiceConfig functionConfig, the same as compile --config reads it', async () => {
    const dir = workDir({
      'hello.yaml': HELLO,
      'config.yaml': 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: ServingConfig\ndomain: example.org\ningress: gateway-api\n',
    });
    const out = await run(['krm'], resourceList(helloItem(), FUNCTION_CONFIG('domain: example.org\ningress: gateway-api\n')));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const list = parse(out.stdout) as ListOut;
    const compiled = await run(['compile', path.join(dir, 'hello.yaml'), '--config', path.join(dir, 'config.yaml')]);
    expect(compiled.code).toBe(0);
    expect(list.items.map(withoutPathAnnotations)).toEqual(documents(compiled.stdout));
    expect(out.stdout).toContain('hello.default.example.org');
    expect(list.items.some((o) => o.kind === 'HTTPRoute')).toBe(true);
    // The functionConfig is handed back as received.
    expect(list.functionConfig).toEqual((parse(FUNCTION_CONFIG('domain: example.org\ningress: gateway-api\n')) as { functionConfig: unknown }).functionConfig);

    // One file serves both front ends: compile --config reads the KServiceConfig document as well.
    writeFileSync(path.join(dir, 'function.yaml'), FUNCTION_CONFIG('domain: example.org\ningress: gateway-api\n').replace(/^functionConfig:\n/, '').replace(/^ {2}/gm, ''));
    const viaFunctionConfig = await run(['compile', path.join(dir, 'hello.yaml'), '--config', path.join(dir, 'function.yaml')]);
    expect(viaFunctionConfig.stderr).toBe('');
    expect(viaFunctionConfig.stdout).toBe(compiled.stdout);
  });

  it('reports every problem as a result with resourceRef, field.path and file, the same problems compile finds, and passes the items on uncompiled', async () => {
    const bad = '\n        containerConcurrency: "ten"';
    const input = resourceList(
      helloItem(bad, 'apps/hello.yaml', 2) + CONFIG_MAP_ITEM + helloItem('\n        timeoutSeconds: -5', 'apps/other.yaml', 0, 'other'),
      FUNCTION_CONFIG('domain: "bad domain!"\n'),
    );
    const out = await run(['krm'], input);
    expect(out.code).toBe(1);
    const list = parse(out.stdout) as ListOut;
    // Nothing compiled, nothing dropped: the items as received.
    expect(list.items).toEqual((parse(input) as ListOut).items);

    // compile on the same documents and config, as files.
    const dir = workDir({
      'hello.yaml': HELLO.replace('    spec:\n', '    spec:\n      containerConcurrency: "ten"\n'),
      'other.yaml': HELLO.replace('name: hello', 'name: other').replace('    spec:\n', '    spec:\n      timeoutSeconds: -5\n'),
      'config.yaml': 'domain: "bad domain!"\n',
    });
    const compiled = await run(['compile', path.join(dir, 'hello.yaml'), path.join(dir, 'other.yaml'), '--config', path.join(dir, 'config.yaml')]);
    expect(compiled.code).toBe(1);
    const compileProblems = compiled.stderr.trim().split('\n').slice(0, -1).map((line) => {
      const match = /^(\S+?):\d+:\d+ (\S+): (.*)$/.exec(line);
      expect(match, line).not.toBeNull();
      return { file: path.basename(match![1]), field: match![2], message: match![3] };
    });
    expect(compileProblems.length).toBeGreaterThanOrEqual(3);

    const results = list.results ?? [];
    expect(results.every((r) => r.severity === 'error')).toBe(true);
    const byFile: Record<string, { ref: Record<string, string>; file?: { path: string; index?: number } }> = {
      'hello.yaml': { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' }, file: { path: 'apps/hello.yaml', index: 2 } },
      'other.yaml': { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'other' }, file: { path: 'apps/other.yaml', index: 0 } },
      'config.yaml': { ref: { apiVersion: 'kservice.cdk8s.io/v1alpha1', kind: 'KServiceConfig', name: 'kservice' } },
    };
    const expected = compileProblems.map((p) => ({
      message: p.message,
      severity: 'error',
      resourceRef: byFile[p.file].ref,
      field: { path: p.field },
      ...(byFile[p.file].file ? { file: byFile[p.file].file } : {}),
    }));
    expect(results).toEqual(expect.arrayContaining(expected));
    expect(results).toHaveLength(expected.length);
    expect(results.map((r) => r.field?.path)).toEqual(expect.arrayContaining(['spec.template.spec.containerConcurrency', 'domain']));

    // stderr: one line per result, then the count; no stack trace.
    const lines = out.stderr.trim().split('\n');
    expect(lines).toContain(`apps/hello.yaml#2 (Service hello) spec.template.spec.containerConcurrency: ${results.find((r) => r.resourceRef?.name === 'hello')!.message}`);
    expect(lines[lines.length - 1]).toBe(`kservice krm: ${results.length} problems found; the items were passed on uncompiled`);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it('passes on an item whose alias refers to an anchor in a Service it replaces, as its value', async () => {
    const input = resourceList(`${helloItem().replace('    name: hello\n', '    name: hello\n    labels: &team {team: web}\n')}- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    labels: *team
`);
    const out = await run(['krm'], input);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect((parse(out.stdout) as ListOut).items[0]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', labels: { team: 'web' } } });
  });

  it('names a functionConfig of another kind (a kpt configMap) as such, at its kind', async () => {
    const configMap = 'functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: kservice\n  data:\n    domain: example.org\n';
    const out = await run(['krm'], resourceList(helloItem(), configMap));
    expect(out.code).toBe(1);
    const results = (parse(out.stdout) as ListOut).results!;
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'kservice' };
    expect(results).toEqual(expect.arrayContaining([
      { message: 'must be "KServiceConfig"', severity: 'error', resourceRef: ref, field: { path: 'kind' } },
    ]));
    expect(results.every((r) => r.resourceRef?.kind === 'ConfigMap')).toBe(true);
  });

  /** Bad documents of every layer: the schema, Knative's rules, the model's (new KService), revisions, duplicates. */
  const BAD_INPUTS: Record<string, string> = {
    'unknown container field': `${HELLO}          hostPort: 80\n`,
    'reserved port': `${HELLO}          ports:\n            - containerPort: 8012\n`,
    'annotation out of range': HELLO.replace('  template:\n', '  template:\n    metadata:\n      annotations:\n        autoscaling.knative.dev/window: "5s"\n'),
    'traffic to an unknown revision': `${HELLO}  traffic:\n    - revisionName: hello-00007\n      percent: 100\n`,
    'percents not adding up': `${HELLO}  traffic:\n    - latestRevision: true\n      percent: 40\n`,
    'the same service twice': `${HELLO}---\n${HELLO}`,
    'a Revision of no service': 'apiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata:\n  name: gone-00001\n  labels:\n    serving.knative.dev/service: gone\nspec:\n  containers:\n    - image: x\n',
  };

  it.each(Object.entries(BAD_INPUTS))('finds what compile finds, at the same field: %s', async (_name, yaml) => {
    const dir = workDir({ 'in.yaml': yaml });
    const compiled = await run(['compile', path.join(dir, 'in.yaml')]);
    expect(compiled.code).toBe(1);
    const fromCompile = compiled.stderr.trim().split('\n').slice(0, -1).map((line) => {
      const match = /^\S+:(\d+):\d+ (\S+): (.*)$/.exec(line.split(`${dir}/`).join(''));
      expect(match, line).not.toBeNull();
      return { line: Number(match![1]), field: match![2], message: match![3] };
    });
    const docs = parseAllDocuments(yaml).map((d) => d.toJS() as Obj);
    const items = docs.map((doc, i) => ({ ...doc, metadata: { ...doc.metadata, annotations: { 'internal.config.kubernetes.io/path': 'in.yaml', 'internal.config.kubernetes.io/index': String(i) } } }));
    const out = await run(['krm'], stringify({ apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items }));
    expect(out.code).toBe(1);
    const results = (parse(out.stdout) as ListOut).results!;
    // Each of compile's problems, with the document it is in (by line) named as the item.
    const starts = parseAllDocuments(yaml).map((d) => yaml.slice(0, d.range[0]).split('\n').length);
    const expected = fromCompile.map((p) => {
      const index = starts.filter((start) => start <= p.line).length - 1;
      const { apiVersion, kind, metadata } = docs[index];
      return { message: p.message, severity: 'error', resourceRef: { apiVersion, kind, name: metadata.name }, field: { path: p.field }, file: { path: 'in.yaml', index } };
    });
    // "already defined at PLACE": compile names FILE:LINE:COL, the function the first item (items[N] and its place in stdin).
    const placeless = (r: ResultOut) => ({ ...r, message: r.message.replace(/ is already defined at \S+$/, ' is already defined at PLACE') });
    expect(results.map(placeless)).toEqual(expected.map(placeless));
    expect(results.map((r) => r.message).join('\n')).not.toContain(dir);
  });

  it('takes the file of a kustomize item from its origin annotation (buildMetadata: [originAnnotations])', async () => {
    const item = helloItem('\n        containerConcurrency: "ten"').replace(
      /      internal.config.kubernetes.io\/path: .*\n      internal.config.kubernetes.io\/index: .*\n/,
      "      config.kubernetes.io/origin: |\n        path: services/hello.yaml\n      config.kubernetes.io/index: '4'\n",
    );
    const out = await run(['krm'], resourceList(item));
    expect(out.code).toBe(1);
    const [result] = (parse(out.stdout) as ListOut).results!;
    // kustomize's bare index counts the list, not the file: no file.index.
    expect(result.file).toEqual({ path: 'services/hello.yaml' });
    expect(result.field).toEqual({ path: 'spec.template.spec.containerConcurrency' });
  });

  it('answers input that is not a ResourceList on stderr only, with its position, and writes nothing to stdout', async () => {
    for (const [input, expected] of [
      ['apiVersion: v1\nkind: List\nitems: []\n', /^<stdin>:1:13 apiVersion: must be one of: "config.kubernetes.io\/v1", "config.kubernetes.io\/v1beta1"\n<stdin>:2:7 kind: must be "ResourceList"\n/],
      ['apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: {}\n', /^<stdin>:3:8 items: must be a list\n/],
      ['items: [\n', /^<stdin>:\d+:\d+: YAML syntax error/],
      ['a: 1\n---\nb: 2\n', /^<stdin>:1:1: must be one ResourceList document \(the KRM function input\), found 2 documents\n/],
    ] as const) {
      const out = await run(['krm'], input);
      expect(out.stdout, input).toBe('');
      expect(out.code, input).toBe(1);
      expect(out.stderr, input).toMatch(expected);
      expect(out.stderr).toContain('kservice krm: stdin must be a config.kubernetes.io/v1 ResourceList; nothing was written');
    }
  });

  it('has --help and refuses arguments with a usage error', async () => {
    const help = await run(['krm', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: kservice krm\n/);
    expect(help.stdout).toContain('kind: KServiceConfig');
    expect((await run(['help', 'krm'])).stdout).toBe(help.stdout);
    expect((await run(['--help'])).stdout).toContain('krm            Run as a KRM function');
    const usage = await run(['krm', 'services.yaml']);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/^kservice: unexpected argument 'services.yaml' \(krm reads a ResourceList on stdin; settings go in its functionConfig\)\n\nUsage: kservice krm/);
  });

  it('gives the same bytes for the same input', async () => {
    const input = resourceList(helloItem() + CONFIG_MAP_ITEM, FUNCTION_CONFIG('domain: example.org\n'));
    const first = await run(['krm'], input);
    const second = await run(['krm'], input);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  describe('revision history (read-only)', () => {
    it('numbers revisions from the history file named in the functionConfig and never writes it', async () => {
      const dir = workDir({ 'hello.yaml': HELLO });
      const history = path.join(dir, 'kservice-history.yaml');
      expect((await run(['compile', path.join(dir, 'hello.yaml'), '--history', history])).code).toBe(0);
      const changed = HELLO.replace('hello:1', 'hello:2');
      writeFileSync(path.join(dir, 'hello.yaml'), changed);
      const recorded = await run(['compile', path.join(dir, 'hello.yaml'), '--history', history]);
      expect(recorded.code).toBe(0);
      const before = snapshotTree(dir);

      const item = helloItem().replace('hello:1', 'hello:2');
      const out = await run(['krm'], resourceList(item, FUNCTION_CONFIG(`history: ${history}\n`)));
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      expect((parse(out.stdout) as ListOut).items.map(withoutPathAnnotations)).toEqual(documents(recorded.stdout));
      expect(out.stdout).toContain('name: hello-00002');
      expect(snapshotTree(dir)).toEqual(before);
    });

    it('fails when the history would change, naming the revision and the compile command that records it', async () => {
      const dir = workDir({ 'hello.yaml': HELLO });
      const history = path.join(dir, 'kservice-history.yaml');
      expect((await run(['compile', path.join(dir, 'hello.yaml'), '--history', history])).code).toBe(0);
      const before = snapshotTree(dir);

      const item = helloItem().replace('hello:1', 'hello:2');
      const out = await run(['krm'], resourceList(item, FUNCTION_CONFIG(`history: ${history}\n`)));
      expect(out.code).toBe(1);
      const [result, lockfile, ...rest] = (parse(out.stdout) as ListOut).results!;
      expect(rest).toEqual([]);
      expect(result).toMatchObject({
        severity: 'error',
        resourceRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
        field: { path: 'spec.template' },
        file: { path: 'apps/hello.yaml', index: 0 },
      });
      expect(result.message).toContain('hello-00002');
      // The command that records it, in a result about the lockfile and on stderr.
      const command = `kservice compile apps/hello.yaml --config KSERVICE_CONFIG.yaml --history ${history}`;
      expect(lockfile).toEqual({
        message: `would change, and the KRM function only reads it: record the new revisions with \`${command}\` (on the same Knative YAML and this KServiceConfig) and commit ${history}`,
        severity: 'error',
        file: { path: history },
      });
      expect(out.stderr).toContain(`${history}: ${lockfile.message}\n`);
      expect(snapshotTree(dir)).toEqual(before);
      expect(readFileSync(history, 'utf8')).not.toContain('hello-00002');
    });

    it('reports a broken history file as a result naming the file and position', async () => {
      const dir = workDir({ 'kservice-history.yaml': 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: RevisionHistory\nservices: 7\n' });
      const history = path.join(dir, 'kservice-history.yaml');
      const out = await run(['krm'], resourceList(helloItem(), FUNCTION_CONFIG(`history: ${history}\n`)));
      expect(out.code).toBe(1);
      const results = (parse(out.stdout) as ListOut).results!;
      expect(results).toEqual([{ message: 'line 3, column 11, services: must be a list', severity: 'error', file: { path: history } }]);
    });
  });
});

