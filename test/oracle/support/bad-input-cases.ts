/**
 * The cases of test/cli/bad-input.test.ts, read from that file itself so the differential suite
 * always sees the same table the CLI suite runs (the table is not exported, and is someone
 * else's file). The file is compiled with esbuild and evaluated with a stand-in `vitest` whose
 * `it.each` records its table instead of registering tests.
 */
import { transformSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as cliHelpers from '../../cli/helpers';

export interface BadInputCase {
  readonly name: string;
  readonly files: Record<string, string>;
  readonly args?: readonly string[];
  readonly argv?: readonly string[];
  readonly stderr: readonly string[];
  readonly code?: number;
}

const FILE = path.join(__dirname, '..', '..', 'cli', 'bad-input.test.ts');

export function loadBadInputCases(): BadInputCase[] {
  // Only the test file itself is compiled (TypeScript to CommonJS); its imports are handed over below.
  const compiled = transformSync(readFileSync(FILE, 'utf8'), { loader: 'ts', format: 'cjs', sourcefile: FILE });
  const tables: unknown[][] = [];
  const it = Object.assign(() => undefined, {
    each: (table: unknown[]) => {
      tables.push(table);
      return () => undefined;
    },
  });
  const vitest = {
    describe: (_name: string, body: () => void) => body(),
    it,
    test: it,
    expect: () => undefined,
    afterAll: () => undefined,
    beforeAll: () => undefined,
    afterEach: () => undefined,
    beforeEach: () => undefined,
  };
  const modules: Record<string, unknown> = { vitest, './helpers': cliHelpers };
  const requireFor = (id: string) => (id in modules ? modules[id] : require(id));
  const module = { exports: {} };
  new Function('require', 'module', 'exports', '__filename', '__dirname', compiled.code)(
    requireFor, module, module.exports, FILE, path.dirname(FILE),
  );
  // The one it.each of the file: rows of [name, case].
  const rows = tables.find((t) => Array.isArray(t[0]) && typeof (t[0] as unknown[])[0] === 'string') as [string, BadInputCase][] | undefined;
  if (!rows) throw new Error(`no it.each table of cases found in ${FILE}`);
  return rows.map(([, c]) => c);
}
