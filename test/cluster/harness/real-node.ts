// A real node for the cluster suite (issue 19): containerd 2 with runc and the CNI bridge plugin,
// a kubelet registered with the suite's kube-apiserver, and kube-scheduler binding pods to it.
// Images come only from imports (`ctr -n k8s.io images import`): no registry is reachable, so the
// sandbox image is the pause image scripts/build-node.sh builds from Kubernetes' pause.c, pinned
// in containerd's configuration so the kubelet never garbage-collects it.
//
// What this machine needs (cgroup v1, hybrid; no systemd managing cgroups; no swap), each set below
// where it is used: kubelet `failCgroupV1: false` (1.35+ refuses v1 otherwise), `cgroupDriver:
// cgroupfs` in the kubelet and `SystemdCgroup = false` for runc, the overlayfs snapshotter, and
// `failSwapOn: false`. One real node per host (fixed bridge, subnet and cgroup root): a PID lock.
//
// Everything lives in one temp dir (containerd root and state, kubelet root, pod logs, CNI IPAM)
// except what the kernel or the kubelet keeps elsewhere; stop() removes each of those: pods are
// deleted through the API first so the kubelet stops their sandboxes (CNI DEL, netns removed), then
// the processes stop, leftover tasks and shims are killed by PID, mounts under the dir unmounted,
// the cgroup root removed, the kernel settings the kubelet changes restored, the bridge deleted.
import { execFile } from 'node:child_process';
import {
  closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync,
  rmdirSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { pidAlive } from '../node-agent/network';
import type { ControlPlane } from './control-plane';
import { get } from './http';
import { writeKubeconfig } from './kubeconfig';
import { findNodeBinaries, type NodeBinaries } from './node-binaries';
import { CLIENT_EXT, signedCert } from './pki';
import { freePort } from './ports';
import { startProcess, type ManagedProcess } from './processes';
import { waitFor } from './wait';

const run = promisify(execFile);

export const REAL_NODE_NAME = 'kservice-real-node';
/** The pod bridge's host address: the node's InternalIP, where the kubelet serves and probes from. */
export const REAL_NODE_IP = '10.247.0.1';
export const REAL_POD_SUBNET = '10.247.0.0/24';
const BRIDGE = 'ksvcrn0';
/** The kubelet's `cgroupRoot`: pods' cgroups go under it in every v1 hierarchy, removed on stop. */
const CGROUP_ROOT = 'kservice-real-node';
const CGROUP_FS = '/sys/fs/cgroup';
const LOCK = '/run/kservice-real-node.lock';
/**
 * What stop() must put back, kept on disk while the node runs so the next run can do it when this
 * one dies: the kernel settings from before the kubelet, and whether the run created /run/containerd.
 */
const SAVED_STATE = '/run/kservice-real-node.state.json';
interface SavedState { sysctls: Record<string, string>; createdRunDir: boolean }
/** Where the kubelet links container logs whatever its podLogsDir (kubelet's ContainerLogsDir). */
const CONTAINER_LOG_LINKS = '/var/log/containers';
const NETNS_DIR = '/var/run/netns';
/** The runc shim's fixed state root (runc state per namespace, shim sockets), created on first use. */
const CONTAINERD_RUN_DIR = '/run/containerd';
/**
 * Kernel settings the kubelet writes at start unless `protectKernelDefaults` (which instead refuses
 * to start when they differ, as they do here): kubernetes pkg/kubelet/cm/container_manager_linux.go
 * setupKernelTunables. Saved before and restored on stop: the host is shared with CI.
 */
const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];

export interface ImportedImage {
  /** The name the archive's index gives it (io.containerd.image.name). */
  readonly name: string;
  /** The manifest digest containerd stored, `sha256:...` (checked equal to the archive's). */
  readonly digest: string;
  /** `<repository>@<digest>`: how manifests pin it. */
  readonly ref: string;
}

