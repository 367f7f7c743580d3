/**
 * What the compiler reads: only regular files from folders (a FIFO named *.yaml once hung it),
 * a clear error for a named file that is not one, and text in UTF-8 or UTF-16 with a byte-order
 * mark (a UTF-16 file once compiled to a garbage document).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HELLO, removeDir, run, tempDir } from './helpers';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function workDir(files: Record<string, string | Uint8Array> = {}): string {
  const dir = tempDir(files);
  dirs.push(dir);
  return dir;
}

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

describe('kservice compile reads regular files only', () => {
  it('skips a FIFO named *.yaml inside an input folder and compiles the rest', async () => {
    const dir = workDir({ 'in/hello.yaml': HELLO });
    mkfifo(path.join(dir, 'in', 'pipe.yaml'));
    const expected = await run(['compile', path.join(dir, 'in', 'hello.yaml')]);

    const result = await run(['compile', path.join(dir, 'in')]);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(expected.stdout);
  });

  it('refuses a FIFO named on the command line, with its name, instead of waiting for a writer', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    mkfifo(path.join(dir, 'pipe.yaml'));

    const result = await run(['compile', path.join(dir, 'hello.yaml'), path.join(dir, 'pipe.yaml')]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `${path.join(dir, 'pipe.yaml')}: is not a regular file (a FIFO); only regular files and - (stdin) are read\n` +
        'kservice: 1 problem found; nothing was written\n',
    );
  });

  it('refuses a FIFO given as --config or --history', async () => {
    const dir = workDir({ 'hello.yaml': HELLO });
    mkfifo(path.join(dir, 'config.yaml'));
    mkfifo(path.join(dir, 'history.yaml'));

    const result = await run(['compile', path.join(dir, 'hello.yaml'), '--config', path.join(dir, 'config.yaml'), '--history', path.join(dir, 'history.yaml')]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(dir, 'config.yaml')}: is not a regular file (a FIFO)`);
    expect(result.stderr).toContain(`${path.join(dir, 'history.yaml')}: is not a regular file (a FIFO)`);
  });

  it('follows a symbolic link to a regular file inside a folder', async () => {
    const dir = workDir({ 'elsewhere/hello.yaml': HELLO });
    mkdirSync(path.join(dir, 'in'));
    symlinkSync(path.join(dir, 'elsewhere', 'hello.yaml'), path.join(dir, 'in', 'linked.yaml'));

    const result = await run(['compile', path.join(dir, 'in')]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('name: hello-00001-deployment');
  });
});

describe('kservice compile decodes its input', () => {
  const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();
  const encodings: Array<[string, Buffer]> = [
    ['UTF-8 with a byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(HELLO)])],
    ['UTF-16LE with a byte-order mark', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HELLO, 'utf16le')])],
    ['UTF-16BE with a byte-order mark', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(HELLO)])],
  ];

  it.each(encodings)('compiles %s to the same bytes as UTF-8, from a file and from stdin', async (_name, bytes) => {
    const plain = await run(['compile', '-'], HELLO);
    const dir = workDir({ 'hello.yaml': bytes });

    const fromFile = await run(['compile', path.join(dir, 'hello.yaml')]);
    const fromStdin = await run(['compile', '-'], bytes);

    expect(fromFile.stderr).toBe('');
    expect(fromFile.stdout).toBe(plain.stdout);
    expect(fromStdin.stdout).toBe(plain.stdout);
  });

  it('points at the line of a bad byte read from stdin', async () => {
    const result = await run(['compile', '-'], Buffer.concat([Buffer.from(HELLO), Buffer.from([0x23, 0x20, 0xc3, 0x28, 0x0a])]));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      '<stdin>:10:3: is not UTF-8 (byte 0xc3 here cannot start or continue a character); save it as UTF-8\n' +
        'kservice: 1 problem found; nothing was written\n',
    );
  });

  it('keeps positions right in a UTF-16 file', async () => {
    const bad = HELLO.replace('name: hello', 'name: Hello');
    const dir = workDir({ 'hello.yaml': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(bad, 'utf16le')]) });
    const result = await run(['compile', path.join(dir, 'hello.yaml')]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe(`${path.join(dir, 'hello.yaml')}:4:9 metadata.name: "Hello" must be a DNS-1035 label: lowercase letters, digits and "-", starting with a letter, at most 63 characters`);
  });
});

