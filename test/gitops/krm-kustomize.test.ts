/**
 * `kservice krm` run by a real kustomize (sigs.k8s.io/kustomize/kustomize/v5, built from the Go
 * module proxy by scripts/build-kustomize.sh, a no-op once cached): `kustomize build
 * --enable-alpha-plugins --enable-exec` on a kustomization whose transformer is the function in
 * exec mode, through a wrapper script that runs the built CLI (bin/kservice.js). Its output must be
 * `kservice compile`'s on the same files; bad input must fail with compile's problems.
 */
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HELLO, run, snapshotTree, workDirs } from '../cli/helpers';

const REPO = path.join(__dirname, '..', '..');
const BUILD_SCRIPT = path.join(REPO, 'scripts', 'build-kustomize.sh');
const BIN = path.join(REPO, 'bin', 'kservice.js');

interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(file: string, args: readonly string[], options: { cwd?: string; timeout: number }): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
  });
}

let kustomize = '';

/** The cached kustomize, built first when missing (minutes on a cold Go cache; progress on stderr). */
beforeAll(async () => {
  const built = await exec('bash', [BUILD_SCRIPT], { timeout: 20 * 60_000 });
  if (built.code !== 0) throw new Error(`${BUILD_SCRIPT} failed (exit ${built.code}):\n${built.stderr}`);
  kustomize = built.stdout.trim().split('\n').pop()!;
}, 20 * 60_000);

const workDir = workDirs();

const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n';

/** The function config kustomize hands the function; `kservice compile --config` reads the same file. */
function functionConfig(fields: string): string {
  return `apiVersion: kservice.cdk8s.io/v1alpha1
kind: KServiceConfig
metadata:
  name: kservice
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: ./kservice-krm.sh
${fields}`;
}

/** A kustomization directory whose transformer is `kservice krm` through an exec wrapper. */
function kustomization(files: Record<string, string>, resources: readonly string[], extra = ''): string {
  const dir = workDir({
    ...files,
    'kustomization.yaml': `resources:\n${resources.map((r) => `- ${r}\n`).join('')}transformers:\n- kservice.yaml\n${extra}`,
    // kustomize runs exec functions in the kustomization's directory with the ResourceList on stdin.
    'kservice-krm.sh': `#!/bin/sh\nexec '${process.execPath}' '${BIN}' krm\n`,
  });
  chmodSync(path.join(dir, 'kservice-krm.sh'), 0o755);
  return dir;
}