export interface RealNode {
  readonly name: string;
  readonly ip: string;
  readonly podSubnet: string;
  readonly dir: string;
  readonly binaries: NodeBinaries;
  /** containerd's gRPC socket (for `ctr --address`, e.g. a `ctr events` stream). */
  readonly containerdSocket: string;
  readonly processes: { readonly containerd: ManagedProcess; readonly kubelet: ManagedProcess; readonly scheduler: ManagedProcess };
  /** `ctr -n k8s.io --address <this containerd> ARGS...`, stdout. */
  ctr(...args: string[]): Promise<string>;
  /** Imports an OCI archive into containerd's k8s.io namespace; fails if the stored digest differs. */
  importImage(tar: string): Promise<ImportedImage>;
  logTails(lines?: number): string;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface RealNodeOptions {
  /** OCI archives imported before the kubelet starts (the pause image always is). */
  readonly images?: readonly string[];
}

async function sh(cmd: string, ...args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 1 << 24 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr || err.message).trim()}`);
  }
}

const quiet = (cmd: string, ...args: string[]): Promise<unknown> => sh(cmd, ...args).catch(() => undefined);

async function takeLock(): Promise<void> {
  await waitFor(`the host's real-node lock ${LOCK}`, () => {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(LOCK, 'utf8').trim());
      if (!(owner > 0 && pidAlive(owner))) rmSync(LOCK, { force: true });
      return false;
    }
  }, { timeoutMs: 600_000, intervalMs: 500 });
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK, { force: true });
  } catch {
    // no lock file
  }
}

/** The bridge with the node address, made before the CNI plugin runs (it reuses an existing bridge). */
async function createBridge(): Promise<void> {
  await quiet('ip', 'link', 'del', BRIDGE); // a crashed run's
  await sh('ip', 'link', 'add', BRIDGE, 'type', 'bridge');
  await sh('ip', 'addr', 'add', `${REAL_NODE_IP}/24`, 'dev', BRIDGE);
  await sh('ip', 'link', 'set', BRIDGE, 'up');
}

/**
 * bridge + host-local (+ portmap for hostPort): pods get an address on the bridge and only the
 * connected /24 route. `isGateway: false`, because with a gateway the plugin switches on IPv4
 * forwarding for the whole host; the bridge already has the node address, and a pod reaches
 * nothing else (ENETUNREACH), as with the node agent.
 */
