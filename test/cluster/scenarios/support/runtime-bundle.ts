// The scenarios run the runtime as the image would: the esbuild bundle under plain node. It is
// (re)built when missing or older than any runtime source, so a scenario never tests stale code.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, RUNTIME_BUNDLE } from '../../node-agent/images';

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Path of an up-to-date dist-runtime/kservice-runtime.js. */
export function ensureRuntimeBundle(): string {
  const sources = Math.max(newestSourceMtime(join(REPO_ROOT, 'lib', 'runtime')), statSync(join(REPO_ROOT, 'lib', 'autoscaling.ts')).mtimeMs);
  if (!existsSync(RUNTIME_BUNDLE) || statSync(RUNTIME_BUNDLE).mtimeMs < sources) {
    execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-runtime.mjs')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return RUNTIME_BUNDLE;
}
