/**
 * argocd/plugin.yaml, run the way argocd-cmp-server runs a plugin's `generate` (argo-cd
 * cmpserver/plugin/plugin.go runCommand: `command[0]` with `command[1:] + args`, the Application's
 * directory as the working directory, the sidecar's environment plus the build environment and the
 * parameters; killed after ARGOCD_EXEC_TIMEOUT, 90 s by default). The `kservice` on PATH is the
 * npm package as installed from its packed tarball, what an operator's sidecar image holds.
 *
 * The checkout is read-only: files 0444 and folders 0555, and (since the tests run as root, which
 * ignores modes) bind-mounted read-only inside a private mount namespace (`unshare -m`). A probe
 * through the same runner proves a write fails; each test also checks that the tree's bytes and
 * mtimes are what they were.
 */
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { INSTALL_TIMEOUT, installPackage, type InstalledPackage } from '../support/installed-package';
import { REPO_ROOT } from '../support/runtime-bundle';
import { HELLO, run as runInProcess, tempDir } from './helpers';

const PLUGIN_FILE = path.join(REPO_ROOT, 'argocd', 'plugin.yaml');

/** argocd-cmp-server's default per-command timeout (ARGOCD_EXEC_TIMEOUT, docs/operator-manual/config-management-plugins.md). */
const ARGOCD_EXEC_TIMEOUT_MS = 90_000;

interface PluginSpec {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    generate: { command: string[]; args?: string[] };
    discover?: unknown;
    parameters: { static: { name: string; collectionType?: string; string?: string; array?: string[] }[] };
  };
}

const plugin = parse(readFileSync(PLUGIN_FILE, 'utf8')) as PluginSpec;

/** An Application's `spec.source.plugin.parameters` entry. */
type Parameter = { name: string; string: string } | { name: string; array: string[] } | { name: string; map: Record<string, string> };

/**
 * The parameters as argocd-cmp-server passes them (argo-cd pkg/apis/application/v1alpha1/types.go,
 * ApplicationSourcePluginParameters.Environ): all of them as JSON in ARGOCD_APP_PARAMETERS, and each
 * as PARAM_<NAME>, PARAM_<NAME>_<i> or PARAM_<NAME>_<KEY>, names upper-cased with [^A-Z0-9_] as _.
 */
function parameterEnv(parameters: readonly Parameter[] | null): Record<string, string> {
  const escaped = (name: string) => name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const env: Record<string, string> = { ARGOCD_APP_PARAMETERS: JSON.stringify(parameters) };
  for (const p of parameters ?? []) {
    const base = `PARAM_${escaped(p.name)}`;
    if ('string' in p) env[base] = p.string;
    if ('array' in p) p.array.forEach((value, i) => (env[`${base}_${i}`] = value));
    if ('map' in p) for (const [key, value] of Object.entries(p.map)) env[`${base}_${escaped(key)}`] = value;
  }
  return env;
}

const APP_PATH = 'apps/hello';

/** The build environment (argo-cd docs/user-guide/build-environment.md) of an Application `hello` in `apps`. */
const BUILD_ENV = {
  ARGOCD_APP_NAME: 'hello',
  ARGOCD_APP_NAMESPACE: 'apps',
  ARGOCD_APP_PROJECT_NAME: 'default',
  ARGOCD_APP_REVISION: '0123456789abcdef0123456789abcdef01234567',
  ARGOCD_APP_REVISION_SHORT: '0123456',
  ARGOCD_APP_REVISION_SHORT_8: '01234567',
  ARGOCD_APP_SOURCE_PATH: APP_PATH,
  ARGOCD_APP_SOURCE_REPO_URL: 'https://git.example.com/team/deploy.git',
  ARGOCD_APP_SOURCE_TARGET_REVISION: 'HEAD',
  KUBE_VERSION: '1.31.0',
  KUBE_API_VERSIONS: 'v1,apps/v1,networking.k8s.io/v1,coordination.k8s.io/v1',
};

