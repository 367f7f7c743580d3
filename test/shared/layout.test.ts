// The README's layout table is the map of the tree, and the tree flows one way:
// contract ← model ← builders ← constructs / cli. Both are checked here, so a moved file or a
// back-edge (the model importing the CLI, a builder importing a construct) fails a test.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const LIB = join(ROOT, 'lib');

/** Rows of the README's `## Layout` table: the backticked paths of the first cell, and the second cell. */
function layoutRows(): { paths: string[]; what: string }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Layout\n'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| Path |')));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [, first, what] = line.split('|');
      return { paths: [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\/$/, '')), what };
    });
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The layer a lib file belongs to: its first folder under lib/, or the file itself. */
function layerOf(file: string): string {
  return relative(LIB, file).split(sep)[0].replace(/\.ts$/, '');
}

function resolveModule(fromDir: string, specifier: string): string {
  const base = resolve(fromDir, specifier);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
}

/** Which layers each layer may import (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  problems: [],
  contract: ['problems'],
  model: ['contract', 'problems'],
  builders: ['model', 'contract', 'problems'],
  constructs: ['builders', 'model', 'contract', 'problems'],
  cli: ['constructs', 'builders', 'model', 'contract', 'problems'],
  runtime: ['contract', 'problems'],
  index: ['constructs', 'model', 'contract', 'problems'],
};

describe('README layout table', () => {
  const rows = layoutRows();

  it('is found', () => {
    expect(rows.length).toBeGreaterThan(8);
  });

  it('names only paths that exist', () => {
    const missing = rows.flatMap((r) => r.paths).filter((p) => !existsSync(join(ROOT, p)));
    expect(missing).toEqual([]);
  });

  it('lists every folder and file directly under lib/', () => {
    const listed = new Set(rows.flatMap((r) => r.paths));
    const unlisted = readdirSync(LIB).map((e) => `lib/${e}`).filter((p) => !listed.has(p));
    expect(unlisted).toEqual([]);
  });

  it('names every file of lib/contract and lib/model in their rows, and only files that are there', () => {
    for (const folder of ['lib/contract', 'lib/model']) {
      const row = rows.find((r) => r.paths.includes(folder))!;
      const named = [...row.what.matchAll(/`([a-z-]+\.ts|[a-z-]+\/)`/g)].map((m) => m[1].replace(/\/$/, '')).sort();
      const present = readdirSync(join(ROOT, folder)).sort();
      expect(named, folder).toEqual(present);
    }
  });
});

describe('the layers import one way', () => {
  const files = tsFiles(LIB);

  it('has a rule for every layer', () => {
    expect([...new Set(files.map(layerOf))].filter((l) => !(l in MAY_IMPORT))).toEqual([]);
  });

  it('no file imports a layer after its own', () => {
    const backEdges = files.flatMap((file) =>
      ts
        .preProcessFile(readFileSync(file, 'utf8'), true, true)
        .importedFiles.map((f) => f.fileName)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolveModule(dirname(file), s))
        .filter((target) => target.startsWith(LIB + sep))
        .filter((target) => layerOf(target) !== layerOf(file) && !MAY_IMPORT[layerOf(file)].includes(layerOf(target)))
        .map((target) => `${relative(LIB, file)} -> ${relative(LIB, target)}`),
    );
    expect(backEdges).toEqual([]);
  });
});
