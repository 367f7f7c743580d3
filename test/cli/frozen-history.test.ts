/**
 * `kservice compile --history FILE --frozen-history`: the history is read and never written. An
 * unchanged lockfile passes (same output as a normal compile, the file untouched to the byte and
 * the mtime); a run that would record a revision fails with exit 1, nothing on stdout, nothing
 * written, naming each service and revision, and printing the command that updates the lockfile.
 */
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HELLO, run, snapshotTree, workDirs } from './helpers';

const newDir = workDirs();

const WORLD = HELLO.replace('name: hello', 'name: world').replace('hello:1', 'world:1');

/** A file's bytes and mtime: what "untouched" means. The mtime is set back first, so a rewrite in the same millisecond shows. */
function fingerprint(file: string): { bytes: string; mtimeMs: number } {
  return { bytes: readFileSync(file).toString('base64'), mtimeMs: statSync(file).mtimeMs };
}

function ageFile(file: string): void {
  const past = new Date('2020-01-01T00:00:00Z');
  utimesSync(file, past, past);
}

describe.each([
  { label: 'stdout', outDir: false },
  { label: '-o OUT_DIR', outDir: true },
])('--frozen-history, output to $label', ({ outDir }) => {
  let dir: string;
  let history: string;
  let out: string;
  // In the order the printed update command uses.
  const args = (...extra: string[]) => ['compile', path.join(dir, 'in'), ...(outDir ? ['-o', out] : []), '--history', history, ...extra];

  beforeEach(async () => {
    dir = newDir({ 'in/hello.yaml': HELLO });
    history = path.join(dir, 'kservice-history.yaml');
    out = path.join(dir, 'out');
    // The lockfile as a normal compile writes it, then aged.
    const seeded = await run(args());
    expect(seeded.code, seeded.stderr).toBe(0);
    ageFile(history);
  });

  it('passes on an unchanged template, gives the normal output and leaves the history untouched', async () => {
    const normal = await run(['compile', path.join(dir, 'in'), '--history', history]);
    ageFile(history);
    const before = fingerprint(history);
    const frozen = await run(args('--frozen-history'));
    expect(frozen.stderr).toBe('');
    expect(frozen.code).toBe(0);
    expect(fingerprint(history)).toEqual(before);
    if (outDir) {
      expect(frozen.stdout).toBe('');
      expect(readFileSync(path.join(out, 'default-hello.yaml'), 'utf8')).toContain('name: hello-00001');
    } else {
      expect(frozen.stdout).toBe(normal.stdout);
    }
  });

  it('fails on a changed template, naming the service, the field and the revision, and prints the update command', async () => {
    writeFileSync(path.join(dir, 'in/hello.yaml'), HELLO.replace('hello:1', 'hello:2'));
    const before = { history: fingerprint(history), out: snapshotTree(out) };
    const frozen = await run(args('--frozen-history'));
    expect(frozen.code).toBe(1);
    expect(frozen.stdout).toBe('');
    const input = path.join(dir, 'in/hello.yaml');
    expect(frozen.stderr).toContain(
      `${input}:7:5 spec.template: the template changed since ${history} was written ` +
        '(spec.containers[0].image, against revision hello-00001): revision hello-00002 (generation 2) would be recorded\n',
    );
    expect(frozen.stderr).toContain(`run the same compile without it and commit ${history}:\n  kservice compile ${args().slice(1).join(' ')}\n`);
    expect(frozen.stderr).toMatch(/kservice: 1 problem found; nothing was written\n$/);
    expect({ history: fingerprint(history), out: snapshotTree(out) }).toEqual(before);

    // The printed command is the one that updates the lockfile; after it, the frozen run passes.
    const update = await run(args());
    expect(update.code, update.stderr).toBe(0);
    expect(readFileSync(history, 'utf8')).toContain('name: hello-00002');
    expect((await run(args('--frozen-history'))).code).toBe(0);
  });

  it('fails on a new service, naming it and the revision it would record', async () => {
    writeFileSync(path.join(dir, 'in/world.yaml'), WORLD);
    const before = { history: fingerprint(history), out: snapshotTree(out) };
    const frozen = await run(args('--frozen-history'));
    expect(frozen.code).toBe(1);
    expect(frozen.stdout).toBe('');
    expect(frozen.stderr).toContain(
      `${path.join(dir, 'in/world.yaml')}:4:9 metadata.name: Service default/world is not in the history ${history}: ` +
        'revision world-00001 (generation 1) would be recorded\n',
    );
    expect(frozen.stderr).not.toContain('default/hello');
    expect({ history: fingerprint(history), out: snapshotTree(out) }).toEqual(before);
  });
});

