/**
 * The runtime as the image runs it: the esbuild bundle under plain node. Tests of real processes
 * (local and on the control plane) share this one freshness rule: the bundle is (re)built when it
 * is missing or older than any source under lib/ (the bundle pulls in lib/contract/autoscaling.ts,
 * lib/contract/config.ts and lib/contract/constants.ts besides lib/runtime/), so no test ever runs stale code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** `KSERVICE_RUNTIME_BUNDLE` points the tests at a bundle built elsewhere, used as is. */
export const RUNTIME_BUNDLE = process.env.KSERVICE_RUNTIME_BUNDLE ?? join(REPO_ROOT, 'dist-runtime', 'kservice-runtime.js');

/**
 * The node that runs the bundle in tests of real runtime processes: the test's own unless
 * `KSERVICE_RUNTIME_NODE` names another (test/image runs them again with the image's Node 26).
 */
export const RUNTIME_NODE = process.env.KSERVICE_RUNTIME_NODE ?? process.execPath;

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function runtimeBundleIsStale(): boolean {
  if (process.env.KSERVICE_RUNTIME_BUNDLE) return false;
  return !existsSync(RUNTIME_BUNDLE) || statSync(RUNTIME_BUNDLE).mtimeMs < newestSourceMtime(join(REPO_ROOT, 'lib'));
}

/** Builds the bundle; the build's stderr is passed on (inherit) or returned in the error (pipe). */
export function buildRuntimeBundle(stderr: 'inherit' | 'pipe' = 'inherit'): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-runtime.mjs')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', stderr],
  });
}

/** Path of an up-to-date bundle, built first if needed. */
export function ensureRuntimeBundle(): string {
  if (runtimeBundleIsStale()) buildRuntimeBundle();
  return RUNTIME_BUNDLE;
}
