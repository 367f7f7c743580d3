// The Gateway API CRDs (standard channel v1.4.1, copied from the sigs.k8s.io/gateway-api module:
// crds/gateway-api/SOURCE.md), installed like the Istio ones so the API server validates
// Gateway-API-mode output with the real schemas and CEL rules, and Traefik's Gateway provider
// (which watches every standard kind, GRPCRoute and BackendTLSPolicy included) can sync.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { crdObjectsFromFiles, installCrds } from '../harness/crds';

export const GATEWAY_API_CRDS_DIR = join(__dirname, 'gateway-api');

export function gatewayApiCrdObjects(): KubernetesObject[] {
  const files = readdirSync(GATEWAY_API_CRDS_DIR).filter((f) => f.endsWith('.yaml')).sort();
  return crdObjectsFromFiles(files.map((f) => join(GATEWAY_API_CRDS_DIR, f)));
}

/** Applies the CRDs (as admin) and waits until the API server reports them Established. */
export function installGatewayApiCrds(kc: KubeConfig): Promise<string[]> {
  return installCrds(kc, gatewayApiCrdObjects());
}
