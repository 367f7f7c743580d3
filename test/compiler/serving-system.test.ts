import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { AutoscalingClass, DataPlane, KService, ServingSystem, ValidationError } from '../../lib';
import { canary, hello } from '../../examples/charts';
import { find, synthChart, synthExamples, type Manifest } from './support/synth';
import { IMAGE } from './support/spec';

function systemApp(build: (app: App) => void, props = {}): { app: App; system: Manifest[] } {
  const app = new App();
  const chart = new Chart(app, 'system');
  new ServingSystem(chart, 'serving', props);
  build(app); // services added after the ServingSystem still count
  return { app, system: synthChart(chart) };
}

const READ = ['get', 'list', 'watch'];

describe('RBAC computed from the graph', () => {
  it('canary: exact namespaced writes; cluster-wide only reads of Deployments and Endpoints', () => {
    const { system } = systemApp((app) => canary(app));
    const roles = system.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding' || o.kind.startsWith('Cluster'));
    expect(roles.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'ClusterRole undefined/kservice-runtime-read',
      'ClusterRoleBinding undefined/kservice-runtime-read',
      'Role shop/kservice-autoscaler',
      'RoleBinding shop/kservice-autoscaler',
      'Role knative-serving/kservice-autoscaler-system',
      'RoleBinding knative-serving/kservice-autoscaler-system',
      'Role knative-serving/kservice-activator-system',
      'RoleBinding knative-serving/kservice-activator-system',
    ]);
    expect(find(system, 'ClusterRole', 'kservice-runtime-read').rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments'], verbs: READ },
      { apiGroups: [''], resources: ['endpoints'], verbs: READ },
    ]);
    expect(find(system, 'ClusterRoleBinding', 'kservice-runtime-read')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kservice-runtime-read' },
      subjects: [
        { kind: 'ServiceAccount', name: 'activator', namespace: 'knative-serving' },
        { kind: 'ServiceAccount', name: 'autoscaler', namespace: 'knative-serving' },
      ],
    });
    expect(find(system, 'Role', 'kservice-autoscaler').rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch', 'update'], resourceNames: ['shop-00001-deployment', 'shop-00002-deployment'] },
      { apiGroups: [''], resources: ['endpoints'], verbs: ['create', 'get', 'update', 'patch'], resourceNames: ['shop-00001', 'shop-00002'] },
    ]);
    expect(find(system, 'Role', 'kservice-autoscaler-system').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'], resourceNames: ['kservice-autoscaler'] },
      { apiGroups: [''], resources: ['endpoints'], verbs: READ, resourceNames: ['activator-service', 'autoscaler'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: READ, resourceNames: ['config-autoscaler'] },
    ]);
    expect(find(system, 'Role', 'kservice-activator-system').rules).toEqual([
      { apiGroups: [''], resources: ['endpoints'], verbs: READ, resourceNames: ['activator-service', 'autoscaler'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: READ, resourceNames: ['config-autoscaler'] },
    ]);
    expect(find(system, 'RoleBinding', 'kservice-autoscaler')).toMatchObject({
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kservice-autoscaler' },
      subjects: [{ kind: 'ServiceAccount', name: 'autoscaler', namespace: 'knative-serving' }],
    });
  });

  it('leaves out writes the runtime does not do: HPA, third-party-class and static revisions are not scaled, static ones keep their Endpoints', () => {
    const { system } = systemApp((app) => {
      new KService(new Chart(app, 'a'), 'h', { containers: [{ image: IMAGE }], autoscaling: { class: AutoscalingClass.HPA } });
      new KService(new Chart(app, 'b'), 's', { containers: [{ image: IMAGE }], dataPlane: DataPlane.STATIC, autoscaling: { minScale: 1 } });
      new KService(new Chart(app, 'c'), 'k', { containers: [{ image: IMAGE }], autoscaling: { class: AutoscalingClass.of('keda.example.com') } });
      new KService(new Chart(app, 'd'), 'p', { containers: [{ image: IMAGE }] });
    });
    expect(find(system, 'Role', 'kservice-autoscaler').rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch', 'update'], resourceNames: ['p-00001-deployment'] },
      { apiGroups: [''], resources: ['endpoints'], verbs: ['create', 'get', 'update', 'patch'], resourceNames: ['h-00001', 'k-00001', 'p-00001'] },
    ]);
  });

  it('no namespace list in the runtime env (it watches all namespaces by label); a write Role per namespace with revisions, sorted; extraNamespaces adds nothing', () => {
    const { system } = systemApp((app) => { hello(app); canary(app); }, { extraNamespaces: ['extra'] });
    for (const name of ['activator', 'autoscaler']) {
      const env = (find(system, 'Deployment', name) as any).spec.template.spec.containers[0].env;
      expect(env).toEqual([
        { name: 'SYSTEM_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
      ]);
    }
    expect(system.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'default/kservice-autoscaler', 'shop/kservice-autoscaler', 'knative-serving/kservice-autoscaler-system', 'knative-serving/kservice-activator-system',
    ]);
  });
});

