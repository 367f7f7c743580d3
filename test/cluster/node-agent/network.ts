// The pod network of the node agent: one Linux bridge on the host and one network namespace per
// pod, joined to the bridge by a veth pair. Pods get addresses from a private /24 that exists only
// on these test-created interfaces, so Kubernetes accepts them in Endpoints (it refuses loopback)
// and no packet can leave for an address outside the test: pod namespaces have no default route,
// only the connected /24, so anything else fails with ENETUNREACH.
//
// Several test runs may share a host (engineers, CI jobs), so each run takes a numbered slot N with
// a lock file holding its PID: bridge `ksvcN`, subnet 10.244.N.0/24, namespaces `ksvcN-podK`, host
// veths `ksvcNhK`. Leftovers of a slot whose owner died (crashed run) are removed at create; a
// live run's slot is never touched.
//
// Hand-written on iproute2 (`ip`) because there is no maintained npm binding for netlink, and the
// handful of commands below is what a CNI bridge plugin does, minus IPAM persistence.
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Lock files of the slots; under /run so a reboot (which also drops all links) clears them. */
export const SLOT_DIR = '/run/kservice-pod-network';
const MAX_SLOTS = 64;
const PREFIX = 'ksvc';

/**
 * What a kubelet and a CNI plugin give pods on a node that runs kube-proxy and cluster DNS (opt in
 * with `PodNetwork.useClusterNetworking`; without it pods reach only their /24).
 */
export interface ClusterNetworking {
  /** Routed via the node (the bridge's host address), where kube-proxy's nftables rules DNAT ClusterIPs. */
  readonly serviceCidr: string;
  /** Written to `/etc/netns/<netns>/resolv.conf`, which `ip netns exec` mounts as /etc/resolv.conf. */
  readonly dns?: { readonly nameserver: string; readonly searches: readonly string[]; readonly ndots: number };
}

/** Per-netns files of `ip netns exec` (resolv.conf). */
const NETNS_ETC = '/etc/netns';

export interface PodNetworkOptions {
  /** Use exactly this slot (fails if a live run holds it). @default the lowest free slot */
  readonly slot?: number;
}

/** One pod's slice of the network: its namespace and address. */
export interface PodSandbox {
  readonly netns: string;
  readonly ip: string;
  readonly hostVeth: string;
}

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args);
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Loads an nftables ruleset from stdin (`nft -f -`), with nft's message in the error. */
function nft(ruleset: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], (e, _out, stderr) =>
      e ? reject(new Error(`nft -f - failed: ${(stderr || e.message).trim()}\n${ruleset}`)) : resolve());
    child.stdin?.end(ruleset);
  });
}

async function ipQuiet(...args: string[]): Promise<void> {
  await ip(...args).catch(() => undefined);
}

/** Fails with a clear message instead of a cryptic `ip` error when the test cannot manage links. */
export function assertCanManageNetwork(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      'the node agent needs root (it creates network namespaces, veth pairs and a bridge with iproute2); ' +
        `run the cluster suite as root (uid is ${process.getuid()})`,
    );
  }
}

/** Whether a process with this PID exists (EPERM: it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockFile(slot: number): string {
  return join(SLOT_DIR, `slot-${slot}.lock`);
}

/** PID holding a slot, or undefined if the lock is missing or unreadable. */
function slotOwner(slot: number): number | undefined {
  try {
    const pid = Number(readFileSync(lockFile(slot), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the slot's lock (exclusive create); false if a live run holds it. */
function tryLock(slot: number): boolean {
  mkdirSync(SLOT_DIR, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile(slot), 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = slotOwner(slot);
      if (owner !== undefined && pidAlive(owner)) return false;
      rmSync(lockFile(slot), { force: true }); // its owner died: the slot is free again
    }
  }
  return false;
}

/** Names of a slot's namespaces and links that exist now. */
async function slotResources(slot: number): Promise<{ netns: string[]; links: string[] }> {
  const netns = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]).filter((n) => n?.startsWith(`${PREFIX}${slot}-pod`));
  const links = (await ip('-o', 'link', 'show')).split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0])
    .filter((n): n is string => n !== undefined && (n === `${PREFIX}${slot}` || n.startsWith(`${PREFIX}${slot}h`)));
  return { netns, links };
}

