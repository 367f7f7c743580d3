/**
 * The revision history compares templates with canonical quantities: Knative's webhook stores the
 * template's quantities re-encoded, so `cpu: 1000m` -> `cpu: "1"` is no change to the
 * Configuration and makes no revision. Without this, the canonical output (issue 17) would have
 * turned a spelling edit into a new revision, and `--frozen-history` into a failed render.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, workDirs } from './helpers';

const dirs = workDirs();

function service(cpu: string, memory: string): string {
  return `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: demo
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/example/hello:1
          resources:
            limits: {cpu: ${cpu}, memory: ${memory}}
`;
}

function revision(cpu: string): string {
  return `apiVersion: serving.knative.dev/v1
kind: Revision
metadata:
  name: hello-00001
  namespace: demo
  labels: {serving.knative.dev/configuration: hello, serving.knative.dev/configurationGeneration: "1"}
spec:
  containers:
    - image: ghcr.io/example/hello:1
      resources:
        limits: {cpu: ${cpu}, memory: 1Gi}
`;
}

describe('revision history and quantity spellings', () => {
  it('a quantity written another way is the same revision; the lockfile is kept as first written', async () => {
    const dir = dirs({ 'svc.yaml': service('1000m', '1024Mi') });
    const svc = path.join(dir, 'svc.yaml');
    const history = path.join(dir, 'history.yaml');
    const first = await run(['compile', svc, '--history', history]);
    expect(first.code, first.stderr).toBe(0);
    const recorded = readFileSync(history, 'utf8');
    expect(recorded).toContain('1000m');

    writeFileSync(svc, service('"1"', '1Gi'));
    const frozen = await run(['compile', svc, '--history', history, '--frozen-history']);
    expect(frozen.stderr).toBe('');
    expect(frozen.code).toBe(0);
    expect(frozen.stdout).toBe(first.stdout);
    expect(frozen.stdout).toContain('hello-00001');
    expect(frozen.stdout).not.toContain('hello-00002');
    expect(readFileSync(history, 'utf8')).toBe(recorded);
  });

  it('a changed value is still a new revision (frozen: refused)', async () => {
    const dir = dirs({ 'svc.yaml': service('1000m', '1Gi') });
    const svc = path.join(dir, 'svc.yaml');
    const history = path.join(dir, 'history.yaml');
    expect((await run(['compile', svc, '--history', history])).code).toBe(0);
    writeFileSync(svc, service('1500m', '1Gi'));
    const frozen = await run(['compile', svc, '--history', history, '--frozen-history']);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toContain('hello-00002');
    expect(frozen.stdout).toBe('');
  });

  it('a Revision document spelling a quantity differently from the template is that revision, not a clash', async () => {
    const dir = dirs({ 'svc.yaml': service('"1"', '1Gi'), 'rev.yaml': revision('1000m') });
    const result = await run(['compile', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('name: hello-00001');
    expect(result.stdout).not.toContain('hello-00002');
  });
});
