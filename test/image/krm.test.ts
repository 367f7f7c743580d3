/**
 * The runtime image as a KRM container function: kustomize and kpt run a function's image without
 * arguments, a ResourceList on stdin (kustomize cmd/config/docs/api-conventions/functions-spec.md),
 * so the image's own entrypoint, run from its root filesystem read-only as uid 65532 (as
 * test/image/run.test.ts runs the roles), must answer exactly as `kservice krm` does.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HELLO, run } from '../cli/helpers';
import { imageEnv, rootfsCommand, type UnpackedImage } from '../support/runtime-image';
import { assertRoot, builtImage } from './support';

let image: UnpackedImage;
const stateDirs: string[] = [];

beforeAll(() => {
  image = builtImage();
}, 600_000);
afterAll(() => stateDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Exit { code: number | null; stdout: string; stderr: string }

/**
 * The user kustomize runs a container function as: `docker run --user nobody` (kyaml
 * runfn/runfn.go getUIDGID), which the engine resolves in the image's own /etc/passwd.
 */
function nobody(): string {
  const entry = readFileSync(join(image.rootfs, 'etc', 'passwd'), 'utf8').split('\n').find((line) => line.startsWith('nobody:'));
  expect(entry, "the image's /etc/passwd has no nobody").toBeDefined();
  const [, , uid, gid] = entry!.split(':');
  return `${uid}:${gid}`;
}

/** The image's entrypoint with `args`, `stdin` piped in, as a container engine would run it (as `user`, default the image's). */
function runImage(args: readonly string[], stdin: string, user = image.config.config.User): Promise<Exit> {
  assertRoot('running the image');
  const stateDir = mkdtempSync(join(tmpdir(), 'kservice-krm-container-'));
  stateDirs.push(stateDir);
  const asUser = { ...image, config: { ...image.config, config: { ...image.config.config, User: user } } };
  const cmd = rootfsCommand(asUser, args, { stateDir });
  const child = spawn(cmd.command, cmd.args, { env: imageEnv(image.config), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const item = (service: string) => `${service.trimEnd().replace(/^/gm, '  ').replace(/^ {2}/, '- ')}\n`;
const list = (service: string) => `apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
${item(service)}- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings
    annotations:
      internal.config.kubernetes.io/path: settings.yaml
functionConfig:
  apiVersion: kservice.cdk8s.io/v1alpha1
  kind: KServiceConfig
  metadata:
    name: kservice
  domain: example.org
`;

describe('the runtime image as a KRM function', () => {
  it('with no arguments as nobody (as kustomize runs a container function), and with `krm`, gives the bytes kservice krm gives', async () => {
    const input = list(HELLO);
    const expected = await run(['krm'], input);
    expect(expected.code).toBe(0);
    expect(nobody()).toBe('65534:65534');
    for (const [args, user] of [[[], nobody()], [['krm'], image.config.config.User]] as const) {
      const out = await runImage(args, input, user);
      expect(out.stderr, args.join(' ')).toBe('');
      expect(out.code).toBe(0);
      expect(out.stdout).toBe(expected.stdout);
    }
    expect(expected.stdout).toContain('hello.default.example.org');
  });

  it('reports bad input as results and exits 1, as kservice krm does', async () => {
    const input = list(HELLO.replace('    spec:\n', '    spec:\n      containerConcurrency: "ten"\n'));
    const expected = await run(['krm'], input);
    const out = await runImage([], input);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe(expected.stdout);
    expect(out.stderr).toBe(expected.stderr);
    const results = (parse(out.stdout) as { results: { field: { path: string }; resourceRef: { name: string } }[] }).results;
    expect(results.map((r) => [r.resourceRef.name, r.field.path])).toEqual([['hello', 'spec.template.spec.containerConcurrency']]);
  });
});