interface Run {
  readonly code: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

let installed: InstalledPackage;

/**
 * Runs `command` as argocd-cmp-server would, in `checkout`/APP_PATH with `checkout` mounted
 * read-only. The environment is the sidecar's (PATH with the installed package and node, HOME)
 * plus the build environment and the parameters; nothing of this test process leaks in.
 */
function runLikeCmpServer(checkout: string, command: readonly string[], parameters: readonly Parameter[] | null): Promise<Run> {
  const env = { PATH: installed.path, HOME: '/home/argocd', ...BUILD_ENV, ...parameterEnv(parameters) };
  const appDir = path.join(checkout, APP_PATH);
  // As root, modes do not stop writes: a read-only bind mount in a private mount namespace does.
  const runner = process.getuid?.() === 0
    ? ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind -o ro "$1" "$1" && cd "$2" && shift 2 && exec "$@"', 'sh', checkout, appDir]
    : [];
  const [file, ...args] = [...runner, ...command];
  return new Promise((resolve) => {
    execFile(file!, args, { cwd: appDir, env, timeout: ARGOCD_EXEC_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, killed: error?.killed === true, stdout, stderr });
    });
  });
}

function generate(checkout: string, parameters: readonly Parameter[] | null = null): Promise<Run> {
  return runLikeCmpServer(checkout, [...plugin.spec.generate.command, ...(plugin.spec.generate.args ?? [])], parameters);
}

const CONFIG = 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: ServingConfig\ndomain: apps.example.org\n';
const CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello-settings\n  namespace: apps\ndata:\n  greeting: hi\n';
const HELLO_IN_APPS = HELLO.replace('  name: hello\n', '  name: hello\n  namespace: apps\n');

const checkouts: string[] = [];

/**
 * A repository checkout with the Application at APP_PATH: services/, a plain manifest, the serving
 * config and (unless `history` is false) the history lockfile a normal compile of `lockedService` wrote.
 */
async function checkout(files: { service?: string; lockedService?: string; history?: boolean; extra?: Record<string, string> } = {}): Promise<string> {
  const { service = HELLO_IN_APPS, lockedService = service, history = true, extra = {} } = files;
  const dir = tempDir({
    'README.md': '# deploy\n',
    [`${APP_PATH}/services/hello.yaml`]: lockedService,
    [`${APP_PATH}/settings.yaml`]: CONFIG_MAP,
    [`${APP_PATH}/kservice-config.yaml`]: CONFIG,
    ...Object.fromEntries(Object.entries(extra).map(([name, text]) => [`${APP_PATH}/${name}`, text])),
  });
  checkouts.push(dir);
  const app = path.join(dir, APP_PATH);
  if (history) {
    const seeded = await runInProcess(['compile', app, '--config', path.join(app, 'kservice-config.yaml'), '--history', path.join(app, 'kservice-history.yaml')]);
    expect(seeded.code, seeded.stderr).toBe(0);
  }
  if (service !== lockedService) writeFileSync(path.join(app, 'services/hello.yaml'), service);
  makeReadOnly(dir);
  return dir;
}

function makeReadOnly(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeReadOnly(full);
    else chmodSync(full, 0o444);
  }
  chmodSync(dir, 0o555);
}

/** Every entry's bytes (files), mode and mtime: equal before and after means nothing was written. */
function treeState(dir: string): Record<string, { mode: number; mtimeMs: number; bytes?: string }> {
  const state: Record<string, { mode: number; mtimeMs: number; bytes?: string }> = {};
  const walk = (at: string) => {
    const stat = lstatSync(at);
    const key = path.relative(dir, at) || '.';
    state[key] = { mode: stat.mode, mtimeMs: stat.mtimeMs, ...(stat.isFile() ? { bytes: readFileSync(at).toString('base64') } : {}) };
    if (stat.isDirectory()) for (const name of readdirSync(at)) walk(path.join(at, name));
  };
  walk(dir);
  return state;
}

