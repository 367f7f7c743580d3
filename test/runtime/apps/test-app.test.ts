// The test app as the container runtime starts it: a SIGTERM during START_DELAY_MS must end it at
// once with exit code 0. As PID 1 in a container a signal without a handler is ignored, so a pod
// deleted while its app starts would wait out the whole grace period; here (not PID 1) a missing
// handler shows as death by the signal instead of exit code 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';

const APP = join(__dirname, 'test-app.mjs');

async function terminatedAfterStart(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  // The app imported by a one-line loader, which says on stderr when the app's top level has run
  // (its handlers are installed then): same process, and no sleep guessing when that is.
  const loader = `await import(${JSON.stringify(pathToFileURL(APP).href)}); process.stderr.write('loaded\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', loader], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  await once(child.stderr, 'data');
  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout };
}

it('a SIGTERM during START_DELAY_MS exits 0 before ever listening', async () => {
  const { code, signal, stdout } = await terminatedAfterStart({ START_DELAY_MS: '600000' });
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(stdout).not.toContain('ready');
});

it('a SIGTERM once listening closes the server and exits 0', async () => {
  const child = spawn(process.execPath, [APP], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  expect(line.toString()).toMatch(/^ready \d+ port=\d+ protocol=http1/);
  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  expect({ code, signal }).toEqual({ code: 0, signal: null });
});
