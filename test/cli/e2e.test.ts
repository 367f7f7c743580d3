/**
 * The real command: `node bin/kservice.js` as a child process (stdin, files, directories, -o,
 * --history, exit codes, and no stack trace on bad input).
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELLO, listFiles, workDirs } from './helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'kservice.js');
const VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function kservice(args: readonly string[], stdin?: string): Promise<Exit> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? -1) : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const workDir = workDirs();

const PASSTHROUGH = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n';

describe('bin/kservice.js', () => {
  it('prints help and version', async () => {
    const help = await kservice(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kservice <command>/);
    const compileHelp = await kservice(['compile', '--help']);
    expect(compileHelp.code).toBe(0);
    expect(compileHelp.stdout).toContain('--history FILE');
    expect(compileHelp.stdout).toContain('Only files on that list are ever replaced or removed');
    const version = await kservice(['--version']);
    expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('compiles stdin to one YAML stream on stdout', async () => {
    const result = await kservice(['compile', '-'], HELLO);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('name: hello-00001-deployment');
    expect(result.stdout).toContain('name: knative-serving');
  });

  it('writes one file per service, the system and pass-through documents with -o, replacing only its own files', async () => {
    const dir = workDir({ 'in/hello.yaml': HELLO, 'in/nested/ns.yml': PASSTHROUGH, 'in/notes.txt': 'ignored' });
    const out = path.join(dir, 'out');
    const first = await kservice(['compile', path.join(dir, 'in'), '-o', out]);
    expect(first).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(listFiles(out)).toEqual(['.kservice-output', 'default-hello.yaml', 'passthrough.yaml', 'serving-system.yaml']);
    expect(readFileSync(path.join(out, 'passthrough.yaml'), 'utf8')).toBe(PASSTHROUGH);

    // A second run removes its own file that is no longer produced; the user's own file stays.
    writeFileSync(path.join(out, 'mine.yaml'), 'kind: Mine\n');
    const second = await kservice(['compile', path.join(dir, 'in', 'hello.yaml'), '-o', out]);
    expect(second.code).toBe(0);
    expect(listFiles(out)).toEqual(['.kservice-output', 'default-hello.yaml', 'mine.yaml', 'serving-system.yaml']);
    expect(readFileSync(path.join(out, 'mine.yaml'), 'utf8')).toBe('kind: Mine\n');
    expect(readdirSync(dir).sort()).toEqual(['in', 'out']); // no staging or backup left behind
  });

  it('reports bad input with file:line:col, exit 1, no stack trace, and leaves the previous output intact', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const out = path.join(dir, 'out');
    expect((await kservice(['compile', path.join(dir, 'hello.yaml'), '-o', out])).code).toBe(0);
    const before = readFileSync(path.join(out, 'default-hello.yaml'), 'utf8');

    writeFileSync(path.join(dir, 'hello.yaml'), HELLO.replace('      containers:', '      containerConcurrency: "ten"\n      containers:'));
    const bad = await kservice(['compile', path.join(dir, 'hello.yaml'), '-o', out]);

    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(
      `${path.join(dir, 'hello.yaml')}:8:29 spec.template.spec.containerConcurrency: must be an integer\n` +
        'kservice: 1 problem found; nothing was written\n',
    );
    expect(readFileSync(path.join(out, 'default-hello.yaml'), 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['hello.yaml', 'out']);
  });

  it('refuses to overwrite a file it did not write, and changes nothing', async () => {
    const dir = workDir({ 'hello.yaml': HELLO, 'mine/keep.txt': 'precious', 'mine/default-hello.yaml': 'kind: Mine\n' });
    const result = await kservice(['compile', path.join(dir, 'hello.yaml'), '-o', path.join(dir, 'mine')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `kservice: refusing to overwrite ${path.join(dir, 'mine', 'default-hello.yaml')}: not written by kservice compile ` +
        `(${path.join(dir, 'mine', '.kservice-output')} does not list it); move it away or choose another output directory; nothing was written\n`,
    );
    expect(listFiles(path.join(dir, 'mine'))).toEqual(['default-hello.yaml', 'keep.txt']);
    expect(readFileSync(path.join(dir, 'mine', 'default-hello.yaml'), 'utf8')).toBe('kind: Mine\n');
  });

  it('exits 2 with the help text on a usage error', async () => {
    const result = await kservice(['compile']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^kservice: compile needs at least one FILE_OR_DIR/);
    expect(result.stderr).toContain('Usage: kservice compile');
  });

  it('creates, keeps and extends the history file', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    const history = path.join(dir, 'history.yaml');
    const args = ['compile', path.join(dir, 'hello.yaml'), '--history', history];
    expect((await kservice(args)).code).toBe(0);
    expect(readFileSync(history, 'utf8')).toContain('name: hello-00001');

    writeFileSync(path.join(dir, 'hello.yaml'), `${HELLO.replace('hello:1', 'hello:2')}  traffic:\n    - revisionName: hello-00001\n      percent: 50\n    - latestRevision: true\n      percent: 50\n`);
    const second = await kservice(args);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('name: hello-00002-deployment');
    expect(second.stdout).toContain('name: hello-00001-deployment');
    expect(readFileSync(history, 'utf8')).toMatch(/generation: 2\n/);
  });
});
