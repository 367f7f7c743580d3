/**
 * Property: whatever files `kservice compile -o OUT --history FILE [--config FILE]` is given
 * (generated Knative Services and Revisions, valid or mutated: wrong types, unknown fields, bad
 * names and numbers, broken YAML, odd encodings; a config file and a damaged history now and
 * then), it never crashes or reports an internal error. Either it succeeds
 * and every compiled object passes the schema checks, or it exits 1 with every problem at a
 * file:line:col position, and the output directory and the history are untouched, byte for byte.
 */
import { fc, test } from '@fast-check/vitest';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { isKnownKind, strictErrors, validateWithModels } from '../compiler/support/schemas';
import type { Manifest } from '../compiler/support/synth';
import { HELLO, removeDir, run, snapshotTree, tempDir } from './helpers';

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Annotation pairs that are valid on their own (some combinations are not: max below min). */
const annotations = fc
  .subarray([
    ['autoscaling.knative.dev/min-scale', '1'],
    ['autoscaling.knative.dev/max-scale', '3'],
    ['autoscaling.knative.dev/target', '10'],
    ['autoscaling.knative.dev/window', '60s'],
    ['autoscaling.knative.dev/class', 'hpa.autoscaling.knative.dev'],
    ['autoscaling.knative.dev/metric', 'cpu'],
    ['example.com/note', 'x'],
  ] as const, { maxLength: 3 })
  .map((pairs) => Object.fromEntries(pairs));

const container = fc.record(
  {
    image: fc.constantFrom('ghcr.io/example/app:1', 'nginx:1.27', 'registry.local:5000/a/b:2'),
    name: optional(label),
    ports: optional(fc.integer({ min: 1, max: 65535 }).map((containerPort) => [{ containerPort }])),
    env: optional(fc.array(fc.record({ name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,5}$/), value: fc.string({ maxLength: 6 }) }), { maxLength: 2 })),
    args: optional(fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 })),
  },
  { requiredKeys: ['image'] },
);

const traffic = (name: string) =>
  fc.oneof(
    fc.constant(undefined),
    fc.constant([{ latestRevision: true, percent: 100 }]),
    label.map((tag) => [{ latestRevision: true, percent: 100 }, { latestRevision: true, percent: 0, tag }]),
    fc.constant([{ latestRevision: true, percent: 50 }, { revisionName: `${name}-00001`, percent: 50 }]),
  );

const service = label.chain((name) =>
  fc.record(
    {
      apiVersion: fc.constant('serving.knative.dev/v1'),
      kind: fc.constant('Service'),
      metadata: fc.record({ name: fc.constant(name), namespace: optional(label), labels: optional(fc.dictionary(label, label, { maxKeys: 2 })) }, { requiredKeys: ['name'] }),
      spec: fc.record(
        {
          template: fc.record(
            {
              metadata: optional(fc.record({ annotations }, { requiredKeys: [] })),
              spec: fc.record(
                {
                  containers: fc.array(container, { minLength: 1, maxLength: 1 }),
                  containerConcurrency: optional(fc.integer({ min: 0, max: 1000 })),
                  timeoutSeconds: optional(fc.integer({ min: 1, max: 600 })),
                },
                { requiredKeys: ['containers'] },
              ),
            },
            { requiredKeys: ['spec'] },
          ),
          traffic: traffic(name),
        },
        { requiredKeys: ['template'] },
      ),
    },
    { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
  ),
);

const revision = label.map((owner) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Revision',
  metadata: { name: `${owner}-00001`, labels: { 'serving.knative.dev/service': owner } },
  spec: { containers: [{ image: 'ghcr.io/example/app:0' }] },
}));

const passthrough = label.map((name) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { a: 'b' } }));

/** JSON-able values a hand edit or a bad generator could put anywhere. */
const hostile = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e21, 65536, '', 'Hello', '-x', 'a'.repeat(70), '0.001', '1e3', '~', '\u00e9', [], {}, [null], { a: 1 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }),
);

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => paths.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (v !== undefined) paths.push(...pathsOf(v, [...prefix, k]));
  }
  return paths;
}

type Mutation = { kind: 'replace' | 'add' | 'delete'; pick: number; value: unknown; key: string };

function mutate(root: unknown, m: Mutation): unknown {
  const paths = pathsOf(root).filter((p) => p.length > 0);
  if (paths.length === 0) return root;
  const target = paths[m.pick % paths.length];
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const segment of target.slice(0, -1)) parent = parent[segment] as Record<string | number, unknown>;
  const last = target[target.length - 1];
  if (m.kind === 'replace') parent[last] = m.value;
  else if (m.kind === 'delete') delete parent[last];
  else if (parent[last] && typeof parent[last] === 'object' && !Array.isArray(parent[last])) (parent[last] as Record<string, unknown>)[m.key] = m.value;
  else parent[last] = m.value;
  return copy;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace' as const, 'add' as const, 'delete' as const),
  pick: fc.nat(),
  value: hostile,
  key: fc.constantFrom('unknownField', 'ports', 'image', 'percent', 'name', 'status', 'x-y'),
});

