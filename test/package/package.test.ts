/**
 * The npm package as a user gets it: `npm pack` from this repository (its `prepare` script builds
 * dist-lib/ and dist-runtime/), the tarball installed from the npm registry's view of the world
 * into fresh projects, one with the OLDEST and one with the NEWEST cdk8s 2.x the peer range
 * allows. In each: the README's app in TypeScript (tsc against the published declarations),
 * CommonJS and ESM; the README's `Testing.synth` test under node:test; the installed `kservice`
 * bin on Knative YAML; and the installed `kservice-runtime queue-proxy` serving a request on
 * 127.0.0.1. Needs the npm registry (the installs) and a few minutes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { watchOutput } from '../support/child-output';
import { REPO_ROOT } from '../support/runtime-bundle';

const FIXTURE = join(__dirname, 'fixture');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  peerDependencies: Record<string, string>;
};

/** The oldest versions the peer range names (tested), and the newest 2.x / 10.x at run time. */
const PROJECTS = [
  { label: 'oldest', cdk8s: PACKAGE.peerDependencies.cdk8s.replace(/^\^/, ''), constructs: PACKAGE.peerDependencies.constructs.replace(/^\^/, '') },
  { label: 'newest', cdk8s: '2', constructs: '10' },
] as const;

/** What a library user must never get: runtime-only code (bundled in dist-runtime/) and dev tools. */
const NOT_INSTALLED = ['@kubernetes/client-node', 'pino', 'prom-client', 'tsx', 'esbuild', 'kubernetes-models', 'cdk8s-plus-27', 'typescript'];

const INSTALL_TIMEOUT = 300_000;
const PACK_LOCK = join(tmpdir(), 'cdk8s-kservice-pack.lock');
const STEP_TIMEOUT = 120_000;

