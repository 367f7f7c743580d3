// The pod network of the node agent: one Linux bridge on the host and one network namespace per
// pod, joined to the bridge by a veth pair. Pods get addresses from a private /24 that exists only
// on these test-created interfaces, so Kubernetes accepts them in Endpoints (it refuses loopback)
// and no packet can leave for an address outside the test: pod namespaces have no default route,
// only the connected /24, so anything else fails with ENETUNREACH.
//
// Hand-written on iproute2 (`ip`) because there is no maintained npm binding for netlink, and the
// handful of commands below is what a CNI bridge plugin does, minus IPAM persistence.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PodNetworkOptions {
  /** Bridge on the host side. Default `ksvc0`. */
  readonly bridge?: string;
  /** First three octets of the /24; the host gets .1, pods .2–.254. Default `10.244.0`. */
  readonly subnetPrefix?: string;
  /** Prefix of namespace and host-side veth names, also used to find stale ones. Default `ksvc`. */
  readonly namePrefix?: string;
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

export class PodNetwork {
  /** Cleans up leftovers of a crashed run, then creates the bridge with the host address. */
  static async create(opts: PodNetworkOptions = {}): Promise<PodNetwork> {
    assertCanManageNetwork();
    const net = new PodNetwork(opts.bridge ?? 'ksvc0', opts.subnetPrefix ?? '10.244.0', opts.namePrefix ?? 'ksvc');
    await net.removeStale();
    await net.assertSubnetUnused();
    await ip('link', 'add', net.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${net.hostIp}/24`, 'dev', net.bridge);
    await ip('link', 'set', net.bridge, 'up');
    return net;
  }

  readonly hostIp: string;
  readonly subnet: string;
  private readonly used = new Set<number>();
  private lastHost = 1;

  private constructor(
    readonly bridge: string,
    private readonly subnetPrefix: string,
    private readonly namePrefix: string,
  ) {
    this.hostIp = `${subnetPrefix}.1`;
    this.subnet = `${subnetPrefix}.0/24`;
  }

  /** Creates a namespace with `lo` up and `eth0` on the bridge. */
  async addPod(): Promise<PodSandbox> {
    const host = this.nextHostNumber();
    const sandbox = { netns: `${this.namePrefix}-pod${host}`, ip: `${this.subnetPrefix}.${host}`, hostVeth: `${this.namePrefix}h${host}` };
    try {
      await ip('netns', 'add', sandbox.netns);
      await ip('link', 'add', sandbox.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', sandbox.netns);
      await ip('link', 'set', sandbox.hostVeth, 'master', this.bridge, 'up');
      await ip('-n', sandbox.netns, 'addr', 'add', `${sandbox.ip}/24`, 'dev', 'eth0');
      await ip('-n', sandbox.netns, 'link', 'set', 'eth0', 'up');
      await ip('-n', sandbox.netns, 'link', 'set', 'lo', 'up');
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
    this.used.delete(Number(sandbox.ip.split('.')[3]));
  }

  /** Removes the bridge and every namespace/veth with our prefix. */
  async destroy(): Promise<void> {
    await this.removeStale();
    this.used.clear();
  }

  /** Names of our namespaces and links that currently exist (for leak checks in tests). */
  async leftovers(): Promise<string[]> {
    const netns = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
    const links = (await ip('-o', 'link', 'show')).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0]).filter(Boolean);
    return [...netns, ...links].filter((n) => n === this.bridge || n.startsWith(`${this.namePrefix}-pod`) || n.startsWith(`${this.namePrefix}h`));
  }

  private async removeStale(): Promise<void> {
    for (const name of await this.leftovers()) {
      if (name.startsWith(`${this.namePrefix}-pod`)) await ipQuiet('netns', 'del', name);
      else await ipQuiet('link', 'del', name);
    }
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
