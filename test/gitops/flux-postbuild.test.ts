/**
 * Flux's post-build substitution over compiled graphs, run with Flux's own code
 * (test/gitops/flux-postbuild: github.com/fluxcd/pkg/kustomize SubstituteVariables, what
 * kustomize-controller calls on every object when a Kustomization sets spec.postBuild).
 *
 * What it shows, for the README's GitOps section: the strings kservice generates contain no `$`,
 * so a Kustomization with postBuild leaves every compiled object as compiled; the user's own
 * strings (env values, commands, args) are copied into the Deployment verbatim, so a `${NAME}` or
 * `$$` there is rewritten by Flux exactly as in any other manifest, unless the object opts out
 * with `kustomize.toolkit.fluxcd.io/substitute: disabled`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../cli/helpers';

const ROOT = path.join(__dirname, '..', '..');
const GOLDEN = path.join(ROOT, 'test', 'cli', 'golden');
/** Flux's opt-out, read from labels and annotations (fluxcd/pkg kustomize/kustomize_varsub.go). */
const SUBSTITUTE_DISABLED = { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' };
/** Variables a platform team typically substitutes; names kservice's own output could plausibly use. */
const VARS = ['cluster_name=prod-eu', 'NAMESPACE=ops', 'HOME=/root', 'PORT=1', 'K_SERVICE=x', 'POD_IP=1.2.3.4'];

let fluxPostBuild: string;

beforeAll(() => {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'build-flux-postbuild.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  fluxPostBuild = out.trim().split('\n').at(-1)!;
}, 30 * 60_000);

function substitute(stream: string, vars: readonly string[] = VARS): unknown[] {
  const out = execFileSync(fluxPostBuild, [...vars], { input: stream, encoding: 'utf8', maxBuffer: 64 << 20 });
  return objects(out);
}

function objects(stream: string): unknown[] {
  return parseAllDocuments(stream).map((d) => d.toJS()).filter((o) => o !== null);
}

async function compile(args: string[], stdin = ''): Promise<string> {
  const result = await run(['compile', ...args], stdin);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

const cases = readdirSync(GOLDEN).filter((d) => existsSync(path.join(GOLDEN, d, 'input')) && statSync(path.join(GOLDEN, d)).isDirectory()).sort();

describe('Flux post-build substitution (fluxcd/pkg/kustomize, as kustomize-controller runs it)', () => {
  it.each(cases)('golden case %s: every compiled object comes out of substitution unchanged', async (name) => {
    const dir = path.join(GOLDEN, name);
    const config = path.join(dir, 'config.yaml');
    const stream = await compile([path.join(dir, 'input'), ...(existsSync(config) ? ['--config', config] : [])]);
    // The reason it holds: nothing kservice generates has a `$` for envsubst to read.
    expect(stream.includes('$')).toBe(false);
    expect(substitute(stream)).toEqual(objects(stream));
  });

  const userStrings = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: shell
  namespace: demo
spec:
  template:
    spec:
      containers:
        - image: registry.example.com/shell:1
          command: [sh, -c, 'echo "\${GREETING:-hi} from \${HOSTNAME}"']
          env:
            - name: PRICE
              value: "$$5"
`;

  it('user strings with ${...} or $$ are rewritten by Flux, as in any manifest', async () => {
    const compiled = objects(await compile(['-'], userStrings));
    const substituted = substitute(await compile(['-'], userStrings));
    const container = (objs: unknown[]) => {
      const deployment = objs.find((o) => (o as { metadata: { name: string } }).metadata.name === 'shell-00001-deployment') as { spec: { template: { spec: { containers: { image: string; command?: string[]; env?: { name: string; value?: string }[] }[] } } } };
      return deployment.spec.template.spec.containers.find((c) => c.image === 'registry.example.com/shell:1')!;
    };
    expect(container(compiled).command?.[2]).toBe('echo "${GREETING:-hi} from ${HOSTNAME}"');
    // Unset variables become their default or empty; `$$` is envsubst's escape for `$`.
    expect(container(substituted).command?.[2]).toBe('echo "hi from "');
    expect(container(substituted).env?.find((e) => e.name === 'PRICE')?.value).toBe('$5');
  });

  it('kustomize.toolkit.fluxcd.io/substitute: disabled on the compiled objects keeps them as compiled', async () => {
    const stream = await compile(['-'], userStrings);
    // What a kustomization's commonAnnotations (or the Flux Kustomization's patches) would add.
    const optedOut = objects(stream).map((o) => {
      const obj = o as { metadata: { annotations?: Record<string, string> } };
      return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, ...SUBSTITUTE_DISABLED } } };
    });
    const optedOutStream = optedOut.map((o) => `---\n${JSON.stringify(o)}\n`).join('');
    expect(substitute(optedOutStream)).toEqual(optedOut);
  });
});