describe('system objects', () => {
  const { system } = systemApp((app) => hello(app));

  it('activator and autoscaler Deployments, Services and PDBs', () => {
    const activator = find(system, 'Deployment', 'activator') as any;
    expect(activator.spec.replicas).toBe(2);
    expect(activator.metadata.labels).toEqual({ app: 'activator', role: 'activator' });
    const c = activator.spec.template.spec.containers[0];
    expect([c.image, c.args]).toEqual(['ghcr.io/cdk8s-kservice/runtime:0.1.0', ['activator']]);
    expect(c.ports).toEqual([
      { name: 'http1', containerPort: 8012 },
      { name: 'h2c', containerPort: 8013 },
      { name: 'metrics', containerPort: 9090 },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 8012, httpHeaders: [{ name: 'K-Network-Probe', value: 'activator' }] });
    expect((find(system, 'Service', 'activator-service') as any).spec.ports).toEqual([
      { name: 'http-metrics', port: 9090, targetPort: 9090 },
      { name: 'http', port: 80, targetPort: 8012 },
      { name: 'http2', port: 81, targetPort: 8013 },
      { name: 'https', port: 443, targetPort: 8112 },
    ]);
    const autoscaler = find(system, 'Deployment', 'autoscaler') as any;
    expect(autoscaler.spec.replicas).toBe(2);
    expect(autoscaler.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort)).toEqual([8080, 9090]);
    expect((find(system, 'PodDisruptionBudget', 'activator-pdb') as any).spec.minAvailable).toBe('80%');
    expect((find(system, 'PodDisruptionBudget', 'autoscaler-pdb') as any).spec.minAvailable).toBe(1);
    expect(system.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name)).toEqual(['activator', 'autoscaler']);
  });

  it('gateways and the local gateway Service', () => {
    expect((find(system, 'Gateway', 'knative-ingress-gateway') as any).spec.servers[0].port).toEqual({ number: 80, name: 'http', protocol: 'HTTP' });
    expect((find(system, 'Gateway', 'knative-local-gateway') as any).spec.servers[0].port).toEqual({ number: 8081, name: 'http', protocol: 'HTTP' });
    const local = find(system, 'Service', 'knative-local-gateway') as any;
    expect(local.metadata).toEqual({
      name: 'knative-local-gateway',
      namespace: 'istio-system',
      labels: { 'experimental.istio.io/disable-gateway-port-translation': 'true' },
    });
    expect(local.spec.ports).toEqual([{ name: 'http2', port: 80, targetPort: 8081 }, { name: 'https', port: 443, targetPort: 8444 }]);
  });

  it('config-autoscaler carries Knative keys and configured values', () => {
    const { system: tuned } = systemApp(() => undefined, { config: { autoscaler: { stableWindowSeconds: 30, targetBurstCapacity: 0 } } });
    const data = (find(tuned, 'ConfigMap', 'config-autoscaler') as any).data;
    expect(data['stable-window']).toBe('30s');
    expect(data['target-burst-capacity']).toBe('0');
    expect(data['container-concurrency-target-default']).toBe('100');
  });

  it('custom gateways are not emitted (they already exist)', () => {
    const { system: custom } = systemApp(() => undefined, { config: { localGatewayService: 'cluster-local-gateway.gke-system.svc.cluster.local' } });
    expect(custom.some((o) => o.metadata.name === 'knative-local-gateway' && o.kind === 'Service')).toBe(false);
  });

  it('rejects bad props with the field named', () => {
    expect(() => new ServingSystem(new Chart(new App(), 'c'), 's', { activatorReplicas: 0 })).toThrow(ValidationError);
    expect(() => new ServingSystem(new Chart(new App(), 'c'), 's', { activatorReplicas: 0 })).toThrow(/activatorReplicas: must be a whole number of at least 1, got 0/);
  });
});

