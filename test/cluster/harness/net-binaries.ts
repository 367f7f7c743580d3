// Locates (and builds when missing) the network components of the cluster suite: kube-proxy,
// CoreDNS and Traefik, built by scripts/build-net-components.sh into per-component cache dirs.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pinnedVersions } from './binaries';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const NET_BUILD_SCRIPT = join(REPO_ROOT, 'scripts', 'build-net-components.sh');
const NET_VERSIONS_FILE = join(REPO_ROOT, 'scripts', 'net-components-versions.env');

export type NetComponent = 'kube-proxy' | 'coredns' | 'traefik';
export const NET_COMPONENTS: readonly NetComponent[] = ['kube-proxy', 'coredns', 'traefik'];

function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8').split('\n').map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Pinned version of each component, read from the files the build script sources. */
export function netVersions(): Record<NetComponent, string> {
  const env = readEnvFile(NET_VERSIONS_FILE);
  if (!env.COREDNS_VERSION || !env.TRAEFIK_VERSION) {
    throw new Error(`${NET_VERSIONS_FILE} must set COREDNS_VERSION and TRAEFIK_VERSION`);
  }
  return { 'kube-proxy': pinnedVersions().kubernetes, coredns: env.COREDNS_VERSION, traefik: env.TRAEFIK_VERSION };
}

/** Path of a component's binary; must match `ensure` in scripts/build-net-components.sh. */
export function netBinary(name: NetComponent): string {
  const cache = process.env.KSERVICE_BIN_CACHE ?? join(homedir(), '.cache', 'cdk8s-kservice', 'bin');
  return join(cache, `${name}-${netVersions()[name]}`, name);
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
export function findNetBinary(name: NetComponent): string {
  const path = netBinary(name);
  if (!isExecutable(path)) {
    throw new Error(`${name} binary missing: ${path}.\nBuild it with \`scripts/build-net-components.sh ${name}\` ` +
      `(Traefik takes 7-17 min on 2 cores the first time).`);
  }
  return path;
}

/** Runs the build script for the components that are missing (vitest globalSetup); progress on stderr. */
export async function ensureNetBinaries(): Promise<Record<NetComponent, string>> {
  const missing = NET_COMPONENTS.filter((c) => !isExecutable(netBinary(c)));
  if (missing.length > 0) {
    process.stderr.write(`network components missing (${missing.join(', ')}); running ${NET_BUILD_SCRIPT}\n`);
    await new Promise<void>((res, rej) => {
      const child = spawn('bash', [NET_BUILD_SCRIPT, ...missing], { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', rej);
      child.on('exit', (code, signal) =>
        code === 0 ? res() : rej(new Error(`${NET_BUILD_SCRIPT} ${missing.join(' ')} failed (exit ${code ?? signal})`)));
    });
  }
  return Object.fromEntries(NET_COMPONENTS.map((c) => [c, findNetBinary(c)])) as Record<NetComponent, string>;
}
