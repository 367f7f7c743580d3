// A compiled serving graph in Gateway API mode behind the real network hops: the app is synthesized
// with `ingress: gateway-api` (gatewayClassName traefik, the listener on Traefik's entry point
// port), applied after the Gateway API CRDs, and the activator and autoscaler run as pods from the
// runtime image (as support/serving.ts does for the Istio mode). The node then gets CoreDNS,
// kube-proxy and Traefik, and the local gateway's Service (which the route's ExternalName Service
// names, and which Istio's install would have created) is a ClusterIP Service whose endpoint is
// Traefik's entry point on the node.
import { App, Chart } from 'cdk8s';
import { AppsV1Api, CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { Ingress, type ServingConfigProps } from '../../../../lib/contract/config';
import { DEFAULT_RUNTIME_IMAGE, SYSTEM_NAMESPACE } from '../../../../lib/contract/constants';
import { ServingSystem } from '../../../../lib/constructs/serving-system';
import { installGatewayApiCrds } from '../../crds/gateway-api-crds';
import { SERVICE_CLUSTER_IP_RANGE } from '../../harness/components';
import {
  CLUSTER_DOMAIN, TRAEFIK_GATEWAY_CONTROLLER, startCoreDns, startKubeProxy, startTraefik, type NetProcess,
} from '../../harness/net-components';
import { startNodeCluster, stopNodeCluster } from '../../node-agent/cluster';
import { runtimeImage, runtimeImageRootfs, testAppImage } from '../../node-agent/images';
import { FAST_AUTOSCALER, RUNTIME_TEST_ENV, TEST_IMAGE, applyOrder, missingNamespaces, waitForReadyPods, type ServingCluster } from './serving';

/** kube-dns' ClusterIP, as kubeadm picks it (the 10th address of the Service CIDR). */
export const KUBE_DNS_IP = '10.96.0.10';
/**
 * Traefik's Gateway provider sends to a Service's EndpointSlices (pod IPs) unless told to use the
 * Service's ClusterIP (traefik/traefik pkg/provider/kubernetes/gateway/kubernetes.go, nativeLB).
 * A Knative gateway sends to the revision's public Service, whose Endpoints the autoscaler flips
 * between activator and pods, so the test sets this on the compiled public Services: the hop after
 * Traefik is then kube-proxy, as in a cluster whose gateway does not read endpoints itself.
 */
export const TRAEFIK_NATIVE_LB = 'traefik.io/service.nativelb';

export interface GatewayServingCluster extends ServingCluster {
  /** Traefik's entry point (the compiled Gateways' listener port) on the node address. */
  readonly gatewayPort: number;
  readonly netProcesses: { readonly coreDns: NetProcess; readonly kubeProxy: NetProcess; readonly traefik: NetProcess };
}

export function synthesizeGatewayApi(listenerPort: number, services: (chart: Chart, config: ServingConfigProps) => void): KubernetesObject[] {
  const config: ServingConfigProps = {
    autoscaler: FAST_AUTOSCALER,
    ingress: Ingress.GATEWAY_API,
    gatewayApi: { gatewayClassName: 'traefik', listenerPort },
  };
  const app = new App({ outdir: '/nonexistent-not-written' });
  const chart = new Chart(app, 'scenario');
  new ServingSystem(chart, 'system', { config });
  services(chart, config);
  return parseAllDocuments(app.synthYaml()).map((d) => d.toJS() as KubernetesObject).filter(Boolean);
}

/** A Service whose endpoint is a process on the node (not a pod): its EndpointSlice is hand-written. */
function nodeService(namespace: string, name: string, clusterIP: string | undefined, hostIp: string, ports: Array<{ name: string; protocol: string; port: number; targetPort: number }>): KubernetesObject[] {
  return [
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace },
      spec: { ...(clusterIP ? { clusterIP } : {}), ports: ports.map(({ name: n, protocol, port, targetPort }) => ({ name: n, protocol, port, targetPort })) },
    } as KubernetesObject,
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-node`, namespace, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'kservice-tests' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [hostIp], conditions: { ready: true } }],
      ports: ports.map(({ name: n, protocol, targetPort }) => ({ name: n, protocol, port: targetPort })),
    } as KubernetesObject,
  ];
}

function systemReplicas(objects: readonly KubernetesObject[], name: string): number {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name && o.metadata.namespace === SYSTEM_NAMESPACE) as { spec?: { replicas?: number } } | undefined;
  return d?.spec?.replicas ?? 1;
}

/** `host.namespace.svc.cluster.local` split into its Service name and namespace. */
function serviceOfHost(host: string): { name: string; namespace: string } {
  const [name, namespace] = host.split('.');
  return { name, namespace };
}

export async function startGatewayServing(opts: {
  readonly gatewayPort: number;
  readonly objects: KubernetesObject[];
  /** The local gateway's Service host (config gatewayApi.localGatewayService). */
  readonly localGatewayService: string;
  readonly dir: string;
}): Promise<GatewayServingCluster> {
  const node = await startNodeCluster({
    images: [runtimeImage(DEFAULT_RUNTIME_IMAGE, RUNTIME_TEST_ENV, runtimeImageRootfs()), testAppImage(TEST_IMAGE)],
  });
  const started: NetProcess[] = [];
  try {
    const cp = node.controlPlane;
    const hostIp = node.network.hostIp;
    await installGatewayApiCrds(cp.kubeConfig);
    const dns = [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 }];
    const gw = serviceOfHost(opts.localGatewayService);
    await cp.applyObjects(missingNamespaces(opts.objects), 'scenario-setup');
    await cp.applyObjects([
      ...nodeService('kube-system', 'kube-dns', KUBE_DNS_IP, hostIp, dns),
      ...nodeService(gw.namespace, gw.name, undefined, hostIp, [{ name: 'http2', protocol: 'TCP', port: 80, targetPort: opts.gatewayPort }]),
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'traefik' }, spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER } } as KubernetesObject,
    ], 'scenario-setup');
    const coreDns = await startCoreDns({ kubeconfigPath: cp.kubeconfigPath, bindIp: hostIp, dir: opts.dir });
    started.push(coreDns);
    const kubeProxy = await startKubeProxy({ kubeconfigPath: cp.kubeconfigPath, nodeName: node.agent.nodeName, clusterCidr: node.network.subnet, nodeIp: hostIp, dir: opts.dir });
    started.push(kubeProxy);
    const traefik = await startTraefik({ kubeconfigPath: cp.kubeconfigPath, bindIp: hostIp, port: opts.gatewayPort, dir: opts.dir });
    started.push(traefik);
    await node.network.useClusterNetworking({ serviceCidr: SERVICE_CLUSTER_IP_RANGE, dns: { nameserver: KUBE_DNS_IP, searches: [`svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN], ndots: 5 } });
    await cp.applyObjects(applyOrder(opts.objects), 'kservice');
    const c: GatewayServingCluster = {
      ...node,
      objects: opts.objects,
      core: cp.kubeConfig.makeApiClient(CoreV1Api),
      apps: cp.kubeConfig.makeApiClient(AppsV1Api),
      gatewayPort: opts.gatewayPort,
      netProcesses: { coreDns, kubeProxy, traefik },
    };
    for (const app of ['activator', 'autoscaler']) await waitForReadyPods(c.core, SYSTEM_NAMESPACE, `app=${app}`, systemReplicas(opts.objects, app));
    return c;
  } catch (e) {
    for (const p of started.reverse()) await p.stop();
    await stopNodeCluster(node, true);
    throw e;
  }
}

export async function stopGatewayServing(c: GatewayServingCluster, failed: boolean): Promise<void> {
  const { coreDns, kubeProxy, traefik } = c.netProcesses;
  if (failed) process.stderr.write(`traefik:\n${traefik.process.logTail(60)}\nkube-proxy:\n${kubeProxy.process.logTail(30)}\n`);
  for (const p of [traefik, kubeProxy, coreDns]) await p.stop();
  await stopNodeCluster(c, failed);
}
