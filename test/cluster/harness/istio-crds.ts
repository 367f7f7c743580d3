// The Istio networking CRDs (VirtualService, Gateway) that compiled manifests
// reference, installed so the API server validates those objects for real.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { applyObjects } from './apply';
import { waitFor } from './wait';

export const ISTIO_CRDS_FILE = join(__dirname, '..', 'crds', 'istio-networking.yaml');

export function istioCrdObjects(): KubernetesObject[] {
  return parseAllDocuments(readFileSync(ISTIO_CRDS_FILE, 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => o !== null);
}

/** Applies the CRDs and waits until the API server reports them Established. */
export async function installIstioCrds(kc: KubeConfig): Promise<string[]> {
  const crds = istioCrdObjects();
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
