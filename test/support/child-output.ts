import type { ChildProcess } from 'node:child_process';

export interface WatchedOutput<T> {
  /** Every line the process printed on stdout or stderr so far; keeps growing after `ready`. */
  readonly lines: string[];
  /** The first non-undefined `match` result; rejects with all output if the process exits first. */
  readonly ready: Promise<T>;
}

/**
 * Reads a child process's stdout and stderr as lines and waits for the one that says it is ready
 * (the runtime logs its bound ports on such a line, which is how tests find ports chosen with 0).
 */
export function watchOutput<T>(proc: ChildProcess, match: (line: string) => T | undefined, what: string): WatchedOutput<T> {
  const lines: string[] = [];
  let pending = '';
  const ready = new Promise<T>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const found = match(line);
        if (found !== undefined) resolve(found);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready:\n${[...lines, pending].join('\n')}`)));
  });
  return { lines, ready };
}
