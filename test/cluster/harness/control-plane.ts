// A real, throw-away Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager) on 127.0.0.1 for the cluster tests. There is no
// kubelet and no scheduler: Pods are created by the controllers and stay
// Pending until a test supplies something that runs them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { applyObjects, type ApplyOptions } from './apply';
import { findBinaries, type ControlPlaneBinaries } from './binaries';
import {
  KUBERNETES_SERVICE_IP, SERVICE_CLUSTER_IP_RANGE, startApiserver, startControllerManager, startEtcd,
  type Ports,
} from './components';
import { installIstioCrds } from './istio-crds';
import { writeKubeconfig } from './kubeconfig';
import { createPki, type Pki } from './pki';
import { freePort } from './ports';
import type { ManagedProcess } from './processes';
import { serviceAccountAccess, type ServiceAccountAccess, type ServiceAccountTokenOptions } from './service-accounts';

export interface ControlPlane {
  /** Admin (system:masters) client configuration. */
  kubeConfig: KubeConfig;
  /** Admin kubeconfig file, for child processes (KUBECONFIG=...). */
  kubeconfigPath: string;
  /** https://<bindAddress, default 127.0.0.1>:<port> */
  apiServerUrl: string;
  /** CA that signed the API server's serving cert (PEM file and contents). */
  caFile: string;
  caPem: string;
  serviceClusterIpRange: string;
  /** Temp dir with certs, kubeconfigs, etcd data and one log file per component. */
  dir: string;
  processes: { etcd: ManagedProcess; apiserver: ManagedProcess; controllerManager: ManagedProcess };

  /** Token-based kubeconfig for an existing ServiceAccount (RBAC as granted). */
  serviceAccountKubeConfig(
    namespace: string, name: string, opts?: ServiceAccountTokenOptions,
  ): Promise<ServiceAccountAccess>;
  /** Server-side apply, in order, as admin under fieldManager. */
  applyObjects(objects: readonly KubernetesObject[], fieldManager: string, opts?: ApplyOptions): Promise<KubernetesObject[]>;
  /** VirtualService and Gateway CRDs (networking.istio.io), waited until Established. */
  installIstioCrds(): Promise<string[]>;
  /** Last lines of every component's log, for failure messages. */
  logTails(lines?: number): string;
  /**
   * An API outage: stops kube-apiserver, then etcd (SIGTERM, SIGKILL after graceMs). The
   * controller manager keeps running, as on a real node where only the API side goes down.
   */
  stopApi(opts?: { graceMs?: number }): Promise<void>;
  /**
   * Starts etcd and kube-apiserver again after stopApi, on the same ports, certificates and etcd
   * data dir (so every kubeconfig and token stays valid), and waits until both are ready.
   * `processes` then holds the new processes.
   */
  startApi(): Promise<void>;
  /** Stops all processes (controller manager, API server, etcd) and, unless keepDir, removes dir. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface StartOptions {
  binaries?: ControlPlaneBinaries;
  /** Keep the temp dir on stop (also: env KSERVICE_KEEP_CONTROL_PLANE=1). */
  keepDir?: boolean;
  /**
   * Address kube-apiserver listens on and advertises (added for the node agent: pods in their
   * network namespaces reach it on the pod bridge's host address). It must already exist on an
   * interface; it is added to the serving cert. Default 127.0.0.1.
   */
  bindAddress?: string;
}

async function pickPorts(): Promise<Ports> {
  return {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
  };
}

async function stopAll(procs: ManagedProcess[]): Promise<void> {
  // Reverse start order: clients first, so none logs errors about a vanished server.
  for (const p of [...procs].reverse()) await p.stop();
}

interface Started {
  pki: Pki; ports: Ports; adminKc: KubeConfig; adminPath: string; bins: ControlPlaneBinaries;
}

