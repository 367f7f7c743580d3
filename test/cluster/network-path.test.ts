// The real network hops between a client pod and a Service: CoreDNS answers the cluster domain from
// the API (an A record for a ClusterIP Service, a CNAME for the route's ExternalName Service), and
// kube-proxy's nftables rules carry a ClusterIP to a pod. The client is a pod network namespace of
// the node agent with what a kubelet gives pods: a resolv.conf naming the kube-dns ClusterIP and a
// route to the Service CIDR via the node. Nothing leaves the test's bridge: CoreDNS has no upstream,
// and routed pod traffic can only go back onto the bridge (PodNetwork.useClusterNetworking).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, DiscoveryV1Api, type KubernetesObject, type V1Service } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KService } from '../../lib/constructs/kservice';
import { SERVICE_CLUSTER_IP_RANGE } from './harness/components';
import {
  CLUSTER_DOMAIN, kubeProxyLockOwner, kubeProxyRules, kubeProxyTables, startCoreDns, startKubeProxy, type NetProcess,
} from './harness/net-components';
import { TEST_APP_PORT, testAppBackend } from './harness/test-app-backend';
import { waitFor } from './harness/wait';
import { useNodeCluster } from './node-agent/cluster';
import { testAppImage } from './node-agent/images';
import type { PodSandbox } from './node-agent/network';
import { TEST_IMAGE, synthesize } from './scenarios/support/serving';

const run = promisify(execFile);
const NS = 'netpath';
/** kube-dns' ClusterIP, as kubeadm picks it (the 10th address of the Service CIDR). */
const KUBE_DNS_IP = '10.96.0.10';

const cluster = useNodeCluster({ images: [testAppImage(TEST_IMAGE)] });
let dir: string;
let coreDns: NetProcess | undefined;
let kubeProxy: NetProcess | undefined;
let client: PodSandbox;
let failed = false;

/** Runs a Node.js snippet inside the client pod's namespace (with its resolv.conf); returns stdout. */
async function inClient(script: string): Promise<string> {
  try {
    const { stdout } = await run('ip', ['netns', 'exec', client.netns, process.execPath, '-e', script], { timeout: 20_000 });
    return stdout.trim();
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`in pod ${client.netns}: ${(err.stderr || err.message).trim()}`);
  }
}

function kubeDns(hostIp: string): KubernetesObject[] {
  const ports = [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }];
  return [
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' },
      spec: { clusterIP: KUBE_DNS_IP, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    } as KubernetesObject,
    // CoreDNS runs on the node (the bridge's address), not as a pod: its endpoint is written by hand.
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'kube-dns-node', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'kservice-tests' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostIp], conditions: { ready: true } }],
      ports,
    } as KubernetesObject,
  ];
}

/** The namespace and a ClusterIP Service `web` whose pod answers `/` with 21 bytes. */
function webApp(): KubernetesObject[] {
  return [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as KubernetesObject, ...testAppBackend(NS, 'web', 21)];
}

/** The route's ExternalName Service `hello`, as the compiler writes it for KService `hello`. */
function routeServiceOfHello(): KubernetesObject & { spec: { type: string; externalName: string } } {
  const objects = synthesize({
    services: (chart, config) => new KService(chart, 'hello', { namespace: NS, config, containers: [{ image: TEST_IMAGE }] }),
  });
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata?.name === 'hello' && o.metadata.namespace === NS);
  if (!svc) throw new Error(`the compiled KService has no Service ${NS}/hello (kinds: ${objects.map((o) => o.kind).join(', ')})`);
  return svc as KubernetesObject & { spec: { type: string; externalName: string } };
}

