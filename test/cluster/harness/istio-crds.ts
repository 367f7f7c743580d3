// The Istio networking CRDs (VirtualService, Gateway) that compiled manifests
// reference, installed so the API server validates those objects for real.
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { crdObjectsFromFiles, installCrds } from './crds';

export const ISTIO_CRDS_FILE = join(__dirname, '..', 'crds', 'istio-networking.yaml');

export function istioCrdObjects(): KubernetesObject[] {
  return crdObjectsFromFiles([ISTIO_CRDS_FILE]);
}

/** Applies the CRDs and waits until the API server reports them Established. */
export function installIstioCrds(kc: KubeConfig): Promise<string[]> {
  return installCrds(kc, istioCrdObjects());
}
