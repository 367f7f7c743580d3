/**
 * Every golden case of `kservice compile` (test/cli/golden/<case>/: input/, config.yaml, the
 * reviewed expected.yaml) through `kservice krm` instead: the input documents as items, with the
 * path and index annotations kpt gives them, its config.yaml as a KServiceConfig functionConfig.
 * The items that come out are the golden objects, in the same order, once the function's file
 * annotations are taken off: one compiler behind both front ends. (Cases that carry a history
 * between steps are compile's own: the function never writes one.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { run } from './helpers';

const GOLDEN = path.join(__dirname, 'golden');
const FILE_ANNOTATIONS = ['internal.config.kubernetes.io/path', 'internal.config.kubernetes.io/index', 'config.kubernetes.io/path', 'config.kubernetes.io/index'];

type Obj = { metadata?: { annotations?: Record<string, string> } } & Record<string, unknown>;

/** The YAML files of a folder, recursively, in the order compile reads them (plain code-unit order of paths). */
function yamlFiles(dir: string): string[] {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function withAnnotations(object: Obj, extra: Record<string, string>): Obj {
  const metadata = object.metadata ?? {};
  return { ...object, metadata: { ...metadata, annotations: { ...metadata.annotations, ...extra } } };
}

function withoutFileAnnotations(object: Obj): Obj {
  const annotations = Object.entries(object.metadata?.annotations ?? {}).filter(([k]) => !FILE_ANNOTATIONS.includes(k));
  const { annotations: _a, ...metadata } = object.metadata ?? {};
  return { ...object, metadata: annotations.length > 0 ? { ...metadata, annotations: Object.fromEntries(annotations) } : metadata };
}

/** The case's input as kpt would hand it over: each document an item that says which file, which position. */
function resourceList(caseDir: string): string {
  const input = path.join(caseDir, 'input');
  const items = yamlFiles(input).flatMap((file) =>
    parseAllDocuments(readFileSync(path.join(input, file), 'utf8'))
      .map((d) => d.toJS() as Obj | null)
      .filter((value): value is Obj => value !== null)
      .map((value, index) => withAnnotations(value, { 'internal.config.kubernetes.io/path': file, 'internal.config.kubernetes.io/index': String(index) })));
  const configFile = path.join(caseDir, 'config.yaml');
  const config = existsSync(configFile) ? (parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>) : undefined;
  const functionConfig = config && { ...config, apiVersion: 'kservice.cdk8s.io/v1alpha1', kind: 'KServiceConfig', metadata: { name: 'kservice' } };
  return stringify({ apiVersion: 'config.kubernetes.io/v1', kind: 'ResourceList', items, ...(functionConfig ? { functionConfig } : {}) }, { aliasDuplicateObjects: false });
}

const cases = readdirSync(GOLDEN)
  .filter((d) => statSync(path.join(GOLDEN, d)).isDirectory() && existsSync(path.join(GOLDEN, d, 'expected.yaml')) && !existsSync(path.join(GOLDEN, d, 'history.yaml')))
  .sort();

describe('golden cases through kservice krm', () => {
  it('has cases to run', () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  it.each(cases)('%s', async (name) => {
    const caseDir = path.join(GOLDEN, name);
    const out = await run(['krm'], resourceList(caseDir));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const items = (parse(out.stdout) as { items: Obj[] }).items.map(withoutFileAnnotations);
    const expected = parseAllDocuments(readFileSync(path.join(caseDir, 'expected.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
    expect(items).toEqual(expected);
  });
});
