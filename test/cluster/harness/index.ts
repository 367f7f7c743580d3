// The control-plane harness for test/cluster/**: see test/cluster/README.md.
export { startControlPlane, type ControlPlane, type StartOptions } from './control-plane';
export { useControlPlane } from './lifecycle';
export { applyObjects, type ApplyOptions } from './apply';
export { installIstioCrds, istioCrdObjects, ISTIO_CRDS_FILE } from './istio-crds';
export { installCertManagerCrds, startCertManager, type CertManagerProcess } from './cert-manager';
export type { ServiceAccountAccess, ServiceAccountTokenOptions } from './service-accounts';
export { findBinaries, ensureBinaries, binaryDir, pinnedVersions, type ControlPlaneBinaries } from './binaries';
export { SERVICE_CLUSTER_IP_RANGE, SERVICE_ACCOUNT_ISSUER, KUBERNETES_SERVICE_IP } from './components';
export { livePids, type ManagedProcess } from './processes';
export { waitFor, type WaitOptions } from './wait';