async function removeSlotResources(slot: number): Promise<void> {
  const { netns, links } = await slotResources(slot);
  // Processes still in a namespace (a crashed run's image containers: their parent-death signal is
  // cleared when they switch user, see container-process.ts) are killed before it is removed.
  for (const n of netns) await killNamespaceProcesses(n);
  for (const n of netns) await ipQuiet('netns', 'del', n);
  for (const l of links) await ipQuiet('link', 'del', l);
  for (const n of netnsEtcDirs(slot)) rmSync(join(NETNS_ETC, n), { recursive: true, force: true });
  await run('nft', ['delete', 'table', 'ip', guardTable(slot)]).catch(() => undefined);
}

function netnsEtcDirs(slot: number): string[] {
  try {
    return readdirSync(NETNS_ETC).filter((n) => n.startsWith(`${PREFIX}${slot}-pod`));
  } catch {
    return [];
  }
}

/** nftables table that keeps a slot's routed pod traffic on its bridge (see useClusterNetworking). */
function guardTable(slot: number): string {
  return `${PREFIX}${slot}-guard`;
}

async function killNamespaceProcesses(netns: string): Promise<void> {
  const pids = (await ip('netns', 'pids', netns).catch(() => '')).split('\n').map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Removes what crashed runs left behind: slots whose lock owner is gone (or that have no lock). */
async function removeStaleSlots(): Promise<void> {
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const owner = slotOwner(slot);
    if (owner !== undefined && pidAlive(owner)) continue;
    const { netns, links } = await slotResources(slot);
    if (netns.length === 0 && links.length === 0) continue;
    // Take the lock while cleaning, so a run starting now does not build on half-removed links.
    if (!tryLock(slot)) continue;
    await removeSlotResources(slot);
    rmSync(lockFile(slot), { force: true });
  }
}

