// Installing CustomResourceDefinitions from YAML files into the test API server: one place for
// the Istio CRDs (istio-crds.ts) and the Gateway API CRDs (crds/gateway-api-crds.ts).
import { readFileSync } from 'node:fs';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { applyObjects } from './apply';
import { waitFor } from './wait';

/** The CRD documents of the given YAML files, in the order given (other kinds are skipped). */
export function crdObjectsFromFiles(files: readonly string[]): KubernetesObject[] {
  return files
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as KubernetesObject | null))
    .filter((o): o is KubernetesObject => o !== null && o.kind === 'CustomResourceDefinition');
}

/** Applies the CRDs as the harness and waits until the API server reports each Established. */
export async function installCrds(kc: KubeConfig, crds: readonly KubernetesObject[]): Promise<string[]> {
  await applyObjects(kc, [...crds], 'kservice-test-harness', { force: true });
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
