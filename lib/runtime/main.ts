/**
 * `kservice-runtime activator|autoscaler|queue-proxy`: one image, one entry point, three roles.
 * Bundled by scripts/build-runtime.mjs once per role (dist-runtime/<role>.js, the other roles
 * left out), behind a small dispatcher, dist-runtime/kservice-runtime.js.
 */
import { ConfigError } from './shared/env';
import { createLogger } from './shared/logger';

type Runner = (env: NodeJS.ProcessEnv) => Promise<void>;

// Each role is loaded only when it runs: the queue-proxy, started in every pod on every cold
// start, then never evaluates @kubernetes/client-node and the rest of the control-plane code
// (and, bundled, never even parses it: its bundle leaves the other roles out).
export const RUNNERS: Readonly<Record<string, () => Promise<Runner>>> = {
  activator: async () => (await import('./activator/main')).runActivator,
  autoscaler: async () => (await import('./autoscaler/main')).runAutoscaler,
  'queue-proxy': async () => (await import('./queue-proxy/main')).runQueueProxy,
};

const USAGE = `usage: kservice-runtime <${Object.keys(RUNNERS).join('|')}>`;

/** Runs one role; resolves with the process exit code. */
export async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const role = args[0];
  const load = role === undefined ? undefined : RUNNERS[role];
  if (load === undefined) {
    process.stderr.write(`${role === undefined ? 'missing role' : `unknown role "${role}"`}\n${USAGE}\n`);
    return 2;
  }
  try {
    const run = await load();
    await run(env);
    return 0;
  } catch (err) {
    const logger = createLogger(role ?? 'runtime');
    // A bad environment is the operator's mistake: one clear line, no stack trace.
    if (err instanceof ConfigError) logger.fatal({ variable: err.variable }, err.message);
    else logger.fatal({ err }, 'crashed');
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), process.env).then((code) => process.exit(code));
}