beforeAll(async () => {
  const c = cluster();
  dir = mkdtempSync(join(tmpdir(), 'kservice-netpath-'));
  await c.controlPlane.applyObjects(kubeDns(c.network.hostIp), 'kservice-tests');
  coreDns = await startCoreDns({ kubeconfigPath: c.controlPlane.kubeconfigPath, bindIp: c.network.hostIp, dir });
  kubeProxy = await startKubeProxy({
    kubeconfigPath: c.controlPlane.kubeconfigPath, nodeName: c.agent.nodeName, clusterCidr: c.network.subnet, nodeIp: c.network.hostIp, dir,
  });
  await c.network.useClusterNetworking({
    serviceCidr: SERVICE_CLUSTER_IP_RANGE,
    dns: { nameserver: KUBE_DNS_IP, searches: [`${NS}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN], ndots: 5 },
  });
  client = await c.network.addPod();
}, 360_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  if (failed) {
    process.stderr.write(`network-path logs (kept): ${dir}\n${coreDns?.process.logTail(40) ?? ''}\n${kubeProxy?.process.logTail(60) ?? ''}\n`);
    process.stderr.write(await kubeProxyRules().catch((e: Error) => e.message));
  }
  await kubeProxy?.stop();
  await coreDns?.stop();
  if (client) await cluster().network.removePod(client);
  if (!failed) rmSync(dir, { recursive: true, force: true });
});

describe('network path: client pod -> CoreDNS -> kube-proxy -> pod', () => {
  let web: V1Service;

  it('resolves a ClusterIP Service to its ClusterIP through CoreDNS (FQDN and the pod\'s search path)', async () => {
    const c = cluster();
    await c.controlPlane.applyObjects(webApp(), 'kservice-tests');
    const core = c.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    web = await core.readNamespacedService({ name: 'web', namespace: NS });
    const ip = web.spec?.clusterIP;
    expect(ip).toMatch(/^10\.96\./);
    const fqdn = `web.${NS}.svc.${CLUSTER_DOMAIN}`;
    // An A record straight from CoreDNS (c-ares, nameserver from the pod's resolv.conf) ...
    const a = await waitFor(`A record of ${fqdn}`, () =>
      inClient(`require('node:dns').promises.resolve4(${JSON.stringify(fqdn)}).then((r) => console.log(r.join(',')))`), { timeoutMs: 30_000 });
    expect(a).toBe(ip);
    // ... and the short name through glibc's resolver, the search list and ndots a kubelet writes.
    const short = await inClient(`require('node:dns').promises.lookup('web', { family: 4 }).then((r) => console.log(r.address))`);
    expect(short).toBe(ip);
  });

  it('answers the route\'s ExternalName Service with a CNAME to the local gateway', async () => {
    const hello = routeServiceOfHello();
    expect(hello.spec.type).toBe('ExternalName');
    await cluster().controlPlane.applyObjects([hello], 'kservice-tests');
    const fqdn = `hello.${NS}.svc.${CLUSTER_DOMAIN}`;
    const cname = await waitFor(`CNAME of ${fqdn}`, () =>
      inClient(`require('node:dns').promises.resolveCname(${JSON.stringify(fqdn)}).then((r) => console.log(r.join(',')))`), { timeoutMs: 30_000 });
    expect(cname).toBe(hello.spec.externalName);
  });

  it('carries a ClusterIP to the pod behind it through kube-proxy\'s nftables rules', async () => {
    const c = cluster();
    const discovery = c.controlPlane.kubeConfig.makeApiClient(DiscoveryV1Api);
    const podIP = await waitFor('a ready endpoint of web', async () => {
      const slices = await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: 'kubernetes.io/service-name=web' });
      return slices.items.flatMap((s) => s.endpoints ?? []).find((e) => e.conditions?.ready)?.addresses[0];
    }, { timeoutMs: 120_000 });
    const ip = web.spec?.clusterIP ?? '';
    // kube-proxy has programmed the ClusterIP and DNATs it to the pod's address.
    const rules = await waitFor(`kube-proxy rules for ${ip} -> ${podIP}`, async () => {
      const r = await kubeProxyRules();
      return r.includes(ip) && r.includes(`${podIP} . ${TEST_APP_PORT}`) ? r : undefined;
    }, { timeoutMs: 60_000 });
    // e.g. `meta l4proto tcp dnat ip to numgen random mod 1 map { 0 : 10.244.0.3 . 8080 }`
    expect(rules).toMatch(new RegExp(`dnat ip to .*: ${podIP.replace(/\./g, '\\.')} \\. ${TEST_APP_PORT}`));
    // By name, from the client pod: CoreDNS, then kube-proxy, then the pod (21 bytes is its body).
    const body = await inClient(
      `fetch('http://web/').then(async (r) => console.log(r.status + ' ' + (await r.text()).length))`);
    expect(body).toBe('200 21');
  });

  it('refuses an undefined port of a ClusterIP and drops an unallocated ClusterIP on the node', async () => {
    const ip = web.spec?.clusterIP ?? '';
    // kube-proxy's reject for a port the Service does not declare: refused at once, by the node.
    const refused = await inClient(
      `fetch('http://${ip}:81/', { signal: AbortSignal.timeout(5000) }).then(() => console.log('answered'), (e) => console.log(e.cause?.code ?? e.name))`);
    expect(refused).toBe('ECONNREFUSED');
    // An address of the Service CIDR that no Service holds: dropped by kube-proxy's rule for the
    // CIDR (nothing forwarded), so the connection attempt only times out.
    const rules = await kubeProxyRules();
    expect(rules).toMatch(new RegExp(`daddr ${SERVICE_CLUSTER_IP_RANGE.replace(/\./g, '\\.')} .*drop comment "Drop traffic to unallocated ClusterIPs"`));
    const dropped = await inClient(
      `fetch('http://10.96.255.254/', { signal: AbortSignal.timeout(3000) }).then(() => console.log('answered'), (e) => console.log(e.cause?.code ?? e.name))`);
    expect(dropped).toBe('TimeoutError');
  });

  it('leaves no kube-proxy table and no host lock behind once kube-proxy is stopped', async () => {
    expect(await kubeProxyTables()).toEqual(expect.arrayContaining(['ip kube-proxy']));
    expect(kubeProxyLockOwner()).toBe(process.pid);
    const pid = kubeProxy!.process.pid;
    await kubeProxy!.stop();
    expect(kubeProxy!.process.running()).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await kubeProxyTables()).toEqual([]);
    expect(kubeProxyLockOwner()).toBeUndefined();
  });
});
