// Locates (and builds when missing) the real node of the cluster suite: kubelet, kube-scheduler and
// kubectl, containerd with ctr and its runc shim, runc, the CNI plugins and the pause image, built
// by scripts/build-node.sh into per-component cache dirs (versions: scripts/node-versions.env).
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pinnedVersions } from './binaries';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const NODE_BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-node.sh');
const NODE_VERSIONS_FILE = join(REPO_ROOT, 'scripts', 'node-versions.env');

export type NodeComponent = 'kubernetes' | 'containerd' | 'runc' | 'cni' | 'pause';
const NODE_COMPONENTS: readonly NodeComponent[] = ['cni', 'runc', 'pause', 'containerd', 'kubernetes'];
/** What each component's directory holds; must match `products` in scripts/build-node.sh. */
const PRODUCTS: Record<NodeComponent, readonly string[]> = {
  kubernetes: ['kubelet', 'kube-scheduler', 'kubectl'],
  containerd: ['containerd', 'ctr', 'containerd-shim-runc-v2'],
  runc: ['runc'],
  cni: ['bridge', 'host-local', 'loopback', 'portmap'],
  pause: ['pause.tar'],
};

export interface NodeVersions {
  readonly kubernetes: string;
  readonly containerd: string;
  readonly runc: string;
  readonly cni: string;
  /** The pause image's directory key (`<kubernetes>-<pause>`), as the build script names it. */
  readonly pause: string;
  /** The sandbox image's name, under which pause.tar is imported. */
  readonly pauseImage: string;
}

/** Pinned versions, read from the files the build script sources. */
export function nodeVersions(): NodeVersions {
  const env = Object.fromEntries(
    readFileSync(NODE_VERSIONS_FILE, 'utf8').split('\n').map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  for (const key of ['CONTAINERD_VERSION', 'RUNC_VERSION', 'CNI_PLUGINS_VERSION', 'PAUSE_VERSION', 'PAUSE_IMAGE']) {
    if (!env[key]) throw new Error(`${NODE_VERSIONS_FILE} must set ${key}`);
  }
  const kubernetes = pinnedVersions().kubernetes;
  return {
    kubernetes, containerd: env.CONTAINERD_VERSION, runc: env.RUNC_VERSION, cni: env.CNI_PLUGINS_VERSION,
    pause: `${kubernetes}-${env.PAUSE_VERSION}`, pauseImage: env.PAUSE_IMAGE,
  };
}

/** A component's directory; must match `ensure` in scripts/build-node.sh. */
export function nodeComponentDir(name: NodeComponent): string {
  const cache = process.env.KSERVICE_BIN_CACHE ?? join(homedir(), '.cache', 'cdk8s-kservice', 'bin');
  return join(cache, `node-${name}-${nodeVersions()[name]}`);
}

function present(name: NodeComponent): boolean {
  return PRODUCTS[name].every((p) => {
    try {
      accessSync(join(nodeComponentDir(name), p), constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface NodeBinaries {
  readonly kubelet: string;
  readonly kubeScheduler: string;
  readonly kubectl: string;
  readonly containerd: string;
  readonly ctr: string;
  /** Directory of containerd-shim-runc-v2, which containerd finds on its PATH. */
  readonly containerdDir: string;
  readonly runc: string;
  /** Directory of the CNI plugins. */
  readonly cniDir: string;
  readonly pauseTar: string;
  readonly pauseImage: string;
}

/** The binaries, or a clear error telling how to build them. */
export function findNodeBinaries(): NodeBinaries {
  const missing = NODE_COMPONENTS.filter((c) => !present(c));
  if (missing.length > 0) {
    throw new Error(`real node components missing: ${missing.map((c) => nodeComponentDir(c)).join(', ')}.\n` +
      `Build them with \`scripts/build-node.sh ${missing.join(' ')}\` (kubelet takes minutes on 2 cores the first time).`);
  }
  const k8s = nodeComponentDir('kubernetes');
  const containerdDir = nodeComponentDir('containerd');
  return {
    kubelet: join(k8s, 'kubelet'), kubeScheduler: join(k8s, 'kube-scheduler'), kubectl: join(k8s, 'kubectl'),
    containerd: join(containerdDir, 'containerd'), ctr: join(containerdDir, 'ctr'), containerdDir,
    runc: join(nodeComponentDir('runc'), 'runc'), cniDir: nodeComponentDir('cni'),
    pauseTar: join(nodeComponentDir('pause'), 'pause.tar'), pauseImage: nodeVersions().pauseImage,
  };
}

/** Runs the build script for the components that are missing (vitest globalSetup); progress on stderr. */
export async function ensureNodeBinaries(): Promise<NodeBinaries> {
  const missing = NODE_COMPONENTS.filter((c) => !present(c));
  if (missing.length > 0) {
    process.stderr.write(`real node components missing (${missing.join(', ')}); running ${NODE_BUILD_SCRIPT}\n`);
    await new Promise<void>((res, rej) => {
      const child = spawn('bash', [NODE_BUILD_SCRIPT, ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', rej);
      child.on('exit', (code, signal) =>
        code === 0 ? res() : rej(new Error(`${NODE_BUILD_SCRIPT} ${missing.join(' ')} failed (exit ${code ?? signal})`)));
    });
  }
  return findNodeBinaries();
}
