// The test-only node agent (a kubelet stand-in for the cluster suite): see README.md.
export { NodeAgent, type NodeAgentOptions } from './agent';
export { PodNetwork, assertCanManageNetwork, type PodNetworkOptions, type PodSandbox } from './network';
export { runtimeImage, testAppImage, ruleFor, RUNTIME_BUNDLE, TEST_APP, REPO_ROOT, type ImageRule } from './images';
export { PodWorker } from './pod-worker';
export { runProbe, KUBE_PROBE_USER_AGENT } from './probes';
export { resolveContainerEnv, expandReferences, parseQuantity } from './env';
