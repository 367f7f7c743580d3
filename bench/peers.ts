/**
 * Runs scripts/install-bench-peers.sh (idempotent: apt packages, Go builds cached under
 * ~/.cache/cdk8s-kservice/bench) and reports which peer binaries are available.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { runToCompletion } from './lib/children';

export interface Peers {
  readonly haproxy?: string;
  readonly wrk?: string;
  readonly vegeta?: string;
  readonly knativeQueue?: string;
}

const ROOT = path.resolve(__dirname, '..');
/** The first Go build of Knative's queue-proxy takes minutes on 2 cores. */
const INSTALL_TIMEOUT_MS = 30 * 60 * 1000;

export async function preparePeers(): Promise<Peers> {
  console.log('peers: installing / checking haproxy, wrk, vegeta, Knative queue-proxy (cached after the first run)');
  let out = '';
  try {
    out = await runToCompletion('install-bench-peers', 'bash', [path.join(ROOT, 'scripts/install-bench-peers.sh')], { timeoutMs: INSTALL_TIMEOUT_MS });
  } catch (err) {
    console.log(`peers: install script failed: ${(err as Error).message}`);
  }
  const found = parsePeerLines(out);
  for (const [name, bin] of Object.entries(found)) console.log(`peers: ${name} = ${bin ?? '(missing)'}`);
  return found;
}

function parsePeerLines(out: string): Peers {
  const value = (key: string): string | undefined => {
    const line = out.split('\n').find((l) => l.startsWith(`${key}=`));
    const bin = line?.slice(key.length + 1).trim();
    return bin && existsSync(bin) ? bin : undefined;
  };
  return { haproxy: value('haproxy'), wrk: value('wrk'), vegeta: value('vegeta'), knativeQueue: value('knative_queue') };
}
