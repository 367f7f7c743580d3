/**
 * Entry point of the `kservice` command. `runCli` takes its arguments and streams as parameters so
 * tests can drive it in-process; `main` wires it to the real process.
 * Exit codes: 0 success, 1 invalid input (or an internal error), 2 usage error.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CompileOptions, UsageError, parseCommand } from './args';
import { compile } from './compile';
import { DiagnosticError, formatDiagnostics } from './diagnostics';
import { runGraph } from './draw/command';
import { runKrm } from './krm/function';
import { OutputDirError, toYamlStream, writeAll } from './output';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The raw bytes (decoded like a file: UTF-8, or UTF-16 with a byte-order mark), or text. */
  readonly readStdin: () => Promise<string | Uint8Array>;
}

export const ExitCode = { OK: 0, INVALID_INPUT: 1, USAGE: 2 } as const;

const PROGRAM = 'kservice';

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const command = parseCommand(argv);
    switch (command.kind) {
      case 'help':
        io.stdout(command.text);
        return ExitCode.OK;
      case 'version':
        io.stdout(`${version()}\n`);
        return ExitCode.OK;
      case 'compile':
        await runCompile(command.options, io);
        return ExitCode.OK;
      case 'graph':
        await runGraph(command.options, io);
        return ExitCode.OK;
      case 'krm':
        return await runKrm(io);
    }
  } catch (error) {
    return report(error, io);
  }
}

async function runCompile(options: CompileOptions, io: CliIo): Promise<void> {
  const result = await compile(options, io.readStdin);
  // A stream on stdout cannot be taken back, so it goes first; the files are one commit after it.
  if (options.outDir === undefined) io.stdout(toYamlStream(result.files.flatMap((f) => f.documents)));
  await writeAll({ outDir: options.outDir, files: result.files, history: result.history });
}

/** Users see what they did wrong, never a stack trace; a bug says so and shows its stack on request. */
function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr(`${PROGRAM}: ${error.message}\n\n${error.help}`);
    return ExitCode.USAGE;
  }
  if (error instanceof DiagnosticError) {
    const count = error.diagnostics.length;
    const hint = error.hint ? `${error.hint}\n` : '';
    io.stderr(`${formatDiagnostics(error.diagnostics)}\n${hint}${PROGRAM}: ${count} problem${count === 1 ? '' : 's'} found; nothing was written\n`);
    return ExitCode.INVALID_INPUT;
  }
  if (error instanceof OutputDirError) {
    io.stderr(`${PROGRAM}: ${error.message}${error.changedNothing ? '; nothing was written' : ''}\n`);
    return ExitCode.INVALID_INPUT;
  }
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    io.stderr(`${PROGRAM}: ${e.syscall} ${e.path ?? ''}: ${e.code}\n`);
    return ExitCode.INVALID_INPUT;
  }
  const detail = process.env.KSERVICE_DEBUG ? `\n${(error as Error)?.stack ?? String(error)}` : ' (set KSERVICE_DEBUG=1 for details)';
  io.stderr(`${PROGRAM}: internal error: ${(error as Error)?.message ?? String(error)}${detail}\n`);
  return ExitCode.INVALID_INPUT;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function readProcessStdin(): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

/** The real process's streams. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: readProcessStdin,
  };
}

export async function main(): Promise<void> {
  process.exitCode = await runCli(process.argv.slice(2), processIo());
}