export class PodNetwork {
  /** Cleans up leftovers of crashed runs, takes a free slot and creates its bridge. */
  static async create(opts: PodNetworkOptions = {}): Promise<PodNetwork> {
    assertCanManageNetwork();
    await removeStaleSlots();
    const candidates = opts.slot !== undefined ? [opts.slot] : Array.from({ length: MAX_SLOTS }, (_, i) => i);
    const slot = candidates.find((s) => tryLock(s));
    if (slot === undefined) throw new Error(`no free pod network slot (${opts.slot !== undefined ? `slot ${opts.slot} is held by a live run` : `all ${MAX_SLOTS} are held`}; see ${SLOT_DIR})`);
    const net = new PodNetwork(slot);
    try {
      await removeSlotResources(slot);
      await net.assertSubnetUnused();
      await ip('link', 'add', net.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${net.hostIp}/24`, 'dev', net.bridge);
      await ip('link', 'set', net.bridge, 'up');
      return net;
    } catch (e) {
      await net.destroy();
      throw e;
    }
  }

  readonly bridge: string;
  /** First three octets of the subnet, e.g. `10.244.0`. */
  readonly subnetPrefix: string;
  readonly hostIp: string;
  readonly subnet: string;
  private readonly used = new Set<number>();
  private lastHost = 1;
  private cluster?: ClusterNetworking;
  private readonly sandboxes = new Set<PodSandbox>();

  private constructor(readonly slot: number) {
    this.bridge = `${PREFIX}${slot}`;
    this.subnetPrefix = `10.244.${slot}`;
    this.hostIp = `${this.subnetPrefix}.1`;
    this.subnet = `${this.subnetPrefix}.0/24`;
  }

  /** Creates a namespace with `lo` up and `eth0` on the bridge. */
  async addPod(): Promise<PodSandbox> {
    const host = this.nextHostNumber();
    const sandbox = { netns: `${this.bridge}-pod${host}`, ip: `${this.subnetPrefix}.${host}`, hostVeth: `${this.bridge}h${host}` };
    try {
      await ip('netns', 'add', sandbox.netns);
      await ip('link', 'add', sandbox.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', sandbox.netns);
      await ip('link', 'set', sandbox.hostVeth, 'master', this.bridge, 'up');
      await ip('-n', sandbox.netns, 'addr', 'add', `${sandbox.ip}/24`, 'dev', 'eth0');
      await ip('-n', sandbox.netns, 'link', 'set', 'eth0', 'up');
      await ip('-n', sandbox.netns, 'link', 'set', 'lo', 'up');
      if (this.cluster) await this.applyClusterNetworking(sandbox, this.cluster);
      this.sandboxes.add(sandbox);
      return sandbox;
    } catch (e) {
      await this.removePod(sandbox);
      throw e;
    }
  }

  /** Deleting the namespace deletes its end of the veth pair and with it the host end. */
  async removePod(sandbox: PodSandbox): Promise<void> {
    await ipQuiet('netns', 'del', sandbox.netns);
    await ipQuiet('link', 'del', sandbox.hostVeth);
    rmSync(join(NETNS_ETC, sandbox.netns), { recursive: true, force: true });
    this.sandboxes.delete(sandbox);
    this.used.delete(Number(sandbox.ip.split('.')[3]));
  }

  /**
   * Routes the Service CIDR of every pod (existing and future) via the node and gives each a
   * resolv.conf. The host forwards only what arrives on this bridge (forwarding is switched on for
   * the bridge alone) and a guard table drops routed pod traffic leaving by any other interface, so
   * a ClusterIP that kube-proxy does not DNAT to a pod goes nowhere instead of off the machine.
   * Replies from a pod to a client on the same bridge are un-DNATed only if bridged traffic passes
   * netfilter (br_netfilter, net.bridge.bridge-nf-call-iptables=1): checked here, not changed.
   */
  async useClusterNetworking(c: ClusterNetworking): Promise<void> {
    const bridgeNf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    let nf = '';
    try {
      nf = readFileSync(bridgeNf, 'utf8').trim();
    } catch {
      throw new Error(`${bridgeNf} is missing: load br_netfilter (modprobe br_netfilter) so kube-proxy can un-DNAT replies between pods on one bridge`);
    }
    if (nf !== '1') throw new Error(`${bridgeNf} is ${nf}: set it to 1 (sysctl net.bridge.bridge-nf-call-iptables=1) so kube-proxy can un-DNAT replies between pods on one bridge`);
    const guard = guardTable(this.slot);
    await nft(`table ip ${guard} {
  chain forward {
    type filter hook forward priority filter + 10; policy accept;
    iifname "${this.bridge}" oifname != "${this.bridge}" drop
  }
}
`);
    writeFileSync(`/proc/sys/net/ipv4/conf/${this.bridge}/forwarding`, '1');
    this.cluster = c;
    for (const s of this.sandboxes) await this.applyClusterNetworking(s, c);
  }

  private async applyClusterNetworking(sandbox: PodSandbox, c: ClusterNetworking): Promise<void> {
    await ip('-n', sandbox.netns, 'route', 'replace', c.serviceCidr, 'via', this.hostIp, 'dev', 'eth0');
    if (!c.dns) return;
    mkdirSync(join(NETNS_ETC, sandbox.netns), { recursive: true });
    writeFileSync(join(NETNS_ETC, sandbox.netns, 'resolv.conf'),
      `search ${c.dns.searches.join(' ')}\nnameserver ${c.dns.nameserver}\noptions ndots:${c.dns.ndots}\n`);
  }

  /** Removes the bridge and every namespace/veth of this slot, then frees the slot. */
  async destroy(): Promise<void> {
    await removeSlotResources(this.slot);
    this.used.clear();
    this.sandboxes.clear();
    this.cluster = undefined;
    if (slotOwner(this.slot) === process.pid) rmSync(lockFile(this.slot), { force: true });
  }

  /** Names of this slot's namespaces and links that currently exist (for leak checks in tests). */
  async leftovers(): Promise<string[]> {
    const { netns, links } = await slotResources(this.slot);
    return [...netns, ...links];
  }

  /** Refuses to run if the host already routes our subnet somewhere else (e.g. a real CNI). */
  private async assertSubnetUnused(): Promise<void> {
    const routes = await ip('route', 'show', 'match', this.hostIp);
    const clash = routes.split('\n').find((l) => l.trim() && !l.startsWith('default'));
    if (clash) throw new Error(`pod subnet ${this.subnet} is already routed on this host (${clash.trim()}); refusing to use it`);
  }

  /** Round-robin, so a just-freed address is not reused while stale Endpoints may still list it. */
  private nextHostNumber(): number {
    for (let i = 0; i < 253; i++) {
      const n = 2 + ((this.lastHost - 2 + 1 + i) % 253);
      if (!this.used.has(n)) {
        this.used.add(n);
        this.lastHost = n;
        return n;
      }
    }
    throw new Error(`pod subnet ${this.subnet} is exhausted`);
  }
}

/** Slots with a lock file, for diagnostics. */
export function lockedSlots(): number[] {
  try {
    return readdirSync(SLOT_DIR).map((f) => /^slot-(\d+)\.lock$/.exec(f)?.[1]).filter((s): s is string => s !== undefined).map(Number);
  } catch {
    return [];
  }
}
