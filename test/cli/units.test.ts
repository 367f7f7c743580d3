/**
 * The CLI's small pieces, table-driven: field paths, mapping construct problem paths back to
 * Knative document paths, revision planning against the history, and the atomic output writer.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPath, parsePath } from '../../lib/problems';
import { HistoryService, normalize, parseHistory, planRevision, serializeHistory } from '../../lib/cli/history';
import { propsPathToDocument } from '../../lib/cli/knative-to-props';
import type { KnativeRevisionTemplate } from '../../lib/cli/knative-types';
import { OutputDirError, writeOutputDir } from '../../lib/cli/output';
import { listFiles, removeDir, tempDir } from './helpers';

describe('field paths', () => {
  it.each([
    [['spec', 'traffic', 1, 'percent'], 'spec.traffic[1].percent'],
    [['metadata', 'annotations', 'autoscaling.knative.dev/min-scale'], 'metadata.annotations["autoscaling.knative.dev/min-scale"]'],
    [['a', 'b-c', 0, 2], 'a.b-c[0][2]'],
    [[], ''],
  ] as const)('%j <-> %s', (segments, text) => {
    expect(formatPath(segments)).toBe(text);
    expect(parsePath(text)).toEqual(segments);
  });

  it("reads the constructs' single-quoted keys too", () => {
    expect(parsePath("templateAnnotations['a/b'].x")).toEqual(['templateAnnotations', 'a/b', 'x']);
  });
});

describe('construct problem paths map to document paths', () => {
  it.each([
    ['traffic[1].percent', { in: 'service', segments: ['spec', 'traffic', 1, 'percent'] }],
    ['name', { in: 'service', segments: ['metadata', 'name'] }],
    ['revisionName', { in: 'service', segments: ['spec', 'template', 'metadata', 'name'] }],
    ['containers[0].port', { in: 'service', segments: ['spec', 'template', 'spec', 'containers', 0, 'ports', 0, 'containerPort'] }],
    ['containers[1].portName', { in: 'service', segments: ['spec', 'template', 'spec', 'containers', 1, 'ports', 0, 'name'] }],
    ['containers[0].env[2].name', { in: 'service', segments: ['spec', 'template', 'spec', 'containers', 0, 'env', 2, 'name'] }],
    ['timeout', { in: 'service', segments: ['spec', 'template', 'spec', 'timeoutSeconds'] }],
    ['templateAnnotations["autoscaling.knative.dev/window"]', { in: 'service', segments: ['spec', 'template', 'metadata', 'annotations', 'autoscaling.knative.dev/window'] }],
    ['volumes[0].name', { in: 'service', segments: ['spec', 'template', 'spec', 'volumes', 0, 'name'] }],
    ['revisions[2].containerConcurrency', { in: 'revision', index: 2, segments: ['spec', 'containerConcurrency'] }],
    ['revisions[0].idleTimeout', { in: 'revision', index: 0, segments: ['spec', 'idleTimeoutSeconds'] }],
  ] as const)('%s', (propsPath, expected) => {
    expect(propsPathToDocument(parsePath(propsPath))).toEqual(expected);
  });
});

const template = (image: string, name?: string): KnativeRevisionTemplate => ({
  ...(name ? { metadata: { name } } : {}),
  spec: { containers: [{ image }] },
});

const entry = (...revisions: [string, number, KnativeRevisionTemplate][]): HistoryService => ({
  namespace: 'default',
  name: 'svc',
  generation: revisions[revisions.length - 1][1],
  revisions: revisions.map(([name, generation, t]) => ({ name, generation, template: normalize(t) as KnativeRevisionTemplate })),
});

describe('planRevision replays the configuration generation', () => {
  const one = entry(['svc-00001', 1, template('a')]);

  it('keeps the latest revision when the template is unchanged (key order does not matter)', () => {
    const reordered = { spec: { containers: [{ image: 'a' }] } };
    expect(planRevision(one, 'svc', reordered)).toEqual({ kind: 'ok', name: 'svc-00001', generation: 1, entry: one });
  });

  it('numbers a changed template with the next generation', () => {
    const plan = planRevision(one, 'svc', template('b'));
    expect(plan).toMatchObject({ kind: 'ok', name: 'svc-00002', generation: 2 });
    expect(plan.kind === 'ok' && plan.entry.revisions.map((r) => [r.name, r.generation])).toEqual([['svc-00001', 1], ['svc-00002', 2]]);
  });

  it('keeps a BYO name and still counts the generation', () => {
    expect(planRevision(one, 'svc', template('b', 'svc-blue'))).toMatchObject({ kind: 'ok', name: 'svc-blue', generation: 2, entry: { generation: 2 } });
  });

  it('a changed template back to an earlier one is still a new generation, as in Knative', () => {
    const two = entry(['svc-00001', 1, template('a')], ['svc-00002', 2, template('b')]);
    expect(planRevision(two, 'svc', template('a'))).toMatchObject({ kind: 'ok', name: 'svc-00003', generation: 3 });
  });

  it('rejects a BYO name that already names a different template', () => {
    const byo = entry(['svc-blue', 1, template('a', 'svc-blue')]);
    expect(planRevision(byo, 'svc', template('b', 'svc-blue'))).toEqual({ kind: 'conflict', name: 'svc-blue' });
  });
});

describe('history file', () => {
  it('round-trips through serialize and parse', () => {
    const history = { services: [entry(['svc-00001', 1, template('a')], ['svc-00002', 2, template('b')])] };
    const text = serializeHistory(history);
    const parsed = parseHistory('h.yaml', text);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.history.services).toEqual(history.services);
    expect(text.startsWith('# Revision history')).toBe(true);
  });
});

describe('writeOutputDir', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  it('creates the directory, then replaces and removes only the files it listed as its own', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const out = path.join(dir, 'out');
    await writeOutputDir(out, [{ name: 'serving-system.yaml', documents: ['a: 1\n', 'b: 2\n'] }, { name: 'x.yaml', documents: ['x: 1\n'] }]);
    expect(listFiles(out)).toEqual(['.kservice-output', 'serving-system.yaml', 'x.yaml']);
    expect(readFileSync(path.join(out, '.kservice-output'), 'utf8')).toMatch(/\nserving-system\.yaml\nx\.yaml\n$/);
    writeFileSync(path.join(out, 'README.md'), 'mine');
    await writeOutputDir(out, [{ name: 'serving-system.yaml', documents: ['c: 3\n'] }]);
    expect(listFiles(out)).toEqual(['.kservice-output', 'README.md', 'serving-system.yaml']);
    expect(readFileSync(path.join(out, 'serving-system.yaml'), 'utf8')).toBe('c: 3\n');
    expect(readdirSync(dir)).toEqual(['out']);
  });

  it('refuses a file in the way, a generated name it does not own, and a list entry that is a path', async () => {
    const dir = tempDir({ 'precious/serving-system.yaml': 'keep', 'file.yaml': 'x', 'edited/.kservice-output': '../file.yaml\n' });
    dirs.push(dir);
    await expect(writeOutputDir(path.join(dir, 'precious'), [{ name: 'serving-system.yaml', documents: [] }])).rejects.toThrow(OutputDirError);
    expect(readFileSync(path.join(dir, 'precious', 'serving-system.yaml'), 'utf8')).toBe('keep');
    await expect(writeOutputDir(path.join(dir, 'file.yaml'), [])).rejects.toThrow('is not a directory');
    await expect(writeOutputDir(path.join(dir, 'edited'), [])).rejects.toThrow('"../file.yaml" is not a file name kservice compile writes');
    expect(readFileSync(path.join(dir, 'file.yaml'), 'utf8')).toBe('x');
    mkdirSync(path.join(dir, 'empty'));
    await writeOutputDir(path.join(dir, 'empty'), [{ name: 'serving-system.yaml', documents: [] }]);
    expect(listFiles(path.join(dir, 'empty'))).toEqual(['.kservice-output', 'serving-system.yaml']);
  });
});
