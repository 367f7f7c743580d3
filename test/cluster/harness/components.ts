// Command lines and readiness checks of the three control-plane components.
// Everything listens on 127.0.0.1 only, on ports picked at start.
import { join } from 'node:path';
import type { ControlPlaneBinaries } from './binaries';
import { get } from './http';
import type { Pki } from './pki';
import { startProcess, type ManagedProcess } from './processes';
import { waitFor } from './wait';

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
/** First address of the range: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
}

function assertRunning(p: ManagedProcess): () => void {
  return () => {
    if (!p.running()) throw new Error(`${p.name} exited during startup; log ${p.logFile}:\n${p.logTail()}`);
  };
}

export async function startEtcd(bins: ControlPlaneBinaries, dir: string, ports: Ports): Promise<ManagedProcess> {
  const client = `http://127.0.0.1:${ports.etcdClient}`;
  const peer = `http://127.0.0.1:${ports.etcdPeer}`;
  const p = startProcess('etcd', bins.etcd, [
    '--name=kservice-test',
    `--data-dir=${join(dir, 'etcd-data')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=kservice-test=${peer}`,
    // Test data is thrown away: skipping fsync keeps a 2-core CI machine fast.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ], join(dir, 'etcd.log'));
  await waitFor('etcd /health', async () => {
    const r = await get(`${client}/health`);
    return r.status === 200 && JSON.parse(r.body).health === 'true';
  }, { abortIf: assertRunning(p) });
  return p;
}

export async function startApiserver(
  bins: ControlPlaneBinaries, dir: string, ports: Ports, pki: Pki, bindAddress = '127.0.0.1',
): Promise<ManagedProcess> {
  const p = startProcess('kube-apiserver', bins.kubeApiserver, [
    `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
    `--bind-address=${bindAddress}`,
    `--advertise-address=${bindAddress}`,
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    '--profiling=false',
  ], join(dir, 'kube-apiserver.log'));
  const tls = { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key };
  // /readyz covers etcd, informers and the post-start hooks, among them the
  // RBAC bootstrap policy that the controller manager's identity relies on.
  await waitFor('kube-apiserver /readyz', async () => {
    const r = await get(`https://${bindAddress}:${ports.apiserver}/readyz`, tls);
    return r.status === 200;
  }, { abortIf: assertRunning(p) });
  return p;
}

export async function startControllerManager(
  bins: ControlPlaneBinaries, dir: string, ports: Ports, pki: Pki, kubeconfig: string,
): Promise<ManagedProcess> {
  const p = startProcess('kube-controller-manager', bins.kubeControllerManager, [
    `--kubeconfig=${kubeconfig}`,
    // Delegated authn/authz of its own /metrics endpoint; without these it
    // tries in-cluster config and logs errors.
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    `--cert-dir=${join(dir, 'controller-manager-certs')}`,
    // All default controllers: deployment, replicaset, endpoints, endpointslice,
    // endpointslice-mirroring, serviceaccount(-token), namespace, garbage
    // collector, ... The cloud ones stay idle without --cloud-provider.
    '--controllers=*',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
    `--root-ca-file=${pki.ca.cert}`,
    `--cluster-signing-cert-file=${pki.ca.cert}`,
    `--cluster-signing-key-file=${pki.ca.key}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--leader-elect=false',
    '--profiling=false',
  ], join(dir, 'kube-controller-manager.log'));
  // /healthz is in the default always-allowed paths; the serving cert is
  // self-signed by the controller manager, hence no CA to verify against.
  await waitFor('kube-controller-manager /healthz', async () => {
    const r = await get(`https://127.0.0.1:${ports.controllerManager}/healthz`, { insecure: true });
    return r.status === 200;
  }, { abortIf: assertRunning(p) });
  return p;
}