function build(dir: string): Promise<Exit> {
  return exec(kustomize, ['build', '--enable-alpha-plugins', '--enable-exec', dir], { timeout: 120_000 });
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/**
 * The objects of a YAML stream by identity. kustomize reorders its output (the legacy order of
 * `kustomize build`: Namespace first, then by kind, then by name; kustomize api/resmap/reswrangler.go
 * and api/resid/gvk.go), so streams are compared as sets of objects keyed by apiVersion, kind,
 * namespace and name, each object compared whole.
 */
function byIdentity(stream: string): Map<string, Obj> {
  const objects = parseAllDocuments(stream).map((d) => d.toJS() as Obj);
  const map = new Map(objects.map((o) => [`${o.apiVersion} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
  expect(map.size).toBe(objects.length);
  return map;
}

describe('kservice krm under kustomize build (exec function)', () => {
  it('builds exactly what kservice compile emits for the same files, config and history', async () => {
    const config = functionConfig('domain: example.org\nhistory: kservice-history.yaml\n');
    const dir = kustomization({ 'hello.yaml': HELLO, 'settings.yaml': CONFIG_MAP, 'kservice.yaml': config }, ['hello.yaml', 'settings.yaml']);
    const files = ['hello.yaml', 'settings.yaml'].map((f) => path.join(dir, f));
    const history = path.join(dir, 'kservice-history.yaml');
    // Two revisions in the lockfile: the function must number the current one from it.
    expect((await run(['compile', ...files, '--history', history])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), HELLO.replace('hello:1', 'hello:2'));
    expect((await run(['compile', ...files, '--history', history])).code).toBe(0);
    const before = snapshotTree(dir);

    const built = await build(dir);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const compiled = await run(['compile', ...files, '--config', path.join(dir, 'kservice.yaml'), '--history', history, '--frozen-history']);
    expect(compiled.stderr).toBe('');
    expect(compiled.code).toBe(0);

    const fromKustomize = byIdentity(built.stdout);
    const fromCompile = byIdentity(compiled.stdout);
    expect([...fromKustomize.keys()].sort()).toEqual([...fromCompile.keys()].sort());
    for (const [key, object] of fromCompile) expect(fromKustomize.get(key), key).toEqual(object);
    expect(built.stdout).toContain('hello-00002');
    expect(built.stdout).toContain('hello.default.example.org');
    // The function config is kustomize's (config.kubernetes.io/local-config), never output; nothing was written.
    expect(built.stdout).not.toContain('KServiceConfig');
    expect(snapshotTree(dir)).toEqual(before);
  });

  it("compiles the Services in the kustomization's namespace, which kustomize sets before running transformers", async () => {
    const dir = kustomization({ 'hello.yaml': HELLO, 'kservice.yaml': functionConfig('') }, ['hello.yaml'], 'namespace: demo\n');
    const built = await build(dir);
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const compiled = await run(['compile', '-'], HELLO.replace('  name: hello\n', '  name: hello\n  namespace: demo\n'));
    expect(compiled.code).toBe(0);
    const fromKustomize = byIdentity(built.stdout);
    const fromCompile = byIdentity(compiled.stdout);
    expect([...fromKustomize.keys()].sort()).toEqual([...fromCompile.keys()].sort());
    for (const [key, object] of fromCompile) expect(fromKustomize.get(key), key).toEqual(object);
    expect(fromKustomize.has('apps/v1 Deployment demo/hello-00001-deployment')).toBe(true);
  });

  it('fails on bad input with the problems compile finds, placed by file and field, and prints no manifests', async () => {
    const bad = HELLO.replace('    spec:\n', '    spec:\n      containerConcurrency: "ten"\n');
    const other = HELLO.replace('name: hello', 'name: other').replace('    spec:\n', '    spec:\n      timeoutSeconds: -5\n');
    const dir = kustomization(
      { 'hello.yaml': bad, 'other.yaml': other, 'kservice.yaml': functionConfig('') },
      ['hello.yaml', 'other.yaml'],
      // kustomize says where each resource came from only with origin annotations.
      'buildMetadata: [originAnnotations]\n',
    );
    const built = await build(dir);
    expect(built.code).not.toBe(0);
    expect(built.stdout).toBe('');

    const compiled = await run(['compile', path.join(dir, 'hello.yaml'), path.join(dir, 'other.yaml')]);
    expect(compiled.code).toBe(1);
    // compile: FILE:LINE:COL FIELD: MESSAGE; the function: FILE (KIND NAME) FIELD: MESSAGE (kustomize re-serializes items, so lines are not known).
    const expected = compiled.stderr.trim().split('\n').slice(0, -1).map((line) => {
      const [, file, field, message] = /^(\S+?):\d+:\d+ (\S+): (.*)$/.exec(line)!;
      const name = path.basename(file, '.yaml');
      return `${path.basename(file)} (Service ${name}) ${field}: ${message}`;
    });
    expect(expected).toHaveLength(2);
    const reported = built.stderr.split('\n').filter((line) => /^\S+\.yaml \(Service /.test(line));
    expect(reported).toEqual(expected);
    expect(built.stderr).toContain('kservice krm: 2 problems found');
    expect(built.stderr).not.toMatch(/\n\s+at /);
  });

  it('fails when the history would change, naming the revision and the command that records it, and leaves the lockfile alone', async () => {
    const dir = kustomization(
      { 'hello.yaml': HELLO, 'kservice.yaml': functionConfig('history: kservice-history.yaml\n') },
      ['hello.yaml'],
      'buildMetadata: [originAnnotations]\n',
    );
    const history = path.join(dir, 'kservice-history.yaml');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '--history', history])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), HELLO.replace('hello:1', 'hello:2'));
    const lockfile = readFileSync(history, 'utf8');

    const built = await build(dir);
    expect(built.code).not.toBe(0);
    expect(built.stdout).toBe('');
    expect(built.stderr).toContain('hello.yaml (Service hello) spec.template: the template changed since kservice-history.yaml was written');
    expect(built.stderr).toContain('revision hello-00002 (generation 2) would be recorded');
    // With origin annotations kustomize names the function config's file too.
    expect(built.stderr).toContain('kservice-history.yaml: would change, and the KRM function only reads it: record the new revisions with `kservice compile hello.yaml --config kservice.yaml --history kservice-history.yaml`');
    expect(readFileSync(history, 'utf8')).toBe(lockfile);
  });
});