async function startIn(dir: string, bins: ControlPlaneBinaries, started: ManagedProcess[], bindAddress: string): Promise<Started> {
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir);
  const pki = createPki(pkiDir, KUBERNETES_SERVICE_IP, [bindAddress]);
  const ports = await pickPorts();
  const server = `https://${bindAddress}:${ports.apiserver}`;
  started.push(await startEtcd(bins, dir, ports));
  started.push(await startApiserver(bins, dir, ports, pki, bindAddress));
  const adminPath = join(dir, 'admin.kubeconfig');
  const adminKc = writeKubeconfig(adminPath, server, pki.ca.cert, 'kubernetes-admin', {
    clientCertificate: pki.admin.cert, clientKey: pki.admin.key,
  });
  const kcmPath = join(dir, 'controller-manager.kubeconfig');
  writeKubeconfig(kcmPath, server, pki.ca.cert, 'system:kube-controller-manager', {
    clientCertificate: pki.controllerManager.cert, clientKey: pki.controllerManager.key,
  });
  started.push(await startControllerManager(bins, dir, ports, pki, kcmPath));
  return { pki, ports, adminKc, adminPath, bins };
}

function logTails(procs: ManagedProcess[], lines: number): string {
  return procs.map((p) => `--- ${p.name} (${p.logFile}) ---\n${p.logTail(lines)}`).join('\n');
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager and waits until they
 * are healthy. Retries once with new ports, because a port found free can be
 * taken by another process before the component binds it.
 */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const bins = opts.binaries ?? findBinaries();
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'kservice-cp-'));
    const started: ManagedProcess[] = [];
    try {
      const bindAddress = opts.bindAddress ?? '127.0.0.1';
      const s = await startIn(dir, bins, started, bindAddress);
      return controlPlane(dir, started, { ...s, bindAddress }, opts.keepDir);
    } catch (e) {
      await stopAll(started);
      const msg = `${e instanceof Error ? e.message : String(e)}\n${logTails(started, 20)}`;
      if (attempt >= 2) throw new Error(`control plane failed to start (logs kept in ${dir}):\n${msg}`);
      process.stderr.write(`control plane start attempt ${attempt} failed, retrying:\n${msg}\n`);
    }
  }
}

/**
 * Restarts etcd and kube-apiserver in place (same ports, pki, data dir). A port can be taken by
 * another process while they are down; then start fails with the component's log, as at start.
 */
async function restartApi(dir: string, procs: ManagedProcess[], s: Started & { bindAddress: string }): Promise<void> {
  if (procs[0].running() || procs[1].running()) throw new Error('startApi: etcd and kube-apiserver must be stopped first (stopApi)');
  procs[0] = await startEtcd(s.bins, dir, s.ports);
  procs[1] = await startApiserver(s.bins, dir, s.ports, s.pki, s.bindAddress);
}

function controlPlane(
  dir: string,
  procs: ManagedProcess[],
  s: Started & { bindAddress: string },
  keepDirDefault = false,
): ControlPlane {
  const apiServerUrl = `https://${s.bindAddress}:${s.ports.apiserver}`;
  const target = { server: apiServerUrl, caFile: s.pki.ca.cert, dir };
  return {
    kubeConfig: s.adminKc,
    kubeconfigPath: s.adminPath,
    apiServerUrl,
    caFile: s.pki.ca.cert,
    caPem: readFileSync(s.pki.ca.cert, 'utf8'),
    serviceClusterIpRange: SERVICE_CLUSTER_IP_RANGE,
    dir,
    // Getters: startApi replaces the etcd and kube-apiserver processes.
    processes: {
      get etcd() { return procs[0]; },
      get apiserver() { return procs[1]; },
      get controllerManager() { return procs[2]; },
    },
    serviceAccountKubeConfig: (ns, name, o) => serviceAccountAccess(s.adminKc, target, ns, name, o),
    applyObjects: (objs, fm, o) => applyObjects(s.adminKc, objs, fm, o),
    installIstioCrds: () => installIstioCrds(s.adminKc),
    logTails: (lines = 30) => logTails(procs, lines),
    stopApi: async (o = {}) => {
      await procs[1].stop(o.graceMs);
      await procs[0].stop(o.graceMs);
    },
    startApi: () => restartApi(dir, procs, s),
    stop: async (o = {}) => {
      await stopAll(procs);
      const keep = o.keepDir ?? (keepDirDefault || process.env.KSERVICE_KEEP_CONTROL_PLANE === '1');
      if (keep) process.stderr.write(`control plane files kept in ${dir}\n`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
