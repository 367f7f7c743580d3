// A container of an image the agent has unpacked (the runtime image, dist-image/runtime.tar): run
// as a container runtime runs it, not as a local process. Its root is an overlay of the image's
// root filesystem, read-only; it runs the image's entrypoint as the image's user with the image's
// Env under the pod's env; and the pod's ServiceAccount token is mounted where the kubelet mounts
// it, so the runtime finds the API server through in-cluster config, as on a real node.
import { copyFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { imageEnv, rootfsCommand, type UnpackedImage } from '../../support/runtime-image';

/** Where the kubelet mounts a pod's ServiceAccount token volume (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

interface ServiceAccountKubeconfig {
  clusters: { cluster: { server: string; 'certificate-authority': string } }[];
  users: { name: string; user: { token?: string } }[];
}

/**
 * The pod worker hands a pod its token as a kubeconfig (for local processes); for an image the
 * same token, CA and namespace become the files of the kubelet's projected volume (mode 0644, as
 * the kubelet's default, so the image's non-root user reads them), and the API server's address
 * becomes KUBERNETES_SERVICE_HOST/PORT, which the kubelet sets in every pod.
 */
function projectServiceAccount(kubeconfigPath: string, dir: string): Record<string, string> {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as ServiceAccountKubeconfig;
  const cluster = config.clusters[0]?.cluster;
  const user = config.users[0];
  const namespace = /^system:serviceaccount:([^:]+):/.exec(user?.name ?? '')?.[1];
  if (!cluster || !user?.user.token || !namespace) throw new Error(`${kubeconfigPath}: not a ServiceAccount token kubeconfig`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), user.user.token);
  writeFileSync(join(dir, 'namespace'), namespace);
  copyFileSync(cluster['certificate-authority'], join(dir, 'ca.crt'));
  for (const file of ['token', 'namespace', 'ca.crt']) chmodSync(join(dir, file), 0o644);
  chmodSync(dir, 0o755);
  const server = new URL(cluster.server);
  return { KUBERNETES_SERVICE_HOST: server.hostname.replace(/^\[|\]$/g, ''), KUBERNETES_SERVICE_PORT: server.port || '443' };
}

/**
 * Command and env that start `args` (e.g. `['queue-proxy']`) from `image`. `env` is the pod's: it
 * is laid over the image's Env, except the agent's PATH (the host's, meaningless in the image) and
 * KUBECONFIG (projected as above). `stateDir` is this container's own, emptied on every start: a
 * restarted container gets a fresh writable layer, as on a real node.
 */
export function imageContainerCommand(
  image: UnpackedImage,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  stateDir: string,
): { command: string; args: string[]; env: Record<string, string> } {
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const { PATH: _hostPath, KUBECONFIG: kubeconfig, ...podEnv } = env;
  const volumes: Record<string, string> = {};
  let apiServer: Record<string, string> = {};
  if (kubeconfig) {
    const dir = join(stateDir, 'serviceaccount');
    apiServer = projectServiceAccount(kubeconfig, dir);
    volumes[dir] = SERVICE_ACCOUNT_MOUNT;
  }
  const launch = rootfsCommand(image, args, { stateDir: join(stateDir, 'rootfs'), volumes });
  return { command: launch.command, args: launch.args, env: { ...imageEnv(image.config), ...apiServer, ...podEnv } };
}
