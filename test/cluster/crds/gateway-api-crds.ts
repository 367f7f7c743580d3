// The Gateway API CRDs (standard channel v1.4.1, copied from the sigs.k8s.io/gateway-api module:
// crds/gateway-api/SOURCE.md), installed like the Istio ones (harness/istio-crds.ts) so the API
// server validates Gateway-API-mode output with the real schemas and CEL rules.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { applyObjects } from '../harness/apply';
import { waitFor } from '../harness/wait';

export const GATEWAY_API_CRDS_DIR = join(__dirname, 'gateway-api');

export function gatewayApiCrdObjects(): KubernetesObject[] {
  return readdirSync(GATEWAY_API_CRDS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(GATEWAY_API_CRDS_DIR, f), 'utf8')).map((d) => d.toJS() as KubernetesObject | null))
    .filter((o): o is KubernetesObject => o !== null);
}

/** Applies the CRDs (as admin) and waits until the API server reports them Established. */
export async function installGatewayApiCrds(kc: KubeConfig): Promise<string[]> {
  const crds = gatewayApiCrdObjects();
  await applyObjects(kc, crds, 'kservice-test-harness', { force: true });
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const names = crds.map((c) => c.metadata!.name!);
  for (const name of names) {
    await waitFor(`CRD ${name} Established`, async () => {
      const crd = await api.readCustomResourceDefinition({ name });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
  return names;
}
