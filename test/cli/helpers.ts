import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import { runCli } from '../../lib/cli/main';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams. */
export async function run(args: readonly string[], stdin: string | Uint8Array = ''): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    readStdin: async () => stdin,
  });
  return { code, stdout, stderr };
}

/** A fresh temporary directory holding `files` (relative path -> content; a string is written as UTF-8). */
export function tempDir(files: Record<string, string | Uint8Array> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kservice-cli-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/** A tempDir that is removed after the test file (vitest afterAll registered by the caller's module). */
export function workDirs(): (files?: Record<string, string | Uint8Array>) => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));
  return (files = {}) => {
    const dir = tempDir(files);
    dirs.push(dir);
    return dir;
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every entry under `dir` (hidden ones too) with its bytes, or null for a folder: to compare a tree byte for byte. */
export function snapshotTree(dir: string): Record<string, string | null> {
  if (!existsSync(dir)) return {};
  const tree: Record<string, string | null> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    tree[path.relative(dir, full)] = entry.isDirectory() ? null : readFileSync(full).toString('base64');
  }
  return tree;
}

/** Every file under `dir`, relative, sorted. */
export function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();
}

/** Minimal valid Service for tests to vary. */
export const HELLO = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/example/hello:1
`;
