/**
 * `-o DIR --history FILE` is one commit: the output files and the history change together or not
 * at all (a run once rewrote DIR and only then failed on the history). And DIR may hold the user's
 * own files: only the files the compiler listed as its own are replaced or removed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELLO, listFiles, removeDir, run, snapshotTree, workDirs } from './helpers';

const workDir = workDirs();

const WORLD = HELLO.replace('name: hello', 'name: world');
const CHANGED = HELLO.replace('hello:1', 'hello:2');

describe('output directory and history are written together', () => {
  it('writes neither the output directory nor the history when the history cannot be written', async () => {
    const dir = workDir({ 'hello.yaml': HELLO, 'not-a-dir': 'a file' });
    const out = path.join(dir, 'out');

    const result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', path.join(dir, 'not-a-dir', 'history.yaml')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`kservice: cannot write ${path.join(dir, 'not-a-dir', 'history.yaml')}: ${path.join(dir, 'not-a-dir')} is not a directory; nothing was written\n`);
    expect(snapshotTree(dir)).toEqual({ 'hello.yaml': Buffer.from(HELLO).toString('base64'), 'not-a-dir': Buffer.from('a file').toString('base64') });
  });

  it('leaves a previous output directory and history byte for byte as they were when the new history cannot be written', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');
    const history = path.join(dir, 'state', 'history.yaml');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), CHANGED);
    const before = snapshotTree(dir);

    // The history's folder becomes a file: the run reads no history, compiles, and only writing fails.
    removeDir(path.dirname(history));
    writeFileSync(path.dirname(history), 'in the way');
    const result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history]);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^kservice: cannot write .*history\.yaml: .* is not a directory; nothing was written\n$/);
    const after = snapshotTree(dir);
    for (const name of Object.keys(before).filter((n) => n.startsWith('out'))) expect(after[name], name).toBe(before[name]);
    expect(Object.keys(after).filter((n) => n.startsWith('out')).sort()).toEqual(Object.keys(before).filter((n) => n.startsWith('out')).sort());
  });

  it('puts the previous output back when the history cannot be replaced at the very end', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');
    const history = path.join(dir, 'history.yaml');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), CHANGED);
    const before = snapshotTree(dir);

    // An immutable file (chattr +i; the suite runs as root) cannot be renamed over: staging works,
    // the output directory is committed first, and only then does replacing the history fail.
    execFileSync('chattr', ['+i', history]);
    let result;
    try {
      result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history]);
    } finally {
      execFileSync('chattr', ['-i', history]);
    }

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`kservice: cannot write ${history}: operation not permitted (rename ${history}); nothing was written\n`);
    expect(snapshotTree(dir), 'output and history as before, no temporary files left').toEqual(before);
  });

  it('puts back the files already moved when replacing one output file fails midway', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), CHANGED);
    const before = snapshotTree(dir);

    // serving-system.yaml is moved aside first; the immutable service file then refuses to move.
    const stuck = path.join(out, 'default-hello.yaml');
    execFileSync('chattr', ['+i', stuck]);
    let result;
    try {
      result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out]);
    } finally {
      execFileSync('chattr', ['-i', stuck]);
    }

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^kservice: cannot write ${out}: operation not permitted \\(rename .*\\); nothing was written\n$`));
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('removes a new output directory again when the history cannot be replaced at the very end', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const history = path.join(dir, 'history.yaml');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '--history', history])).code).toBe(0);
    writeFileSync(path.join(dir, 'hello.yaml'), CHANGED);
    const before = snapshotTree(dir);

    execFileSync('chattr', ['+i', history]);
    let result;
    try {
      result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', path.join(dir, 'new', 'out'), '--history', history]);
    } finally {
      execFileSync('chattr', ['-i', history]);
    }

    expect(result.code).toBe(1);
    expect(snapshotTree(dir), 'no output directory, not even its new parent').toEqual(before);
  });

  it('keeps a history file inside the output directory as the user\'s file, updated with the output', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');
    const history = path.join(out, 'history.yaml');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history])).stderr).toBe('');
    writeFileSync(path.join(dir, 'hello.yaml'), CHANGED);
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', history])).stderr).toBe('');

    expect(listFiles(out)).toEqual(['.kservice-output', 'default-hello.yaml', 'history.yaml', 'serving-system.yaml']);
    expect(readFileSync(history, 'utf8')).toContain('name: hello-00002');
    expect(readFileSync(path.join(out, 'default-hello.yaml'), 'utf8')).toContain('name: hello-00002-deployment');
  });
  it('refuses a history file that is also one of the output files', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');

    const result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out, '--history', path.join(out, 'default-hello.yaml')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`kservice: the history file ${path.join(out, 'default-hello.yaml')} is also the output file default-hello.yaml; keep it elsewhere; nothing was written\n`);
    expect(snapshotTree(dir)).toEqual({ 'hello.yaml': Buffer.from(HELLO).toString('base64') });
  });
});

describe('the output directory keeps the user\'s files', () => {
  it('replaces and removes only its own files: a README and overlays stay', async () => {
    const dir = workDir({ 'in/hello.yaml': HELLO, 'in/world.yaml': WORLD });
    const out = path.join(dir, 'out');
    expect((await run(['compile', path.join(dir, 'in'), '-o', out])).code).toBe(0);
    writeFileSync(path.join(out, 'README.md'), '# our manifests\n');
    mkdirSync(path.join(out, 'overlays', 'prod'), { recursive: true });
    writeFileSync(path.join(out, 'overlays', 'prod', 'kustomization.yaml'), 'resources: [../../default-hello.yaml]\n');

    removeDir(path.join(dir, 'in', 'world.yaml'));
    writeFileSync(path.join(dir, 'in', 'hello.yaml'), CHANGED);
    const result = await run(['compile', path.join(dir, 'in'), '-o', out]);

    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(listFiles(out)).toEqual(['.kservice-output', 'README.md', 'default-hello.yaml', 'overlays/prod/kustomization.yaml', 'serving-system.yaml']);
    expect(readFileSync(path.join(out, 'README.md'), 'utf8')).toBe('# our manifests\n');
    expect(readFileSync(path.join(out, 'overlays', 'prod', 'kustomization.yaml'), 'utf8')).toBe('resources: [../../default-hello.yaml]\n');
    expect(readFileSync(path.join(out, 'default-hello.yaml'), 'utf8')).toContain('image: ghcr.io/example/hello:2');
  });

  it('refuses, changing nothing, when a generated name is taken by a file it does not own', async () => {
    const dir = workDir({ 'hello.yaml': HELLO, 'world.yaml': WORLD });
    const out = path.join(dir, 'out');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out])).code).toBe(0);
    writeFileSync(path.join(out, 'default-world.yaml'), '# hand-written\n');
    const before = snapshotTree(out);

    const result = await run(['compile', path.join(dir, 'hello.yaml'), path.join(dir, 'world.yaml'), '-o', out]);

    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `kservice: refusing to overwrite ${path.join(out, 'default-world.yaml')}: not written by kservice compile ` +
        `(${path.join(out, '.kservice-output')} does not list it); move it away or choose another output directory; nothing was written\n`,
    );
    expect(snapshotTree(out)).toEqual(before);
  });

  it('refuses an edited list of its files that names a path outside the directory', async () => {
    const dir = workDir({ 'hello.yaml': HELLO, 'precious.yaml': 'keep me\n' });
    const out = path.join(dir, 'out');
    expect((await run(['compile', path.join(dir, 'hello.yaml'), '-o', out])).code).toBe(0);
    writeFileSync(path.join(out, '.kservice-output'), '../precious.yaml\n');

    const result = await run(['compile', path.join(dir, 'hello.yaml'), '-o', out]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(out, '.kservice-output')}:1: "../precious.yaml" is not a file name kservice compile writes`);
    expect(readFileSync(path.join(dir, 'precious.yaml'), 'utf8')).toBe('keep me\n');
  });
});