/** Pod Security Standards "restricted" rules (kubernetes.io/docs/concepts/security/pod-security-standards). */
function restrictedViolations(pod: any): string[] {
  const out: string[] = [];
  const podSc = pod.securityContext ?? {};
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (pod[field]) out.push(`${field} set`);
  for (const v of pod.volumes ?? []) if (v.hostPath) out.push(`hostPath volume ${v.name}`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {};
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    if (nonRoot !== true) out.push(`${c.name}: runAsNonRoot must be true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) out.push(`${c.name}: runAsUser 0`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation must be false`);
    if (sc.privileged) out.push(`${c.name}: privileged`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) out.push(`${c.name}: capabilities must drop ALL`);
    const add: string[] = sc.capabilities?.add ?? [];
    if (add.some((cap) => cap !== 'NET_BIND_SERVICE')) out.push(`${c.name}: adds capabilities ${add}`);
    const seccomp = (sc.seccompProfile ?? podSc.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile must be RuntimeDefault or Localhost`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${c.name}: hostPort`);
  }
  return out;
}

describe('Pod Security "restricted"', () => {
  const all = synthExamples();
  const systemPods = all['serving-system'].filter((o) => o.kind === 'Deployment').map((d: any) => [d.metadata.name, d.spec.template.spec] as const);

  it('covers both system Deployments', () => {
    expect(systemPods.map(([n]) => n)).toEqual(['activator', 'autoscaler']);
  });

  for (const [name, pod] of systemPods) {
    it(`${name}: pod and every container meet the profile`, () => {
      expect(restrictedViolations(pod)).toEqual([]);
      for (const c of pod.containers) expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    });
  }

  it('every queue-proxy sidecar meets the container rules', () => {
    const sidecars = Object.values(all).flat().filter((o) => o.kind === 'Deployment' && o.metadata.namespace !== 'knative-serving')
      .map((d: any) => d.spec.template.spec.containers.find((c: any) => c.name === 'queue-proxy'))
      .filter((qp) => qp !== undefined); // data-plane modes activator and direct have none
    expect(sidecars.length).toBeGreaterThanOrEqual(6);
    for (const qp of sidecars) expect(restrictedViolations({ containers: [qp] })).toEqual([]);
  });

  it('the checker catches violations', () => {
    expect(restrictedViolations({ containers: [{ name: 'x', securityContext: { allowPrivilegeEscalation: true } }] })).toEqual([
      'x: runAsNonRoot must be true',
      'x: allowPrivilegeEscalation must be false',
      'x: capabilities must drop ALL',
      'x: seccompProfile must be RuntimeDefault or Localhost',
    ]);
  });

  it('user containers pass through as written', () => {
    const app = new App();
    const chart = new Chart(app, 'u');
    new KService(chart, 'u', { containers: [{ image: IMAGE, securityContext: { runAsUser: 1000 } }] });
    const d: any = synthChart(chart).find((o) => o.kind === 'Deployment');
    expect(d.spec.template.spec.containers[0].securityContext).toEqual({ runAsUser: 1000 });
  });
});
