/**
 * Golden tests: each `golden/<case>/` holds `input/` (+ optional `config.yaml`, `history.yaml`)
 * and the reviewed `expected.yaml` (+ `expected-history.yaml` when a history is kept). A case
 * made of `step*` folders runs its steps in order with one history file carried between them,
 * the way a repository's lockfile evolves over commits.
 *
 * `UPDATE_GOLDEN=1 npx vitest run test/cli/golden.test.ts` rewrites the expected files; review the
 * diff before committing it.
 *
 * Every compiled object must also pass the compiler's schema checks (kubernetes-models and the
 * strict no-unknown-fields check from test/compiler/support/schemas.ts).
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { isKnownKind, strictErrors, validateWithModels } from '../compiler/support/schemas';
import type { Manifest } from '../compiler/support/synth';
import { removeDir, run, tempDir } from './helpers';

const GOLDEN = path.join(__dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Step {
  readonly name: string;
  readonly dir: string;
}

function stepsOf(caseDir: string): Step[] {
  const stepDirs = readdirSync(caseDir).filter((d) => d.startsWith('step') && statSync(path.join(caseDir, d)).isDirectory()).sort();
  if (stepDirs.length === 0) return [{ name: 'compile', dir: caseDir }];
  return stepDirs.map((d) => ({ name: d, dir: path.join(caseDir, d) }));
}

/** Compares with (or, under UPDATE_GOLDEN, rewrites) an expected file. */
function expectGolden(file: string, actual: string): void {
  if (UPDATE) writeFileSync(file, actual);
  expect(existsSync(file), `${path.relative(GOLDEN, file)} is missing; run with UPDATE_GOLDEN=1`).toBe(true);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const cases = readdirSync(GOLDEN).filter((d) => statSync(path.join(GOLDEN, d)).isDirectory()).sort();
const work: string[] = [];
afterAll(() => work.forEach(removeDir));

describe.each(cases)('golden case %s', (name) => {
  const caseDir = path.join(GOLDEN, name);
  const historyFile = path.join(tempDir(), 'history.yaml');
  work.push(path.dirname(historyFile));
  if (existsSync(path.join(caseDir, 'history.yaml'))) copyFileSync(path.join(caseDir, 'history.yaml'), historyFile);
  const keepsHistory = existsSync(path.join(caseDir, 'history.yaml')) || stepsOf(caseDir).length > 1;

  // Steps share the history file, so they run in order inside one test.
  it.each(stepsOf(caseDir).map((s) => [s.name, s] as const))('%s', async (_step, step) => {
    const args = ['compile', path.join(step.dir, 'input')];
    const config = path.join(caseDir, 'config.yaml');
    if (existsSync(config)) args.push('--config', config);
    if (keepsHistory) args.push('--history', historyFile);

    const result = await run(args);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expectGolden(path.join(step.dir, 'expected.yaml'), result.stdout);
    if (keepsHistory) expectGolden(path.join(step.dir, 'expected-history.yaml'), readFileSync(historyFile, 'utf8'));

    const again = await run(args);
    expect(again.stdout, 'same input, same bytes').toBe(result.stdout);

    for (const object of compiledObjects(result.stdout, step.dir)) {
      const label = `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
      expect(isKnownKind(object), `${label}: a kind the schema checks know`).toBe(true);
      expect(() => validateWithModels(object), label).not.toThrow();
      expect(strictErrors(object), label).toEqual([]);
    }
  });
});

/** The compiled objects of a stream: everything except the documents passed through from the input. */
function compiledObjects(stream: string, stepDir: string): Manifest[] {
  const inputs = readInputDocs(path.join(stepDir, 'input'));
  return parseAllDocuments(stream)
    .map((d) => d.toJS() as Manifest)
    .filter((o) => !inputs.some((i) => JSON.stringify(i) === JSON.stringify(o)));
}

function readInputDocs(dir: string): unknown[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((o) => (o as { apiVersion?: string; kind?: string }).apiVersion !== 'serving.knative.dev/v1');
}
