/**
 * The runtime the scale section runs: the committed tree (HEAD) bundled as `npm run
 * build:runtime` bundles it, into the bench's work directory, run by this machine's Node. Not
 * dist-runtime/ itself: in a shared checkout it is rebuilt from whatever the working tree holds at
 * that moment, so a run of several minutes could measure two different runtimes.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { type Child, startChild } from '../lib/children';

const ROOT = path.resolve(__dirname, '../..');
/** What scripts/build-runtime.mjs reads. */
const SOURCES = ['lib', 'scripts/build-runtime.mjs', 'package.json', 'tsconfig.json'];

export interface Bundle {
  readonly entry: string;
  /** e.g. "HEAD 37bf054 bundled by scripts/build-runtime.mjs, run by node v20.20.2". */
  readonly description: string;
}

/** Extracts HEAD's sources (git archive) and bundles them; throws with the build's message. */
export function bundleHead(workDir: string): Bundle {
  const dir = path.join(workDir, 'scale-runtime');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // SCALE_RUNTIME_TREE: a tree-ish to bundle instead of HEAD (e.g. HEAD plus a fix under test, from `git write-tree` on a scratch index).
  const treeish = process.env.SCALE_RUNTIME_TREE ?? 'HEAD';
  const commit = execFileSync('git', ['rev-parse', '--short', treeish], { cwd: ROOT, encoding: 'utf8' }).trim();
  const archive = execFileSync('git', ['archive', treeish, ...SOURCES], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(process.execPath, [path.join(dir, 'scripts/build-runtime.mjs')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    entry: path.join(dir, 'dist-runtime/kservice-runtime.js'),
    description: `${treeish === 'HEAD' ? 'HEAD' : 'tree'} ${commit} bundled by scripts/build-runtime.mjs, run by node ${process.version}`,
  };
}

export function startBundledRuntime(bundle: Bundle, name: string, role: 'activator' | 'autoscaler', env: Record<string, string>): Child {
  return startChild(name, process.execPath, [bundle.entry, role], { env: { ...process.env, ...env } });
}