// npm and node children get the environment without `npm test`'s own npm_* settings (lifecycle,
// config) and without this repository's node_modules/.bin on PATH, so they behave as in a user's
// project; node is first on PATH for the bins' `#!/usr/bin/env node`.
const ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
ENV.PATH = [dirname(process.execPath), ...(process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.includes('node_modules'))].join(delimiter);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; never rejects, so assertions can show its output. */
function run(command: string, args: readonly string[], cwd: string, timeout = STEP_TIMEOUT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: ENV, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function succeeded(result: Run, what: string): Run {
  if (result.code !== 0) throw new Error(`${what} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

let workDir: string;
let tarball: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'kservice-package-'));
  // Under a lock: two test runs in one clone would rebuild dist-lib/ under each other's pack.
  succeeded(await run('flock', [PACK_LOCK, 'npm', 'pack', '--pack-destination', workDir], REPO_ROOT, INSTALL_TIMEOUT), 'npm pack');
  const packed = readdirSync(workDir).filter((name) => name.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  tarball = join(workDir, packed[0]!);
}, INSTALL_TIMEOUT);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

interface Manifest {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: any;
}

/** Every manifest of the app's dist/, by file, in file order. */
function readDist(project: string): Record<string, Manifest[]> {
  const dist = join(project, 'dist');
  const byFile: Record<string, Manifest[]> = {};
  for (const file of readdirSync(dist).sort()) {
    byFile[file] = parseAllDocuments(readFileSync(join(dist, file), 'utf8')).map((doc) => doc.toJS() as Manifest);
  }
  return byFile;
}

/** What the README's app must produce: hello's revision with its queue-proxy, and the system. */
function expectHelloApp(byFile: Record<string, Manifest[]>): void {
  expect(Object.keys(byFile)).toEqual(['hello.k8s.yaml', 'serving-system.k8s.yaml']);
  const deployment = byFile['hello.k8s.yaml']!.find((m) => m.kind === 'Deployment');
  expect(deployment?.metadata.name).toBe('hello-00001-deployment');
  const containers = deployment!.spec.template.spec.containers as { name: string; image: string; env?: { name: string; value?: string }[] }[];
  expect(containers.map((c) => c.name)).toEqual(['user-container', 'queue-proxy']);
  expect(containers[0]!.env).toContainEqual({ name: 'TARGET', value: 'world' });
  const system = byFile['serving-system.k8s.yaml']!.map((m) => `${m.kind} ${m.metadata.name}`);
  expect(system).toContain('Deployment activator');
  expect(system).toContain('Deployment autoscaler');
}

/** Files and bytes under a directory (apparent sizes, symlinks not followed). */
function treeSize(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += treeSize(path);
    else if (entry.isFile()) bytes += statSync(path).size;
  }
  return bytes;
}

/** Every package npm installed (node_modules/.package-lock.json), by path. */
function installedPackages(project: string): Record<string, { version: string }> {
  const lock = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  return Object.fromEntries(Object.entries(lock.packages).filter(([path]) => path !== ''));
}

/** The last path segment after node_modules/: the package name, scope included. */
function packageName(path: string): string {
  return path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

const outputs: Record<string, Record<string, Manifest[]>> = {};

describe.each(PROJECTS)('installed with cdk8s@$cdk8s and constructs@$constructs ($label)', (peers) => {
  let project: string;

  beforeAll(async () => {
    project = join(workDir, peers.label);
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: `package-test-${peers.label}`, version: '1.0.0', private: true }, null, 2)}\n`);
    for (const file of readdirSync(FIXTURE)) copyFileSync(join(FIXTURE, file), join(project, file));
    succeeded(
      await run('npm', ['install', '--no-audit', '--no-fund', tarball, `cdk8s@${peers.cdk8s}`, `constructs@${peers.constructs}`], project, INSTALL_TIMEOUT),
      'npm install',
    );
  }, INSTALL_TIMEOUT);

  it('installs the package, its two dependencies and the peers, one copy of cdk8s', () => {
    const packages = installedPackages(project);
    const names = Object.keys(packages).map(packageName);
    for (const name of NOT_INSTALLED) expect(names).not.toContain(name);
    expect(names.filter((name) => name === 'cdk8s')).toEqual(['cdk8s']);
    expect(Object.keys(packages)).toContain('node_modules/cdk8s');
    const bytes = treeSize(join(project, 'node_modules'));
    const cdk8s = packages['node_modules/cdk8s']!.version;
    const constructs = packages['node_modules/constructs']!.version;
    if (peers.label === 'oldest') {
      expect(cdk8s).toBe(peers.cdk8s);
      expect(constructs).toBe(peers.constructs);
    }
    // The README's install figures come from this line.
    console.log(
      `package install (${peers.label}: cdk8s ${cdk8s}, constructs ${constructs}): ${names.length} packages, ` +
        `${(bytes / 1e6).toFixed(1)} MB in node_modules (${(treeSize(join(project, 'node_modules', PACKAGE.name)) / 1e6).toFixed(1)} MB of it the package)`,
    );
  });

  it('ships only the built library, the runtime bundles, the bins and the README', () => {
    const installed = join(project, 'node_modules', PACKAGE.name);
    expect(readdirSync(installed).sort()).toEqual(['README.md', 'bin', 'dist-lib', 'dist-runtime', 'package.json']);
    // krm.js: `kservice-runtime krm`, the KRM function the image runs (scripts/build-runtime.mjs).
    expect(readdirSync(join(installed, 'dist-runtime')).sort()).toEqual(['activator.js', 'autoscaler.js', 'krm.js', 'kservice-runtime.js', 'queue-proxy.js']);
    // lib/runtime/ is not compiled into dist-lib/: the library never loads the runtime's modules.
    expect(readdirSync(join(installed, 'dist-lib'))).not.toContain('runtime');
    const typeScriptFiles = readdirSync(join(installed, 'dist-lib'), { recursive: true }).map(String).filter((file) => file.endsWith('.ts'));
    expect(typeScriptFiles).toEqual(['index.d.ts']);
  });

  it('the README app type-checks against the declarations (tsc, strict, no skipLibCheck) and synthesizes', async () => {
    succeeded(await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project), 'tsc');
    rmSync(join(project, 'dist'), { recursive: true, force: true });
    succeeded(await run(process.execPath, ['build/main.js'], project), 'node build/main.js');
    outputs[`${peers.label} ts`] = readDist(project);
    expectHelloApp(outputs[`${peers.label} ts`]!);
  }, STEP_TIMEOUT);

  it.each(['main.cjs', 'main.mjs'])('the README app as %s synthesizes the same manifests', async (file) => {
    rmSync(join(project, 'dist'), { recursive: true, force: true });
    succeeded(await run(process.execPath, [file], project), `node ${file}`);
    outputs[`${peers.label} ${file}`] = readDist(project);
    expectHelloApp(outputs[`${peers.label} ${file}`]!);
    expect(outputs[`${peers.label} ${file}`]).toEqual(outputs[`${peers.label} ts`]);
  }, STEP_TIMEOUT);

  it("the README's Testing.synth test passes under node:test", async () => {
    const result = succeeded(await run(process.execPath, ['--test', 'hello.test.mjs'], project), 'node --test');
    expect(result.stdout).toMatch(/^# pass 1$/m);
    expect(result.stdout).toMatch(/^# fail 0$/m);
  }, STEP_TIMEOUT);

  it('the installed kservice bin compiles Knative YAML', async () => {
    const result = succeeded(await run(join(project, 'node_modules', '.bin', 'kservice'), ['compile', 'hello.yaml'], project), 'kservice compile');
    const manifests = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest);
    const deployment = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'hello-00001-deployment');
    expect(deployment?.metadata.namespace).toBe('default');
    expect((deployment!.spec.template.spec.containers as { name: string }[]).map((c) => c.name)).toEqual(['user-container', 'queue-proxy']);
    expect(result.stderr).toBe('');
  }, STEP_TIMEOUT);

  it('the installed kservice krm (dist-lib) and kservice-runtime krm (dist-runtime/krm.js) answer a ResourceList alike', async () => {
    const list = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${readFileSync(join(project, 'hello.yaml'), 'utf8').trimEnd().replace(/^/gm, '  ').replace(/^ {2}/, '- ')}\n`;
    const answers = await Promise.all(['kservice', 'kservice-runtime'].map((bin) => new Promise<Run>((resolve) => {
      const child = execFile(join(project, 'node_modules', '.bin', bin), ['krm'], { cwd: project, env: ENV, timeout: STEP_TIMEOUT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        resolve({ code: error ? -1 : 0, stdout, stderr });
      });
      child.stdin?.end(list);
    })));
    for (const answer of answers) expect(answer).toMatchObject({ code: 0, stderr: '' });
    expect(answers[1].stdout).toBe(answers[0].stdout);
    expect(answers[0].stdout).toContain('name: hello-00001-deployment');
  }, STEP_TIMEOUT);

  it('the installed kservice-runtime queue-proxy serves a request on 127.0.0.1', async () => {
    await withUpstream(async (userPort) => {
      const proxy = spawn(join(project, 'node_modules', '.bin', 'kservice-runtime'), ['queue-proxy'], {
        env: {
          PATH: ENV.PATH,
          SERVING_NAMESPACE: 'default',
          SERVING_REVISION: 'hello-00001',
          USER_PORT: String(userPort),
          QUEUE_SERVING_PORT: '0',
          QUEUE_ADMIN_PORT: '0',
          QUEUE_METRICS_PORT: '0',
          QUEUE_BIND_ADDRESS: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const output = watchOutput(proxy, (line) => (/"msg":"listening"/.test(line) ? line : undefined), 'queue-proxy');
        const { ports } = JSON.parse(await output.ready) as { ports: { serving: number } };
        const answer = await get(ports.serving, '/hi', 'hello.default.example.com');
        expect(answer).toEqual({ status: 200, body: 'upstream saw GET /hi for hello.default.example.com' });
      } finally {
        await stop(proxy);
      }
    });
  }, STEP_TIMEOUT);
});

describe('across the supported cdk8s range', () => {
  it('the oldest and the newest cdk8s synthesize the same manifests', () => {
    expect(outputs['oldest ts']).toBeDefined();
    expect(outputs['oldest ts']).toEqual(outputs['newest ts']);
  });
});

describe('README "Use it as a library"', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = /<!-- library:start -->([\s\S]*?)<!-- library:end -->/.exec(readme)?.[1] ?? '';

  it.each(['main.ts', 'tsconfig.json', 'hello.test.mjs'])('shows %s exactly as the package test runs it', (file) => {
    expect(section).toContain(readFileSync(join(FIXTURE, file), 'utf8'));
  });

  it('names the peer ranges of package.json', () => {
    expect(section).toContain(`cdk8s@${PACKAGE.peerDependencies.cdk8s}`);
    expect(section).toContain(`constructs@${PACKAGE.peerDependencies.constructs}`);
  });
});

/** A tiny app on 127.0.0.1 that says what it received, for the duration of `body`. */
async function withUpstream(body: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer((req, res) => res.end(`upstream saw ${req.method} ${req.url} for ${req.headers.host}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from 127.0.0.1:${port} in 10 s`)));
    req.on('error', reject);
  });
}

/** SIGKILL and wait for the exit: nothing is left running after the test. */
function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}