function writeCniConfig(dir: string): string {
  const confDir = join(dir, 'cni', 'net.d');
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(confDir, '10-kservice.conflist'), JSON.stringify({
    cniVersion: '1.0.0',
    name: 'kservice-real-node',
    plugins: [
      {
        type: 'bridge', bridge: BRIDGE, isGateway: false, isDefaultGateway: false, ipMasq: false, hairpinMode: true,
        ipam: {
          type: 'host-local', dataDir: join(dir, 'cni', 'ipam'),
          ranges: [[{ subnet: REAL_POD_SUBNET, rangeStart: '10.247.0.2', gateway: REAL_NODE_IP }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2));
  return confDir;
}

function containerdPaths(dir: string): { config: string; socket: string; root: string; state: string } {
  const base = join(dir, 'containerd');
  return { config: join(base, 'config.toml'), socket: join(base, 'containerd.sock'), root: join(base, 'root'), state: join(base, 'state') };
}

/** containerd 2 configuration (version 3): CRI with runc via cgroupfs, overlayfs, the pause image pinned. */
function writeContainerdConfig(dir: string, bins: NodeBinaries, cniConfDir: string): void {
  const p = containerdPaths(dir);
  mkdirSync(dirname(p.config), { recursive: true });
  const q = JSON.stringify;
  writeFileSync(p.config, [
    'version = 3',
    `root = ${q(p.root)}`,
    `state = ${q(p.state)}`,
    // NRI would listen on /var/run/nri/nri.sock (outside the dir); the others need tools or
    // kernels this machine has not (btrfs, zfs, devmapper, erofs) and only log errors.
    'disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs",',
    '  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = ${q(p.socket)}`,
    '[ttrpc]',
    `  address = ${q(`${p.socket}.ttrpc`)}`,
    "[plugins.'io.containerd.cri.v1.images']",
    '  snapshotter = "overlayfs"',
    "  [plugins.'io.containerd.cri.v1.images'.pinned_images]",
    `    sandbox = ${q(bins.pauseImage)}`,
    "[plugins.'io.containerd.cri.v1.runtime']",
    // The kubelet asks for negative oom_score_adj (-998 for sandboxes); lowering it needs
    // CAP_SYS_RESOURCE, which this machine's root lacks ("failed to update /proc/self/oom_score_adj:
    // Permission denied" from runc init). Restricted, containerd clamps to its own value (0).
    '  restrict_oom_score_adj = true',
    "  [plugins.'io.containerd.cri.v1.runtime'.containerd]",
    '    default_runtime_name = "runc"',
    "    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
    '      runtime_type = "io.containerd.runc.v2"',
    `      runtime_path = ${q(join(bins.containerdDir, 'containerd-shim-runc-v2'))}`,
    "      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
    `        BinaryName = ${q(bins.runc)}`,
    '        SystemdCgroup = false',
    "  [plugins.'io.containerd.cri.v1.runtime'.cni]",
    `    bin_dirs = [${q(bins.cniDir)}]`,
    `    conf_dir = ${q(cniConfDir)}`,
    "[plugins.'io.containerd.grpc.v1.cri']",
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '',
  ].join('\n'));
}

function ctrRunner(bins: NodeBinaries, socket: string): (...args: string[]) => Promise<string> {
  return (...args) => sh(bins.ctr, '--address', socket, '-n', 'k8s.io', ...args);
}

/** Manifest digest and image name an OCI archive's index.json declares. */
async function archiveIndex(tar: string): Promise<{ name: string; digest: string }> {
  const index = JSON.parse(await sh('tar', '-xOf', tar, 'index.json')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const m = index.manifests[0];
  const name = m?.annotations?.['io.containerd.image.name'];
  if (!m || !name) throw new Error(`${tar}: index.json names no image (io.containerd.image.name)`);
  return { name, digest: m.digest };
}

async function importImage(ctr: (...a: string[]) => Promise<string>, tar: string): Promise<ImportedImage> {
  const want = await archiveIndex(tar);
  await ctr('images', 'import', tar);
  const listed = (await ctr('images', 'ls', '-q')).split('\n');
  if (!listed.includes(want.name)) throw new Error(`${tar}: ${want.name} not in containerd after import (${listed.join(', ')})`);
  const line = (await ctr('images', 'ls', `name==${want.name}`)).split('\n')[1] ?? '';
  const digest = line.split(/\s+/).find((f) => f.startsWith('sha256:'));
  if (digest !== want.digest) throw new Error(`${tar}: imported ${want.name} has digest ${digest}, the archive's is ${want.digest}`);
  const ref = `${want.name.replace(/:[^:/]+$/, '')}@${digest}`;
  // The CRI plugin resolves a digest reference only by an image of that name; an import creates
  // just name:tag, so a pod pinning `repository@sha256:...` would be pulled (and fail, no registry).
  await ctr('images', 'tag', '--force', want.name, ref);
  return { name: want.name, digest, ref };
}

interface Credentials { kubelet: string; scheduler: string }

/**
 * Client certificates for the kubelet (system:node:<name> in system:nodes) and kube-scheduler.
 * The suite's API server authorizes with RBAC only (no Node authorizer), so the node's user is
 * bound to the bootstrap ClusterRole system:node, which holds what a kubelet needs; the
 * scheduler's user is bound by the bootstrap policy already.
 */
async function credentials(cp: ControlPlane, dir: string): Promise<Credentials> {
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const ca = { cert: cp.caFile, key: join(dirname(cp.caFile), 'ca.key') };
  const node = signedCert(pkiDir, ca, 'kubelet', `/O=system:nodes/CN=system:node:${REAL_NODE_NAME}`, CLIENT_EXT);
  const scheduler = signedCert(pkiDir, ca, 'scheduler', '/CN=system:kube-scheduler', CLIENT_EXT);
  const kubelet = join(dir, 'kubelet.kubeconfig');
  writeKubeconfig(kubelet, cp.apiServerUrl, cp.caFile, `system:node:${REAL_NODE_NAME}`, { clientCertificate: node.cert, clientKey: node.key });
  const schedulerPath = join(dir, 'scheduler.kubeconfig');
  writeKubeconfig(schedulerPath, cp.apiServerUrl, cp.caFile, 'system:kube-scheduler', { clientCertificate: scheduler.cert, clientKey: scheduler.key });
  await cp.applyObjects([{
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `kservice:${REAL_NODE_NAME}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:node' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `system:node:${REAL_NODE_NAME}` }],
  } as never], 'real-node');
  return { kubelet, scheduler: schedulerPath };
}

/** KubeletConfiguration (kubelet.config.k8s.io/v1beta1) for this machine; see the file comment. */
function writeKubeletConfig(dir: string, cp: ControlPlane, socket: string, ports: { kubelet: number; healthz: number }): string {
  const path = join(dir, 'kubelet.yaml');
  writeFileSync(path, stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${CGROUP_ROOT}`,
    failSwapOn: false,
    // Its own oom_score_adj (-999 by default) cannot be set without CAP_SYS_RESOURCE (see containerd's).
    oomScoreAdj: 0,
    containerRuntimeEndpoint: `unix://${socket}`,
    address: REAL_NODE_IP,
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.healthz,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: cp.caFile } },
    authorization: { mode: 'Webhook' },
    podLogsDir: join(dir, 'pod-logs'),
    // No cluster DNS yet: pods get the host's resolv.conf minus nothing (dnsPolicy falls back to Default).
    clusterDomain: 'cluster.local',
    resolvConf: '/etc/resolv.conf',
    // The disk is shared: the kubelet must not evict test pods or delete imported images because
    // other work filled it (images cannot be pulled back: there is no registry).
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Status and pod-status updates sooner than the defaults (10 s sync), so tests see changes fast.
    syncFrequency: '5s',
    nodeStatusUpdateFrequency: '5s',
    rotateCertificates: false,
    serverTLSBootstrap: false,
  }));
  return path;
}

/**
 * The kubelet requires its cgroupRoot to exist in every hierarchy. A new cpuset cgroup starts with
 * no CPUs and memory nodes, so those are copied from the parent (cgroup v1 cpuset semantics).
 */
function createCgroupRoot(): void {
  for (const hierarchy of readdirSync(CGROUP_FS)) {
    const parent = join(CGROUP_FS, hierarchy);
    if (hierarchy === 'unified' || !existsSync(join(parent, 'cgroup.procs'))) continue;
    mkdirSync(join(parent, CGROUP_ROOT), { recursive: true });
    if (existsSync(join(parent, 'cpuset.cpus'))) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(parent, CGROUP_ROOT, f), readFileSync(join(parent, f)));
    }
  }
}

function readSysctls(): Record<string, string> {
  return Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readFileSync(join('/proc/sys', k), 'utf8').trim()]));
}