const anyDocument = fc.oneof({ weight: 4, arbitrary: service }, { weight: 1, arbitrary: revision }, { weight: 1, arbitrary: passthrough });
const damagedDocument = fc.tuple(anyDocument, fc.option(mutation, { freq: 2 })).map(([doc, m]) => (m ? mutate(doc, m) : doc));

/** Edits of the YAML text: the kinds of damage a file gets in real life. */
type TextEdit = { kind: 'none' | 'truncate' | 'insert' | 'tab' | 'duplicateLine' | 'aliasBomb' | 'anchor' | 'garbage'; at: number; text: string };
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  kind: fc.constantFrom('none' as const, 'none' as const, 'none' as const, 'truncate' as const, 'insert' as const, 'tab' as const, 'duplicateLine' as const, 'aliasBomb' as const, 'anchor' as const, 'garbage' as const),
  at: fc.nat(),
  text: fc.oneof(fc.constantFrom(':', '- ', '{', ']', '"', "'", '&a ', '*a', '!!binary ', '? ', '|', '#', '\n  ', '%YAML 1.1\n---\n', '\u2028'), fc.string({ maxLength: 8 })),
});

function editText(text: string, e: TextEdit): string {
  const at = text.length === 0 ? 0 : e.at % text.length;
  switch (e.kind) {
    case 'none':
      return text;
    case 'truncate':
      return text.slice(0, at);
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'tab':
      return text.replace(/\n {2}/, '\n\t');
    case 'duplicateLine': {
      const lines = text.split('\n');
      const i = e.at % lines.length;
      return [...lines.slice(0, i + 1), lines[i], ...lines.slice(i + 1)].join('\n');
    }
    case 'aliasBomb':
      return `${text}---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`;
    case 'anchor':
      return text.replace(/\n(\s*)image: /, '\n$1image: &img ').replace(/\n(\s*)- image: /, '\n$1- image: &img ') + (e.at % 2 === 0 ? '' : '---\nx: *img\n');
    case 'garbage':
      return e.text;
  }
}

type Encoding = 'utf8' | 'utf8-bom' | 'utf16le-bom' | 'utf16be-bom' | 'utf16le' | 'latin1' | 'stray-byte';
const encoding = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Encoding>('utf8') },
  { weight: 1, arbitrary: fc.constantFrom<Encoding>('utf8-bom', 'utf16le-bom', 'utf16be-bom', 'utf16le', 'latin1', 'stray-byte') },
);

function encode(text: string, e: Encoding, at: number): Buffer {
  switch (e) {
    case 'utf8':
      return Buffer.from(text);
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'utf16be-bom':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'latin1':
      return Buffer.from(`${text}# caf\u00e9\n`, 'latin1');
    case 'stray-byte': {
      const bytes = Buffer.from(text);
      const i = bytes.length === 0 ? 0 : at % bytes.length;
      return Buffer.concat([bytes.subarray(0, i), Buffer.from([0xc3]), bytes.subarray(i)]);
    }
  }
}

const NO_EDIT: TextEdit = { kind: 'none', at: 0, text: '' };
const cleanFile = fc.record({
  docs: fc.array(anyDocument, { minLength: 1, maxLength: 3 }),
  edit: fc.constant(NO_EDIT),
  encoding: fc.constantFrom<Encoding>('utf8', 'utf8', 'utf8', 'utf8-bom', 'utf16le-bom', 'utf16be-bom'),
  at: fc.nat(),
});
const damagedFile = fc.record({ docs: fc.array(damagedDocument, { minLength: 1, maxLength: 3 }), edit: textEdit, encoding, at: fc.nat() });
/** Runs with clean input only (most should compile) and runs where some damage is likely. */
const inputFiles = fc.oneof(fc.array(cleanFile, { minLength: 1, maxLength: 2 }), fc.array(damagedFile, { minLength: 1, maxLength: 2 }));

let root: string;
const inDir = () => path.join(root, 'in');
const outDir = () => path.join(root, 'out');
const historyFile = () => path.join(root, 'history.yaml');

beforeAll(async () => {
  root = tempDir({ 'seed/hello.yaml': HELLO });
  const seeded = await run(['compile', path.join(root, 'seed'), '-o', outDir(), '--history', historyFile()]);
  expect(seeded.stderr).toBe('');
});
afterAll(() => removeDir(root));

