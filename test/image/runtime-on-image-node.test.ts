/**
 * The runtime's process tests (test/runtime/**\/*-e2e.test.ts: the bundle as real processes on
 * 127.0.0.1) run again with the Node that ships in the image (26, its /nodejs/bin/node), while
 * the repository's own tests keep running on the machine's Node (20 and up). A second vitest run,
 * with KSERVICE_RUNTIME_NODE naming that binary (test/support/runtime-bundle.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/runtime-bundle';
import type { UnpackedImage } from '../support/runtime-image';
import { builtImage } from './support';

let image: UnpackedImage;
let scratch: string;

beforeAll(() => {
  image = builtImage();
  scratch = mkdtempSync(join(tmpdir(), 'kservice-node26-'));
}, 600_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function processTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return processTestFiles(path);
    return entry.name.endsWith('-e2e.test.ts') ? [relative(REPO_ROOT, path)] : [];
  });
}

interface VitestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  testResults: { name: string; status: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

it('the runtime process tests pass with the image\'s node', () => {
  const node = join(image.rootfs, 'nodejs', 'bin', 'node');
  expect(execFileSync(node, ['--version'], { encoding: 'utf8' })).toMatch(/^v26\./);
  const files = processTestFiles(join(REPO_ROOT, 'test', 'runtime'));
  expect(files.length).toBeGreaterThanOrEqual(4);

  const report = join(scratch, 'report.json');
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files, '--reporter=json', `--outputFile=${report}`], {
    cwd: REPO_ROOT,
    env: { ...process.env, KSERVICE_RUNTIME_NODE: node },
    encoding: 'utf8',
    timeout: 540_000,
    maxBuffer: 64 << 20,
  });
  const result = JSON.parse(readFileSync(report, 'utf8')) as VitestReport;
  const failures = result.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status !== 'passed').map((t) => `${file.name}: ${t.fullName} (${t.status}) ${t.failureMessages.join('\n').slice(0, 500)}`));
  expect(failures, run.stderr.slice(-2000)).toEqual([]);
  expect(run.status).toBe(0);
  expect(result.testResults.map((file) => relative(REPO_ROOT, file.name)).sort()).toEqual([...files].sort());
  expect(result.numPassedTests).toBe(result.numTotalTests);
  expect(result.numTotalTests).toBeGreaterThan(10);
}, 600_000);
