// Locates the control-plane binaries built by scripts/build-control-plane.sh.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-control-plane.sh');
const VERSIONS_FILE = join(REPO_ROOT, 'scripts', 'control-plane-versions.env');

/** The pinned versions, read from the same file the build script sources. */
export function pinnedVersions(): { kubernetes: string; etcd: string } {
  const env = Object.fromEntries(
    readFileSync(VERSIONS_FILE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (!env.KUBERNETES_VERSION || !env.ETCD_VERSION) {
    throw new Error(`${VERSIONS_FILE} must set KUBERNETES_VERSION and ETCD_VERSION`);
  }
  return { kubernetes: env.KUBERNETES_VERSION, etcd: env.ETCD_VERSION };
}

/** Directory the build script writes to; KSERVICE_BIN_DIR overrides it. */
export function binaryDir(): string {
  if (process.env.KSERVICE_BIN_DIR) return process.env.KSERVICE_BIN_DIR;
  const cache = process.env.KSERVICE_BIN_CACHE ?? join(homedir(), '.cache', 'cdk8s-kservice', 'bin');
  const v = pinnedVersions();
  // Must match `version=` in scripts/build-control-plane.sh.
  return join(cache, `k8s-${v.kubernetes}_etcd-${v.etcd}`);
}

function binariesIn(dir: string): ControlPlaneBinaries {
  return {
    dir,
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
  };
}

function missing(b: ControlPlaneBinaries): string[] {
  return [b.etcd, b.kubeApiserver, b.kubeControllerManager].filter((p) => {
    try {
      accessSync(p, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

/** The binaries, or a clear error telling how to build them. */
export function findBinaries(): ControlPlaneBinaries {
  const b = binariesIn(binaryDir());
  const gone = missing(b);
  if (gone.length > 0) {
    throw new Error(
      `control-plane binaries missing: ${gone.join(', ')}.\n` +
        `Build them with \`npm run build:control-plane\` (scripts/build-control-plane.sh; ` +
        `10-30 min the first time), or point KSERVICE_BIN_DIR at a directory holding ` +
        `etcd, kube-apiserver and kube-controller-manager.`,
    );
  }
  return b;
}

/**
 * Runs the build script when binaries are missing (used by vitest globalSetup so
 * `npm run test:cluster` works from a fresh clone). Its progress goes to stderr.
 */
export async function ensureBinaries(): Promise<ControlPlaneBinaries> {
  if (process.env.KSERVICE_BIN_DIR || missing(binariesIn(binaryDir())).length === 0) {
    return findBinaries();
  }
  process.stderr.write(`control-plane binaries not found in ${binaryDir()}; running ${BUILD_SCRIPT}\n`);
  await new Promise<void>((res, rej) => {
    const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', rej);
    child.on('exit', (code, signal) =>
      code === 0 ? res() : rej(new Error(`${BUILD_SCRIPT} failed (exit ${code ?? signal})`)),
    );
  });
  return findBinaries();
}
