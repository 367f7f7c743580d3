/**
 * `kservice compile -n NAMESPACE`: Knative documents that set no namespace are compiled into it,
 * as `kubectl apply -n` (or a GitOps engine's destination namespace) would place them; documents
 * that set one keep it, other documents pass through as written.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HELLO, run, workDirs } from './helpers';

const newDir = workDirs();

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
}

function objects(stdout: string): Manifest[] {
  return parseAllDocuments(stdout).map((d) => d.toJS() as Manifest);
}

const NAMESPACE_LESS_CONFIG_MAP = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n';

describe('compile --namespace', () => {
  it('compiles Services without a namespace into it, keeps explicit ones, passes other documents through untouched', async () => {
    const world = HELLO.replace('name: hello', 'name: world\n  namespace: team');
    const dir = newDir({ 'hello.yaml': HELLO, 'world.yaml': world, 'settings.yaml': NAMESPACE_LESS_CONFIG_MAP });
    const result = await run(['compile', dir, '-n', 'apps']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const all = objects(result.stdout);
    const deployment = (name: string) => all.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
    expect(deployment('hello-00001-deployment')?.metadata.namespace).toBe('apps');
    expect(deployment('world-00001-deployment')?.metadata.namespace).toBe('team');
    expect(all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'settings')?.metadata.namespace).toBeUndefined();
    expect(result.stdout).toContain('hello.apps.example.com');
    // The same as writing the namespace into the document.
    const written = await run(['compile', path.join(dir, 'world.yaml'), '-'], HELLO.replace('name: hello', 'name: hello\n  namespace: apps'));
    const fromFlag = await run(['compile', path.join(dir, 'world.yaml'), '-', '--namespace', 'apps'], HELLO);
    expect(fromFlag.stdout).toBe(written.stdout);
  });

  it('records the service under that namespace in the history', async () => {
    const dir = newDir({ 'in/hello.yaml': HELLO });
    const history = path.join(dir, 'history.yaml');
    expect((await run(['compile', path.join(dir, 'in'), '-n', 'apps', '--history', history])).code).toBe(0);
    const frozen = await run(['compile', path.join(dir, 'in'), '--history', history, '--frozen-history']);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toContain(`Service default/hello is not in the history ${history}`);
    expect((await run(['compile', path.join(dir, 'in'), '-n', 'apps', '--history', history, '--frozen-history'])).code).toBe(0);
  });

  it('reports problems at their place in the document as written', async () => {
    const bad = HELLO.replace('    spec:\n', '    spec:\n      containerConcurrency: -1\n');
    const dir = newDir({ 'hello.yaml': bad });
    const result = await run(['compile', path.join(dir, 'hello.yaml'), '-n', 'apps']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${path.join(dir, 'hello.yaml')}:8:29 spec\\.template\\.spec\\.containerConcurrency: `, 'm'));
  });

  it.each(['Apps', 'a_b', '-apps', 'x'.repeat(64), ''])('refuses %j as a usage error', async (value) => {
    const dir = newDir({ 'hello.yaml': HELLO });
    const result = await run(['compile', dir, `--namespace=${value}`]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^kservice: --namespace '.*' must be a DNS-1123 label/);
  });
});
