/**
 * `kservice graph` as users run it: `node bin/kservice.js` as a child process, Knative YAML on
 * stdin, an SVG written with -o, a positioned error (exit 1, no stack, nothing written), and
 * Graphviz kept out of the image's KRM bundle.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { HELLO, workDirs } from './helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'kservice.js');
const workDir = workDirs();

function kservice(args: readonly string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? -1) : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
    child.stdin?.end(stdin);
  });
}

describe('bin/kservice.js graph', () => {
  it('prints Mermaid for Knative YAML on stdin', async () => {
    const result = await kservice(['graph', '-'], HELLO);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^flowchart LR\n/);
    expect(result.stdout).toContain('VirtualService_default_hello_ingress -->|"100%"| Service_default_hello_00001');
    expect(result.stdout).toContain('subgraph cluster_revision_default_hello_00001["revision hello-00001 · data plane full"]');
  });

  it('writes SVG laid out by Graphviz to -o', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'pictures', 'hello.svg');
    const result = await kservice(['graph', path.join(dir, 'hello.yaml'), '-o', out]);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    const svg = readFileSync(out, 'utf8');
    expect(svg).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\n?$/);
    expect(svg).toContain('<title>Endpoints_default_hello_00001</title>');
    expect(svg).toContain('>Endpoints hello&#45;00001</text>');
  });

  it('bad input: FILE:LINE:COL PATH: MESSAGE, exit 1, no stack trace, no file', async () => {
    const dir = workDir({ 'route.yaml': 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\n  labels:\n    serving.knative.dev/route: web\nspec:\n  rules:\n    - backendRefs:\n        - port: 80\n' });
    const out = path.join(dir, 'web.svg');
    const result = await kservice(['graph', path.join(dir, 'route.yaml'), '-o', out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`${path.join(dir, 'route.yaml')}:10:11 spec.rules[0].backendRefs[0].name: is required to draw the route\nkservice: 1 problem found; nothing was written\n`);
    expect(existsSync(out)).toBe(false);
  });

  it("leaves Graphviz out of the image's KRM bundle, which bundles lib/cli/main.ts (scripts/build-runtime.mjs)", async () => {
    const krm = await build({ entryPoints: [path.join(__dirname, '..', '..', 'lib', 'cli', 'krm', 'main.ts')], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(krm.metafile.inputs);
    expect(inputs.some((i) => i.includes('lib/cli/draw/svg.ts'))).toBe(true);
    expect(inputs.filter((i) => i.includes('@viz-js'))).toEqual([]);
  });
});
