// The real network hops of the cluster suite, started as processes like the control plane (by PID,
// output in a log file, killed at the end): kube-proxy in nftables mode, CoreDNS with its kubernetes
// plugin, and Traefik as the Gateway API gateway. Binaries: ./net-binaries (scripts/build-net-components.sh).
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pidAlive } from '../node-agent/network';
import { get } from './http';
import { findNetBinary } from './net-binaries';
import { freePort } from './ports';
import { startProcess, type ManagedProcess } from './processes';
import { waitFor } from './wait';

const run = promisify(execFile);

/** The cluster domain CoreDNS serves (Kubernetes' default, which Knative's route hosts assume). */
export const CLUSTER_DOMAIN = 'cluster.local';
/** The tables kube-proxy's nftables mode owns (fixed names, hence one kube-proxy per host). */
const KUBE_PROXY_TABLES = [['ip', 'kube-proxy'], ['ip6', 'kube-proxy']] as const;
const KUBE_PROXY_LOCK = '/run/kservice-kube-proxy.lock';

function aborter(p: ManagedProcess): () => void {
  return () => {
    if (!p.running()) throw new Error(`${p.name} exited during startup; log ${p.logFile}:\n${p.logTail()}`);
  };
}

/**
 * kube-proxy's nftables tables have fixed names, so two kube-proxies on one host would overwrite
 * each other's rules: a lock file holding the owner's PID (a dead owner's lock is taken over).
 */
async function lockKubeProxy(timeoutMs: number): Promise<void> {
  await waitFor(`the host's kube-proxy lock ${KUBE_PROXY_LOCK}`, () => {
    try {
      const fd = openSync(KUBE_PROXY_LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(KUBE_PROXY_LOCK, 'utf8').trim());
      if (!(owner > 0 && pidAlive(owner))) rmSync(KUBE_PROXY_LOCK, { force: true });
      return false;
    }
  }, { timeoutMs, intervalMs: 500 });
}

/** Removes the lock only while this process holds it (a second stop must not free another run's). */
function unlockKubeProxy(): void {
  try {
    if (readFileSync(KUBE_PROXY_LOCK, 'utf8').trim() === String(process.pid)) rmSync(KUBE_PROXY_LOCK, { force: true });
  } catch {
    // no lock file: nothing to release
  }
}