function restoreSysctls(saved: Record<string, string>): void {
  for (const [k, v] of Object.entries(saved)) {
    try {
      if (readFileSync(join('/proc/sys', k), 'utf8').trim() !== v) writeFileSync(join('/proc/sys', k), v);
    } catch {
      // not writable here: nothing the kubelet could have changed either
    }
  }
}

function aborter(p: ManagedProcess): () => void {
  return () => {
    if (!p.running()) throw new Error(`${p.name} exited during startup; log ${p.logFile}:\n${p.logTail(40)}`);
  };
}

function nodeReady(n: V1Node): boolean {
  return Boolean(n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** PIDs of containerd shims serving this containerd (their command line names its socket). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.endsWith('containerd-shim-runc-v2') && cmdline.includes(socket)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points at or under dir, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

async function unmountAll(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) await sh('umount', m).catch(() => quiet('umount', '-l', m));
}

/** Removes the kubelet's cgroup root in every v1 hierarchy, children first. */
function removeCgroups(): void {
  const rm = (path: string): void => {
    for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) rm(join(path, e.name));
    try {
      rmdirSync(path);
    } catch {
      // busy (a process left): reported by the leak check of the test, not hidden here
    }
  };
  for (const hierarchy of readdirSync(CGROUP_FS)) {
    const root = join(CGROUP_FS, hierarchy, CGROUP_ROOT);
    if (existsSync(root)) rm(root);
  }
}

/** The kubelet's log links (/var/log/containers) that point into dir. */
function removeLogLinks(dir: string): void {
  if (!existsSync(CONTAINER_LOG_LINKS)) return;
  for (const name of readdirSync(CONTAINER_LOG_LINKS)) {
    const link = join(CONTAINER_LOG_LINKS, name);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link).startsWith(`${dir}/`)) rmSync(link);
    } catch {
      // removed meanwhile
    }
  }
}

function netnsNames(): Set<string> {
  return new Set(existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : []);
}

/** What the node leaves on the host while it runs; for leak checks in tests. */
export function realNodeFootprint(): { cgroups: string[]; bridge: boolean; lock: boolean } {
  const cgroups = readdirSync(CGROUP_FS).map((h) => join(CGROUP_FS, h, CGROUP_ROOT)).filter((p) => existsSync(p));
  return { cgroups, bridge: existsSync(`/sys/class/net/${BRIDGE}`), lock: existsSync(LOCK) };
}