interface Manifest {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: any;
}

/** stdout as Argo CD reads it: a YAML stream of objects, each with apiVersion, kind and metadata.name. */
function manifests(stdout: string): Manifest[] {
  const docs = parseAllDocuments(stdout);
  for (const doc of docs) expect(doc.errors).toEqual([]);
  const objects = docs.map((doc) => doc.toJS() as Manifest);
  for (const object of objects) {
    expect(typeof object.apiVersion, JSON.stringify(object)).toBe('string');
    expect(typeof object.kind, JSON.stringify(object)).toBe('string');
    expect(typeof object.metadata?.name, JSON.stringify(object)).toBe('string');
  }
  return objects;
}

const names = (objects: readonly Manifest[]) => objects.map((o) => `${String(o.kind)} ${String(o.metadata?.name)}`);

beforeAll(async () => {
  installed = await installPackage();
}, INSTALL_TIMEOUT);

afterAll(() => {
  installed?.remove();
  for (const dir of checkouts) {
    chmodRecursive(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

function chmodRecursive(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) chmodRecursive(path.join(dir, entry.name));
}

describe('argocd/plugin.yaml', () => {
  it('is a ConfigManagementPlugin named kservice, used only when an Application names it (no discover)', () => {
    expect(plugin.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(plugin.kind).toBe('ConfigManagementPlugin');
    expect(plugin.metadata.name).toBe('kservice');
    expect(plugin.spec.discover).toBeUndefined();
    expect(plugin.spec.parameters.static.map((p) => p.name)).toEqual(['inputs', 'config', 'history']);
  });

  it('runs on a checkout that is really read-only to it', async () => {
    const dir = await checkout();
    const probe = await runLikeCmpServer(dir, ['sh', '-c', 'touch probe && echo wrote'], null);
    expect(probe.code).not.toBe(0);
    expect(probe.stdout).toBe('');
    expect(probe.stderr).toMatch(/Read-only file system|Permission denied/);
  });
});

describe('generate, as argocd-cmp-server runs it', () => {
  it('with the announced defaults: compiles the application path, checks the committed history, prints only manifests', async () => {
    const dir = await checkout();
    const before = treeState(dir);
    const result = await generate(dir);
    expect(result.killed).toBe(false);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const objects = manifests(result.stdout);
    expect(names(objects)).toEqual(expect.arrayContaining(['ConfigMap hello-settings', 'Deployment hello-00001-deployment', 'Deployment activator']));
    // The config and the lockfile are read as such, never passed through as manifests.
    expect(objects.map((o) => o.kind)).not.toContain('RevisionHistory');
    expect(objects.map((o) => o.kind)).not.toContain('ServingConfig');
    expect(result.stdout).toContain('hello.apps.apps.example.org');
    expect(treeState(dir)).toEqual(before);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);

  it('the same output as announced defaults set explicitly, and as `kservice compile` in the checkout', async () => {
    const dir = await checkout();
    const explicit = await generate(dir, [
      { name: 'inputs', array: ['.'] },
      { name: 'config', string: 'kservice-config.yaml' },
      { name: 'history', string: 'kservice-history.yaml' },
    ]);
    expect(explicit.stderr).toBe('');
    expect(explicit.code).toBe(0);
    const defaults = await generate(dir);
    expect(explicit.stdout).toBe(defaults.stdout);
    const direct = await runLikeCmpServer(dir, ['kservice', 'compile', '.', '-n', 'apps', '--config', 'kservice-config.yaml', '--history', 'kservice-history.yaml'], null);
    expect(direct.stdout).toBe(defaults.stdout);
  }, 3 * ARGOCD_EXEC_TIMEOUT_MS);

  it('with parameters: inputs as an array, another config, no history', async () => {
    const other = CONFIG.replace('apps.example.org', 'internal.example.net');
    const dir = await checkout({ history: false, extra: { 'config/serving.yaml': other, 'more/world.yaml': HELLO_IN_APPS.replace(/hello/g, 'world') } });
    const before = treeState(dir);
    const result = await generate(dir, [
      { name: 'inputs', array: ['services', 'more/world.yaml'] },
      { name: 'config', string: 'config/serving.yaml' },
      { name: 'history', string: '' },
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const objects = manifests(result.stdout);
    expect(names(objects)).toEqual(expect.arrayContaining(['Deployment hello-00001-deployment', 'Deployment world-00001-deployment']));
    // settings.yaml is not among the inputs.
    expect(names(objects)).not.toContain('ConfigMap hello-settings');
    expect(result.stdout).toContain('hello.apps.internal.example.net');
    expect(result.stdout).not.toContain('apps.example.org');
    expect(treeState(dir)).toEqual(before);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);

  it("puts Services that set no namespace in the Application's destination namespace (ARGOCD_APP_NAMESPACE)", async () => {
    const dir = await checkout({ service: HELLO, history: false });
    const result = await generate(dir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const objects = manifests(result.stdout);
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'hello-00001-deployment');
    expect(deployment?.metadata?.namespace).toBe(BUILD_ENV.ARGOCD_APP_NAMESPACE);
    expect(result.stdout).toContain('hello.apps.apps.example.org');
    expect(result.stdout).not.toMatch(/namespace: default$/m);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);

  it('with a changed template and a committed history: fails with the frozen-history problem on stderr, nothing on stdout', async () => {
    const dir = await checkout({ lockedService: HELLO_IN_APPS, service: HELLO_IN_APPS.replace('hello:1', 'hello:2') });
    const before = treeState(dir);
    const result = await generate(dir);
    expect(result.killed).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'services/hello.yaml:8:5 spec.template: the template changed since kservice-history.yaml was written ' +
        '(spec.containers[0].image, against revision hello-00001): revision hello-00002 (generation 2) would be recorded\n' +
        'The history is frozen (--frozen-history). To record the new revisions, run the same compile without it and commit kservice-history.yaml:\n' +
        '  kservice compile . --namespace apps --config kservice-config.yaml --history kservice-history.yaml\n' +
        'kservice: 1 problem found; nothing was written\n',
    );
    expect(treeState(dir)).toEqual(before);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);

  it('with bad input: fails with FILE:LINE:COL problems on stderr, nothing on stdout', async () => {
    const bad = HELLO_IN_APPS.replace('    spec:\n', '    spec:\n      containerConcurrency: -1\n');
    const dir = await checkout({ service: bad, history: false, extra: { 'broken.yaml': 'kind: [\n' } });
    const before = treeState(dir);
    const result = await generate(dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^broken\.yaml:\d+:\d+: YAML syntax error: /m);
    expect(result.stderr).toMatch(/^services\/hello\.yaml:9:29 spec\.template\.spec\.containerConcurrency: /m);
    expect(result.stderr).toMatch(/kservice: 2 problems found; nothing was written\n$/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(treeState(dir)).toEqual(before);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);

  it.each([
    { parameter: { name: 'inputs', array: ['services', '../../README.md'] }, message: "parameter inputs[1] must be a relative path inside the application directory, got '../../README.md'" },
    { parameter: { name: 'config', string: '/etc/hostname' }, message: "parameter config must be a relative path inside the application directory, got '/etc/hostname'" },
    { parameter: { name: 'history', string: 'a/../../h.yaml' }, message: "parameter history must be a relative path inside the application directory, got 'a/../../h.yaml'" },
  ])('refuses a path parameter outside the application: $parameter.name', async ({ parameter, message }) => {
    const dir = await checkout({ history: false });
    const result = await generate(dir, [parameter as Parameter]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`kservice plugin: ${message}\n`);
  }, ARGOCD_EXEC_TIMEOUT_MS + 10_000);
});
