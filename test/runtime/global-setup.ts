/**
 * vitest globalSetup: (re)builds the runtime bundle when it is missing or older than a source
 * file under lib/, so tests of real processes run what the image would run. A build failure is
 * reported here and left to the runtime tests to fail on (the rest of the suite still runs).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
export const RUNTIME_BUNDLE = join(root, 'dist-runtime', 'kservice-runtime.js');

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  if (process.env.KSERVICE_RUNTIME_BUNDLE) return; // a bundle given from outside is used as is
  const stale = !existsSync(RUNTIME_BUNDLE) || statSync(RUNTIME_BUNDLE).mtimeMs < newestSourceMtime(join(root, 'lib'));
  if (!stale) return;
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-runtime.mjs')], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    const output = String((err as { stderr?: Buffer }).stderr ?? err);
    process.stderr.write(`runtime bundle build failed; runtime process tests will fail:\n${output}\n`);
  }
}