const DIR_PREFIX = 'kservice-realnode-';

/** PIDs of every process in the kubelet's cgroup tree (pods' containers), from the pids hierarchy. */
function cgroupPids(): number[] {
  const pids: number[] = [];
  const walk = (path: string): void => {
    if (!existsSync(path)) return;
    for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) walk(join(path, e.name));
    pids.push(...readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
  };
  walk(join(CGROUP_FS, 'pids', CGROUP_ROOT));
  return pids;
}

/**
 * What a run that died without stop() (test process SIGKILLed) left: containerd and its shims
 * outlive it (the shims are not its children), so do the containers. Called with the host lock
 * held, so all of it belongs to a dead run: processes whose command line names a node dir, and
 * every process in the kubelet's cgroup tree, are killed by PID; mounts under those dirs are
 * unmounted (the dirs stay, for inspection); cgroups, log links and the bridge go as in stop().
 */
async function reapDeadRun(): Promise<void> {
  const prefix = join(tmpdir(), DIR_PREFIX);
  const victims = new Set<number>(cgroupPids());
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').some((a) => a.startsWith(prefix))) victims.add(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  // A killed process whose parent is gone may stay a zombie here (PID 1 need not reap): not running.
  const running = (pid: number): boolean => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  };
  if (victims.size > 0) {
    await waitFor('a dead run\'s processes gone', () => [...victims].every((p) => !running(p)), { timeoutMs: 10_000, intervalMs: 100 })
      .catch((e: Error) => process.stderr.write(`real node: ${e.message}; going on\n`));
  }
  for (const dir of readdirSync(tmpdir()).filter((d) => d.startsWith(DIR_PREFIX))) {
    await unmountAll(join(tmpdir(), dir));
    removeLogLinks(join(tmpdir(), dir));
  }
  if (existsSync(SAVED_STATE)) {
    const saved = JSON.parse(readFileSync(SAVED_STATE, 'utf8')) as SavedState;
    restoreSysctls(saved.sysctls);
    if (saved.createdRunDir) rmSync(CONTAINERD_RUN_DIR, { recursive: true, force: true });
    rmSync(SAVED_STATE, { force: true });
  }
  removeCgroups();
}

/** Cleans up after a real node whose process died (see reapDeadRun), without starting one. */
export async function reapDeadRealNode(): Promise<void> {
  await takeLock();
  try {
    await reapDeadRun();
    await quiet('ip', 'link', 'del', BRIDGE);
  } finally {
    releaseLock();
  }
}

/**
 * Deletes every pod bound to the node (grace 1 s: preStop hooks start, nothing waits long) and waits
 * until the API has none left, i.e. the kubelet has stopped their containers and sandboxes.
 */
