/**
 * The simulated cluster: N revisions of PODS_PER_REVISION pods, spread over namespaces of
 * REVISIONS_PER_NAMESPACE, every revision in Proxy mode (target-burst-capacity -1) and pinned at
 * 10 pods (min = max scale). With two activators every revision lists both (a revision is spread
 * over at least 2, lib/runtime/autoscaler/kpa.ts numActivators), so the steady state needs no
 * write and replacing one activator rewrites every public Endpoints object.
 *
 * Addresses: pod g (revision r, pod p: g = r·10 + p) is 127.(1 + g>>16).(g>>8 & 255).(g & 255);
 * activators are 127.200.0.x. All of 127.0.0.0/8 reaches the loopback interface on Linux.
 */
import { AutoscalingAnnotations } from '../../lib/contract/autoscaling';
import { ACTIVATOR_SERVICE, CONFIG_AUTOSCALER, Labels, Ports, QUEUE_CONTAINER_NAME, SYSTEM_NAMESPACE } from '../../lib/contract/constants';
import { Names } from '../../lib/contract/naming';
import type { FakeApiServer, KubeObject } from './fake-api-server';

export const PODS_PER_REVISION = 10;
export const REVISIONS_PER_NAMESPACE = 1000;

export function podIp(g: number): string {
  return `127.${1 + (g >> 16)}.${(g >> 8) & 255}.${g & 255}`;
}

/** The pod index of a pod IP, or undefined for any other address. */
export function podIndexOf(ip: string): number | undefined {
  const m = /^(?:::ffff:)?127\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return undefined;
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (a < 1 || a > 199) return undefined;
  return ((a - 1) << 16) | (b << 8) | c;
}

export const activatorIp = (i: number): string => `127.200.0.${i + 1}`;

export function namespaceOf(r: number): string {
  return `scale-${Math.floor(r / REVISIONS_PER_NAMESPACE)}`;
}

export const revisionName = (r: number): string => `rev-${r}`;

export function namespaces(revisions: number): string[] {
  return Array.from({ length: Math.ceil(revisions / REVISIONS_PER_NAMESPACE) }, (_, i) => namespaceOf(i * REVISIONS_PER_NAMESPACE));
}

/** The public Endpoints subsets the autoscaler writes in Proxy mode (lib/runtime/autoscaler/public-endpoints.ts). */
export function proxySubsets(activators: readonly string[]): object[] {
  return [
    {
      addresses: [...activators].sort().map((ip) => ({ ip })),
      ports: [
        { name: 'http', port: Ports.QUEUE_HTTP, protocol: 'TCP' },
        { name: 'https', port: Ports.QUEUE_HTTPS, protocol: 'TCP' },
      ],
    },
  ];
}

/** Whether a public Endpoints object lists exactly these activators. */
export function listsActivators(obj: KubeObject | undefined, activators: readonly string[]): boolean {
  const subsets = (obj?.subsets ?? []) as Array<{ addresses?: Array<{ ip: string }> }>;
  const ips = subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
  return JSON.stringify(ips) === JSON.stringify([...activators].sort());
}

/** Fills the store: the system objects, then each revision's Deployment, private and public Endpoints. */
export function populate(api: FakeApiServer, revisions: number, activators: readonly string[]): void {
  api.put('configmaps', { metadata: { name: CONFIG_AUTOSCALER, namespace: SYSTEM_NAMESPACE }, data: {} });
  setActivators(api, activators);
  for (let r = 0; r < revisions; r++) {
    const namespace = namespaceOf(r);
    const revision = revisionName(r);
    api.put('deployments', deployment(namespace, revision));
    const pods = Array.from({ length: PODS_PER_REVISION }, (_, p) => ({ ip: podIp(r * PODS_PER_REVISION + p) }));
    api.put('endpoints', {
      metadata: { name: Names.privateService(revision), namespace, labels: endpointsLabels(revision) },
      subsets: [{ addresses: pods, ports: [{ name: 'http', port: Ports.QUEUE_HTTP, protocol: 'TCP' }] }],
    });
    api.put('endpoints', {
      metadata: { name: Names.publicService(revision), namespace, labels: endpointsLabels(revision) },
      subsets: proxySubsets(activators),
    });
  }
}

/** The runtime's informer selects revision Endpoints by the serverless-service label (lib/runtime/kube/informer.ts). */
function endpointsLabels(revision: string): Record<string, string> {
  return { [Labels.REVISION]: revision, [Labels.SERVERLESS_SERVICE]: revision };
}

export function setActivators(api: FakeApiServer, activators: readonly string[]): void {
  api.put('endpoints', {
    metadata: { name: ACTIVATOR_SERVICE, namespace: SYSTEM_NAMESPACE },
    subsets: [{ addresses: activators.map((ip) => ({ ip })), ports: [{ name: 'http', port: Ports.QUEUE_HTTP, protocol: 'TCP' }] }],
  });
}

function deployment(namespace: string, revision: string): KubeObject {
  const labels = { [Labels.REVISION]: revision };
  return {
    metadata: {
      name: `${revision}-deployment`,
      namespace,
      labels,
      generation: 2,
      annotations: {
        [AutoscalingAnnotations.MIN_SCALE]: String(PODS_PER_REVISION),
        [AutoscalingAnnotations.MAX_SCALE]: String(PODS_PER_REVISION),
        [AutoscalingAnnotations.TARGET_BURST_CAPACITY]: '-1',
      },
    },
    spec: {
      replicas: PODS_PER_REVISION,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            { name: 'user-container', image: 'app', ports: [{ containerPort: 8080 }] },
            { name: QUEUE_CONTAINER_NAME, image: 'runtime', env: [{ name: 'CONTAINER_CONCURRENCY', value: '0' }] },
          ],
        },
      },
    },
    status: { replicas: PODS_PER_REVISION, readyReplicas: PODS_PER_REVISION },
  };
}