/** PID in the host's kube-proxy lock file, if any (for leak checks in tests). */
export function kubeProxyLockOwner(): number | undefined {
  try {
    return Number(readFileSync(KUBE_PROXY_LOCK, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** kube-proxy's tables that exist now, e.g. `ip kube-proxy` (for leak checks in tests). */
export async function kubeProxyTables(): Promise<string[]> {
  const { stdout } = await run('nft', ['list', 'tables']);
  return stdout.split('\n').map((l) => l.replace(/^table /, '').trim()).filter((t) => t.endsWith(' kube-proxy'));
}

async function deleteKubeProxyTables(): Promise<void> {
  for (const [family, name] of KUBE_PROXY_TABLES) await run('nft', ['delete', 'table', family, name]).catch(() => undefined);
}

export interface KubeProxyOptions {
  kubeconfigPath: string;
  /** The Node kube-proxy runs for (the node agent's `kservice-node`). */
  nodeName: string;
  /** The pod subnet: traffic from it to a ClusterIP is not masqueraded. */
  clusterCidr: string;
  /** Address of the node (the pod bridge's): NodePorts open only there. */
  nodeIp: string;
  dir: string;
}

export interface NetProcess {
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * kube-proxy in nftables mode. It leaves the host's conntrack sysctls alone (maxPerCore 0, no
 * timeouts) and its NodePorts on the node address only; on stop its tables are deleted (kube-proxy
 * leaves them behind on exit) and the host lock released.
 */
export async function startKubeProxy(o: KubeProxyOptions): Promise<NetProcess> {
  await lockKubeProxy(300_000);
  try {
    await deleteKubeProxyTables(); // a crashed run's rules
    const healthz = await freePort();
    const metrics = await freePort();
    const config = join(o.dir, 'kube-proxy.yaml');
    writeFileSync(config, [
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
      'kind: KubeProxyConfiguration',
      'mode: nftables',
      `clientConnection: {kubeconfig: ${JSON.stringify(o.kubeconfigPath)}}`,
      `hostnameOverride: ${o.nodeName}`,
      `clusterCIDR: ${o.clusterCidr}`,
      `healthzBindAddress: 127.0.0.1:${healthz}`,
      `metricsBindAddress: 127.0.0.1:${metrics}`,
      `nodePortAddresses: [${o.nodeIp}/32]`,
      'conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}',
      '',
    ].join('\n'));
    const p = startProcess('kube-proxy', findNetBinary('kube-proxy'), [`--config=${config}`, '--v=2'], join(o.dir, 'kube-proxy.log'));
    await waitFor('kube-proxy /healthz', async () => (await get(`http://127.0.0.1:${healthz}/healthz`)).status === 200, { abortIf: aborter(p) })
      .catch(async (e) => {
        await p.stop();
        throw e;
      });
    let stopped = false;
    return {
      process: p,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await p.stop();
        await deleteKubeProxyTables();
        unlockKubeProxy();
      },
    };
  } catch (e) {
    await deleteKubeProxyTables();
    unlockKubeProxy();
    throw e;
  }
}

/** Current nftables ruleset of kube-proxy's IPv4 table (for assertions and failure messages). */
export async function kubeProxyRules(): Promise<string> {
  return (await run('nft', ['list', 'table', 'ip', 'kube-proxy'])).stdout;
}

export interface CoreDnsOptions {
  kubeconfigPath: string;
  /** Address it serves DNS on (UDP and TCP port 53): the pod bridge's, reachable from every pod. */
  bindIp: string;
  dir: string;
}

/**
 * CoreDNS serving the cluster domain from the API (kubernetes plugin). There is no `forward`: a
 * name outside the cluster gets an error instead of a query leaving the machine.
 */
export async function startCoreDns(o: CoreDnsOptions): Promise<NetProcess & { readonly address: string }> {
  const ready = await freePort();
  const corefile = join(o.dir, 'Corefile');
  writeFileSync(corefile, [
    '.:53 {',
    `  bind ${o.bindIp}`,
    '  errors',
    `  ready 127.0.0.1:${ready}`,
    `  kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
    `    kubeconfig ${o.kubeconfigPath}`,
    '    pods insecure',
    '    fallthrough in-addr.arpa ip6.arpa',
    '  }',
    '}',
    '',
  ].join('\n'));
  const p = startProcess('coredns', findNetBinary('coredns'), ['-conf', corefile], join(o.dir, 'coredns.log'));
  // /ready answers 200 once the kubernetes plugin has synced with the API.
  await waitFor('CoreDNS /ready', async () => (await get(`http://127.0.0.1:${ready}/ready`)).status === 200, { abortIf: aborter(p) })
    .catch(async (e) => {
      await p.stop();
      throw e;
    });
  return { process: p, address: o.bindIp, stop: () => p.stop() };
}

export interface TraefikOptions {
  kubeconfigPath: string;
  /** Address of its `web` entry point; a Gateway listener on `port` is served there. */
  bindIp: string;
  port: number;
  /** A second entry point `websecure` on bindIp, for HTTPS listeners (TLS terminated by Traefik). */
  httpsPort?: number;
  dir: string;
}

/** The GatewayClass controller name Traefik's Kubernetes Gateway provider reconciles. */
export const TRAEFIK_GATEWAY_CONTROLLER = 'traefik.io/gateway-controller';

/** Traefik with its Kubernetes Gateway provider; ready when its ping endpoint answers. */
export async function startTraefik(o: TraefikOptions): Promise<NetProcess> {
  const admin = await freePort();
  mkdirSync(o.dir, { recursive: true });
  const p = startProcess('traefik', 'env', [
    `KUBECONFIG=${o.kubeconfigPath}`, // its provider reads a kubeconfig only from this variable
    findNetBinary('traefik'),
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
    `--entryPoints.web.address=${o.bindIp}:${o.port}`,
    ...(o.httpsPort === undefined ? [] : [`--entryPoints.websecure.address=${o.bindIp}:${o.httpsPort}`]),
    `--entryPoints.traefik.address=127.0.0.1:${admin}`,
    '--ping=true',
    '--providers.kubernetesGateway=true',
    '--log.level=DEBUG',
  ], join(o.dir, 'traefik.log'));
  await waitFor('Traefik /ping', async () => (await get(`http://127.0.0.1:${admin}/ping`)).status === 200, { abortIf: aborter(p) })
    .catch(async (e) => {
      await p.stop();
      throw e;
    });
  return { process: p, stop: () => p.stop() };
}