async function drainNode(cp: ControlPlane): Promise<void> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const onNode = async () => (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${REAL_NODE_NAME}` })).items;
  for (const pod of await onNode()) {
    await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 1 }).catch(() => undefined);
  }
  // A container that ignores SIGTERM (e.g. a PID 1 without a handler) holds its pod until the grace
  // period the pod had before; past this wait, stop() kills what is left through containerd.
  await waitFor('no pod left on the real node', async () => (await onNode()).length === 0, { timeoutMs: 20_000, intervalMs: 500 });
}

/** Starts containerd, imports the images, then the kubelet and kube-scheduler; waits for Node Ready. */
export async function startRealNode(cp: ControlPlane, opts: RealNodeOptions = {}): Promise<RealNode> {
  const bins = findNodeBinaries();
  await takeLock();
  await reapDeadRun();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const started: ManagedProcess[] = [];
  const sysctls = readSysctls();
  const netnsBefore = netnsNames();
  const runDirBefore = existsSync(CONTAINERD_RUN_DIR);
  writeFileSync(SAVED_STATE, JSON.stringify({ sysctls, createdRunDir: !runDirBefore } satisfies SavedState));
  const { socket } = containerdPaths(dir);
  const ctr = ctrRunner(bins, socket);
  const cleanup = async (keepDir: boolean): Promise<void> => {
    const [containerd, kubelet, scheduler] = started;
    await scheduler?.stop();
    if (kubelet?.running() && containerd?.running()) await drainNode(cp).catch((e) => process.stderr.write(`real node: drain failed: ${String(e)}\n`));
    await kubelet?.stop();
    if (containerd?.running()) {
      for (const id of (await ctr('tasks', 'ls', '-q').catch(() => '')).split('\n').filter(Boolean)) await quiet(bins.ctr, '--address', socket, '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id);
    }
    await containerd?.stop();
    for (const pid of shimPids(socket)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await unmountAll(dir);
    for (const ns of netnsNames()) if (!netnsBefore.has(ns) && ns.startsWith('cni-')) await quiet('ip', 'netns', 'delete', ns);
    removeCgroups();
    removeLogLinks(dir);
    // Only when this run created it: a host containerd of its own would keep its state there.
    if (!runDirBefore) rmSync(CONTAINERD_RUN_DIR, { recursive: true, force: true });
    restoreSysctls(sysctls);
    rmSync(SAVED_STATE, { force: true });
    await quiet('ip', 'link', 'del', BRIDGE);
    if (keepDir) process.stderr.write(`real node files kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    releaseLock();
  };
  try {
    await createBridge();
    createCgroupRoot();
    writeContainerdConfig(dir, bins, writeCniConfig(dir));
    const containerd = startProcess('containerd', bins.containerd, ['--config', containerdPaths(dir).config, '--log-level', 'info'], join(dir, 'containerd.log'));
    started.push(containerd);
    await waitFor('containerd answers', () => ctr('version').then(() => true, () => false), { abortIf: aborter(containerd), timeoutMs: 60_000 });
    await importImage(ctr, bins.pauseTar);
    for (const tar of opts.images ?? []) await importImage(ctr, tar);
    const creds = await credentials(cp, dir);
    const ports = { kubelet: await freePort(), healthz: await freePort(), scheduler: await freePort() };
    const kubelet = startProcess('kubelet', bins.kubelet, [
      `--config=${writeKubeletConfig(dir, cp, socket, ports)}`, `--kubeconfig=${creds.kubelet}`, `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet-pki')}`, `--hostname-override=${REAL_NODE_NAME}`, `--node-ip=${REAL_NODE_IP}`, '--v=2',
    ], join(dir, 'kubelet.log'));
    started.push(kubelet);
    const scheduler = startProcess('kube-scheduler', bins.kubeScheduler, [
      `--kubeconfig=${creds.scheduler}`, `--authentication-kubeconfig=${creds.scheduler}`, `--authorization-kubeconfig=${creds.scheduler}`,
      '--bind-address=127.0.0.1', `--secure-port=${ports.scheduler}`, '--leader-elect=false', '--v=2',
    ], join(dir, 'kube-scheduler.log'));
    started.push(scheduler);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor(`Node ${REAL_NODE_NAME} Ready`, async () => nodeReady(await core.readNode({ name: REAL_NODE_NAME }).catch(() => ({}))), {
      abortIf: () => { aborter(kubelet)(); aborter(containerd)(); }, timeoutMs: 120_000, intervalMs: 500,
    });
    await waitFor('kube-scheduler /healthz', async () => (await get(`https://127.0.0.1:${ports.scheduler}/healthz`, { insecure: true }).catch(() => ({ status: 0 }))).status === 200, {
      abortIf: aborter(scheduler), timeoutMs: 60_000,
    });
  } catch (e) {
    const logs = started.map((p) => `--- ${p.name} (${p.logFile}) ---\n${p.logTail(30)}`).join('\n');
    await cleanup(true);
    throw new Error(`real node failed to start: ${e instanceof Error ? e.message : String(e)}\n${logs}`);
  }
  const [containerd, kubelet, scheduler] = started;
  let stopped = false;
  return {
    name: REAL_NODE_NAME, ip: REAL_NODE_IP, podSubnet: REAL_POD_SUBNET, dir, binaries: bins, containerdSocket: socket,
    processes: { containerd, kubelet, scheduler },
    ctr,
    importImage: (tar) => importImage(ctr, tar),
    logTails: (lines = 30) => started.map((p) => `--- ${p.name} (${p.logFile}) ---\n${p.logTail(lines)}`).join('\n'),
    stop: async (o = {}) => {
      if (stopped) return;
      stopped = true;
      await cleanup(o.keepDir ?? false);
    },
  };
}
