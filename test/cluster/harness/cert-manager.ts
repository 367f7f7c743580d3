// cert-manager for the cluster suite: its CRDs (crds/cert-manager/, written from the pinned module by
// `scripts/build-cert-manager.sh crds`) and its controller process (built by the same script), started
// like the other components (by PID, output in a log file, killed at the end) with the admin
// kubeconfig that CoreDNS and Traefik get too. Only the controller runs: no webhook (kube-apiserver
// enforces the CRDs' schemas and CEL rules) and no cainjector (there are no webhook or APIService
// objects to inject CA bundles into); see the script's header.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { crdObjectsFromFiles, installCrds } from './crds';
import { get } from './http';
import { freePort } from './ports';
import { startProcess, type ManagedProcess } from './processes';
import { waitFor } from './wait';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const CERT_MANAGER_BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-cert-manager.sh');
const VERSIONS_FILE = join(REPO_ROOT, 'scripts', 'cert-manager-versions.env');
export const CERT_MANAGER_CRDS_DIR = join(REPO_ROOT, 'test', 'cluster', 'crds', 'cert-manager');
const BINARY = 'cert-manager-controller';

/** CERT_MANAGER_VERSION of scripts/cert-manager-versions.env (the file the build script sources). */
export function certManagerVersion(): string {
  const line = readFileSync(VERSIONS_FILE, 'utf8').split('\n').find((l) => l.startsWith('CERT_MANAGER_VERSION='));
  if (!line) throw new Error(`${VERSIONS_FILE} must set CERT_MANAGER_VERSION`);
  return line.slice('CERT_MANAGER_VERSION='.length).trim();
}

/** Path of the controller binary; must match `ensure_controller` in scripts/build-cert-manager.sh. */
export function certManagerControllerPath(): string {
  const cache = process.env.KSERVICE_BIN_CACHE ?? join(homedir(), '.cache', 'cdk8s-kservice', 'bin');
  return join(cache, `${BINARY}-${certManagerVersion()}`, BINARY);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The binary, or a clear error telling how to build it. */
export function findCertManagerController(): string {
  const path = certManagerControllerPath();
  if (!isExecutable(path)) {
    throw new Error(`cert-manager controller binary missing: ${path}.\n` +
      `Build it with \`scripts/build-cert-manager.sh\` (about 10 min on 2 cores the first time).`);
  }
  return path;
}

/** Runs the build script when the binary is missing (vitest globalSetup); progress on stderr. */
export async function ensureCertManagerController(): Promise<string> {
  if (!isExecutable(certManagerControllerPath())) {
    process.stderr.write(`cert-manager controller missing; running ${CERT_MANAGER_BUILD_SCRIPT}\n`);
    await new Promise<void>((res, rej) => {
      const child = spawn('bash', [CERT_MANAGER_BUILD_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', rej);
      child.on('exit', (code, signal) =>
        code === 0 ? res() : rej(new Error(`${CERT_MANAGER_BUILD_SCRIPT} failed (exit ${code ?? signal})`)));
    });
  }
  return findCertManagerController();
}

export function certManagerCrdObjects(): KubernetesObject[] {
  const files = readdirSync(CERT_MANAGER_CRDS_DIR).filter((f) => f.endsWith('.yaml')).sort();
  return crdObjectsFromFiles(files.map((f) => join(CERT_MANAGER_CRDS_DIR, f)));
}

/** Applies the six cert-manager CRDs (as admin) and waits until each is Established. */
export function installCertManagerCrds(kc: KubeConfig): Promise<string[]> {
  return installCrds(kc, certManagerCrdObjects());
}

export interface CertManagerOptions {
  kubeconfigPath: string;
  /** Where ClusterIssuers keep their Secrets (upstream's `--cluster-resource-namespace`); must exist. */
  clusterResourceNamespace: string;
  dir: string;
}

export interface CertManagerProcess {
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * cert-manager's controller, ready when its /livez answers. No leader election (one replica, and it
 * would only delay the start by a lease acquisition); metrics and health on free 127.0.0.1 ports
 * instead of upstream's fixed :9402 and :9403, so two suites on one host do not collide.
 */
export async function startCertManager(o: CertManagerOptions): Promise<CertManagerProcess> {
  const metrics = await freePort();
  const healthz = await freePort();
  mkdirSync(o.dir, { recursive: true });
  const p = startProcess('cert-manager-controller', findCertManagerController(), [
    `--kubeconfig=${o.kubeconfigPath}`,
    '--leader-elect=false',
    `--cluster-resource-namespace=${o.clusterResourceNamespace}`,
    `--metrics-listen-address=127.0.0.1:${metrics}`,
    `--internal-healthz-listen-address=127.0.0.1:${healthz}`,
    '--v=2',
  ], join(o.dir, 'cert-manager-controller.log'));
  const exitedEarly = (): void => {
    if (!p.running()) throw new Error(`cert-manager controller exited during startup; log ${p.logFile}:\n${p.logTail()}`);
  };
  await waitFor('cert-manager controller /livez', async () => (await get(`http://127.0.0.1:${healthz}/livez`)).status === 200, { abortIf: exitedEarly })
    .catch(async (e) => {
      await p.stop();
      throw e;
    });
  return { process: p, stop: () => p.stop() };
}