describe('--frozen-history without a history file', () => {
  it('fails when a service would be recorded, saying the file does not exist, and creates nothing', async () => {
    const dir = newDir({ 'hello.yaml': HELLO });
    const history = path.join(dir, 'kservice-history.yaml');
    const frozen = await run(['compile', dir, '--history', history, '--frozen-history']);
    expect(frozen.code).toBe(1);
    expect(frozen.stdout).toBe('');
    expect(frozen.stderr).toContain(
      `${history}: does not exist; --frozen-history needs the committed history file, and 1 service would be recorded in it\n`,
    );
    expect(frozen.stderr).toContain(`Service default/hello is not in the history ${history}: revision hello-00001 (generation 1) would be recorded`);
    expect(existsSync(history)).toBe(false);
  });

  it('passes when nothing would be recorded (no Knative services), and creates nothing', async () => {
    const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n';
    const dir = newDir({ 'ns.yaml': namespace });
    const history = path.join(dir, 'kservice-history.yaml');
    const frozen = await run(['compile', dir, '--history', history, '--frozen-history']);
    expect(frozen.stderr).toBe('');
    expect(frozen.code).toBe(0);
    expect(frozen.stdout).toContain('kind: Namespace');
    expect(existsSync(history)).toBe(false);
  });
});

describe('--frozen-history and a BYO revision name', () => {
  it('fails when a template comes back to an earlier named revision: the generation would change', async () => {
    const named = (name: string, image: string) =>
      HELLO.replace('  template:\n', `  template:\n    metadata:\n      name: ${name}\n`).replace('hello:1', image);
    const dir = newDir({ 'in/hello.yaml': named('hello-blue', 'hello:1') });
    const history = path.join(dir, 'history.yaml');
    const args = ['compile', path.join(dir, 'in'), '--history', history];
    expect((await run(args)).code).toBe(0);
    writeFileSync(path.join(dir, 'in/hello.yaml'), named('hello-green', 'hello:2'));
    expect((await run(args)).code).toBe(0);
    writeFileSync(path.join(dir, 'in/hello.yaml'), named('hello-blue', 'hello:1'));
    const frozen = await run([...args, '--frozen-history']);
    expect(frozen.code).toBe(1);
    expect(frozen.stderr).toContain(
      'against revision hello-green): revision hello-blue would become current again, the generation going from 2 to 3\n',
    );
  });
});

describe('--frozen-history on the command line', () => {
  it('is a usage error without --history', async () => {
    const dir = newDir({ 'hello.yaml': HELLO });
    const result = await run(['compile', dir, '--frozen-history']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^kservice: --frozen-history needs --history FILE \(the lockfile to check\)\n\nUsage: kservice compile/);
  });

  it('quotes the update command for a shell', async () => {
    const dir = newDir({ 'my app/hello.yaml': HELLO });
    const history = path.join(dir, "it's history.yaml");
    const args = ['compile', path.join(dir, 'my app'), '--history', history];
    expect((await run(args)).code).toBe(0);
    writeFileSync(path.join(dir, 'my app/world.yaml'), WORLD);
    const result = await run([...args, '--frozen-history']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`\n  kservice compile '${path.join(dir, 'my app')}' --history '${dir}/it'\\''s history.yaml'\n`);
  });
});

describe('the --config and --history files inside an input directory', () => {
  it('are read as config and history, never passed through as manifests', async () => {
    const config = 'apiVersion: kservice.cdk8s.io/v1alpha1\nkind: ServingConfig\ndomain: apps.example.org\n';
    const dir = newDir({ 'hello.yaml': HELLO, 'kservice-config.yaml': config });
    const args = ['compile', dir, '--config', path.join(dir, 'kservice-config.yaml'), '--history', path.join(dir, 'kservice-history.yaml')];
    expect((await run(args)).code).toBe(0);
    const again = await run([...args, '--frozen-history']);
    expect(again.stderr).toBe('');
    const kinds = parseAllDocuments(again.stdout).map((d) => (d.toJS() as { kind: string }).kind);
    expect(kinds).not.toContain('RevisionHistory');
    expect(kinds).not.toContain('ServingConfig');
    expect(again.stdout).toContain('hello.default.apps.example.org');
  });
});
