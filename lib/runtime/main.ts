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

/** What each role does, for --help. Configuration is by environment only, as in Knative. */
const ROLE_HELP: Readonly<Record<string, string>> = {
  activator: 'Holds requests for revisions at zero, pokes the autoscaler, balances over ready pods (:8012, h2c :8013).',
  autoscaler: 'Scrapes queue-proxies and activators, decides replicas as Knative\'s KPA, writes the scale subresource and the public Endpoints (leader via a Lease).',
  'queue-proxy': 'The sidecar in every revision pod: concurrency limit, timeouts, readiness, drain and stats in front of the app (:8012, h2c :8013, admin :8022, metrics :9090).',
};

const HELP = `${USAGE}

Runs one role of the cdk8s-kservice runtime. Every setting comes from the environment the compiled
manifests set (the queue-proxy reads Knative's queue-proxy contract: SERVING_*, USER_PORT,
CONTAINER_CONCURRENCY, ...); README "Run the runtime" lists them.

${Object.entries(ROLE_HELP).map(([role, text]) => `  ${role.padEnd(12)} ${text}`).join('\n')}

  kservice-runtime <role> --help   what one role does
  kservice-runtime krm             the compiler as a KRM function (\`kservice krm\`), the command when
                                   no argument is given and stdin is not a terminal (kustomize and kpt
                                   container functions); kservice-runtime krm --help
`;

const isHelp = (arg: string | undefined): boolean => arg === '--help' || arg === '-h' || arg === 'help';

/** Runs one role; resolves with the process exit code. */
export async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const role = args[0];
  if (isHelp(role)) {
    process.stdout.write(HELP);
    return 0;
  }
  const load = role === undefined ? undefined : RUNNERS[role];
  if (load !== undefined && args.slice(1).some(isHelp)) {
    process.stdout.write(`usage: kservice-runtime ${role}\n\n${ROLE_HELP[role!]}\nSettings come from the environment: README "Run the runtime".\n`);
    return 0;
  }
  if (load === undefined) {
    process.stderr.write(`${role === undefined ? 'missing role' : `unknown role "${role}"`}\n${USAGE}\n(kservice-runtime --help for more)\n`);
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