/** Every compiled object written into OUT (pass-through documents are the user's, not checked). */
function compiledObjects(): Manifest[] {
  return readdirSync(outDir())
    .filter((f) => f.endsWith('.yaml') && f !== 'passthrough.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(outDir(), f), 'utf8')).map((d) => d.toJS() as Manifest));
}

/** `FILE:LINE:COL PATH: MESSAGE` or `FILE:LINE:COL: MESSAGE` (temporary paths hold no ':' or space). */
const POSITIONED = /^[^:\s]+:[1-9]\d*:[1-9]\d*[ :]/;

/** `arb` in about one run of `oneIn`, else null. */
const nowAndThen = <T>(arb: fc.Arbitrary<T>, oneIn: number) => fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

/** A --config file now and then: valid settings, sometimes with the same damage as the inputs. */
const configFile = nowAndThen(
  fc.record({
    settings: fc.record(
      {
        domain: fc.constantFrom('example.com', 'apps.internal', 'Bad_Domain'),
        tagTemplate: fc.constantFrom('{{.Tag}}-{{.Name}}', '{{.Tag}}.{{.Name}}', '{{.Nope}}'),
        containerConcurrency: fc.oneof(fc.integer({ min: 0, max: 1000 }), hostile),
        autoscaler: fc.record({ stableWindowSeconds: fc.oneof(fc.integer({ min: 6, max: 3600 }), hostile) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
    edit: textEdit,
  }),
  4,
);

/** Now and then the history file itself is damaged before the run (and restored after it). */
const historyDamage = nowAndThen(fc.tuple(textEdit, encoding, fc.nat()), 6);

const runInput = fc.record({ files: inputFiles, config: configFile, historyDamage });
type RunInput = typeof runInput extends fc.Arbitrary<infer T> ? T : never;

async function compileAndCheck({ files, config, historyDamage }: RunInput): Promise<void> {
  rmSync(inDir(), { recursive: true, force: true });
  mkdirSync(inDir());
  files.forEach((f, i) => {
    const text = editText(f.docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n'), f.edit);
    writeFileSync(path.join(inDir(), `f${i}.yaml`), encode(text, f.encoding, f.at));
  });
  const args = ['compile', inDir(), '-o', outDir(), '--history', historyFile()];
  if (config) {
    writeFileSync(path.join(root, 'config.yaml'), editText(stringify(config.settings), config.edit));
    args.push('--config', path.join(root, 'config.yaml'));
  }
  const goodHistory = readFileSync(historyFile());
  if (historyDamage) {
    const [edit, enc, at] = historyDamage;
    writeFileSync(historyFile(), encode(editText(goodHistory.toString('utf8'), edit), enc, at));
  }
  const before = { out: snapshotTree(outDir()), history: readFileSync(historyFile()).toString('base64') };

  const result = await run(args);
  try {
    expectCleanResult(result, before);
  } finally {
    // A damaged history that failed the run would fail every later run too.
    if (historyDamage && result.code !== 0) writeFileSync(historyFile(), goodHistory);
  }
}

function expectCleanResult(result: { code: number; stdout: string; stderr: string }, before: { out: Record<string, string | null>; history: string }): void {

  expect(result.stderr).not.toMatch(/internal error/);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
  if (result.code === 0) {
    expect(result.stderr).toBe('');
    for (const object of compiledObjects()) {
      const name = `${object.kind} ${object.metadata?.name}`;
      expect(isKnownKind(object), name).toBe(true);
      expect(() => validateWithModels(object), name).not.toThrow();
      expect(strictErrors(object), name).toEqual([]);
    }
    return;
  }
  expect(result.code).toBe(1);
  const lines = result.stderr.split('\n');
  expect(lines.pop()).toBe('');
  const summary = lines.pop();
  expect(summary).toBe(`kservice: ${lines.length} problem${lines.length === 1 ? '' : 's'} found; nothing was written`);
  for (const line of lines) expect(line, 'every problem has a file:line:col position').toMatch(POSITIONED);
  expect(snapshotTree(outDir()), 'the output directory is untouched').toEqual(before.out);
  expect(readFileSync(historyFile()).toString('base64'), 'the history is untouched').toBe(before.history);
}

describe('kservice compile on generated input', () => {
  // Bounded in count and time (a compile takes 20-300 ms); a failure prints its seed and the
  // shrunk counterexample.
  test.prop([runInput], { numRuns: 80, interruptAfterTimeLimit: 25_000 })(
    'compiles to schema-valid objects, or reports positioned problems and writes nothing',
    async (input) => {
      await compileAndCheck(input);
    },
    60_000,
  );
});
