// Credentials of a ServiceAccount, so the runtime (or a test) talks to the API
// server with exactly the RBAC a manifest grants, not as admin.
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { writeKubeconfig } from './kubeconfig';

export interface ServiceAccountAccess {
  kubeConfig: KubeConfig;
  /** Kubeconfig file with the token, for a child process (KUBECONFIG=...). */
  kubeconfigPath: string;
  /** Bound token from the TokenRequest API (audience: the API server). */
  token: string;
}

export interface ServiceAccountTokenOptions {
  /** Token lifetime; the API server's minimum is 600. Default 3600. */
  expirationSeconds?: number;
}

/**
 * Requests a token for an existing ServiceAccount (TokenRequest API, as the
 * kubelet does for projected tokens) and writes a kubeconfig using it.
 */
export async function serviceAccountAccess(
  admin: KubeConfig,
  target: { server: string; caFile: string; dir: string },
  namespace: string,
  name: string,
  opts: ServiceAccountTokenOptions = {},
): Promise<ServiceAccountAccess> {
  const res = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = res.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const kubeconfigPath = join(target.dir, `sa-${namespace}-${name}.kubeconfig`);
  const user = `system:serviceaccount:${namespace}:${name}`;
  const kubeConfig = writeKubeconfig(kubeconfigPath, target.server, target.caFile, user, { token });
  return { kubeConfig, kubeconfigPath, token };
}
