// Installing CustomResourceDefinitions from YAML files into the test API server: one place for
// the Istio CRDs (istio-crds.ts), the Gateway API CRDs (crds/gateway-api-crds.ts) and the
// cert-manager CRDs (cert-manager.ts).
import { readFileSync } from 'node:fs';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { StrictApplier } from '../scenarios/support/strict-apply';
import { waitFor } from './wait';

const FIELD_MANAGER = 'kservice-test-harness';

/** The CRD documents of the given YAML files, in the order given (other kinds are skipped). */
export function crdObjectsFromFiles(files: readonly string[]): KubernetesObject[] {
  return files
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as KubernetesObject | null))
    .filter((o): o is KubernetesObject => o !== null && o.kind === 'CustomResourceDefinition');
}

/**
 * Applies the CRDs as the harness (server-side, strict field validation) and waits until the API
 * server reports each Established. Each CRD is sent as the raw JSON of its YAML (StrictApplier),
 * not through client-node's KubernetesObjectApi: that one serializes through its
 * V1CustomResourceDefinition model, which knows only `x_kubernetes_*` property names and so drops
 * every `x-kubernetes-*` key of a plain-YAML schema (CEL `x-kubernetes-validations`, list types,
 * `x-kubernetes-preserve-unknown-fields`), leaving the API server without the CRDs' CEL rules.
 */
export async function installCrds(kc: KubeConfig, crds: readonly KubernetesObject[]): Promise<string[]> {
  const applier = new StrictApplier(kc);
  for (const crd of crds) {
    const rejected = await applier.apply(crd, FIELD_MANAGER);
    if (rejected) throw new Error(`installing ${rejected.object}: HTTP ${rejected.status}: ${rejected.message}`);
  }
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
