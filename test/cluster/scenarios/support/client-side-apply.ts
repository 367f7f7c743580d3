// Client-side apply by the real kubectl (the node build's, v1.36.3 like the control plane):
// `kubectl apply -f -` without --server-side, as users run it and as Argo CD runs it by default
// (gitops-engine pkg/utils/kube/resource_ops.go ApplyResource: kubectl's apply library, with
// Argo CD's manager name as fieldManager).
//
// kubectl creates a missing object with the kubectl.kubernetes.io/last-applied-configuration
// annotation holding the manifest, and patches an existing one with a three-way merge of
// last-applied, the manifest and the live object (a strategic merge patch for built-in kinds, a
// JSON merge patch for custom ones). An empty patch is not sent and is printed as `unchanged`
// (k8s.io/kubectl pkg/cmd/apply/patcher.go and apply.go), so the printed operation says whether
// kubectl wanted to change anything at all.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { findNodeBinaries } from '../../harness/node-binaries';

const run = promisify(execFile);

/** kubectl's default field manager for client-side apply (k8s.io/kubectl pkg/cmd/apply FieldManagerClientSideApply). */
export const KUBECTL_CLIENT_SIDE_APPLY = 'kubectl-client-side-apply';

export interface ClientSideApplied {
  /** As kubectl prints it: `<resource>.<group>/<name>`, e.g. `deployment.apps/hello`. */
  readonly name: string;
  /** kubectl's printed operation: `created`, `configured` (a patch was sent) or `unchanged` (none). */
  readonly operation: string;
}

/** The `<name> <operation>` lines kubectl apply prints, one per object, in order. */
export function parseApplyOutput(stdout: string): ClientSideApplied[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((line) => {
    const m = /^(\S+) (created|configured|unchanged)$/.exec(line.trim());
    if (!m) throw new Error(`unexpected line in kubectl apply output: ${JSON.stringify(line)}`);
    return { name: m[1], operation: m[2] };
  });
}

/**
 * `kubectl apply -f -` (client-side) of every object, in order, against the cluster of
 * `kubeconfigPath`; returns what kubectl did per object. Fails with kubectl's stderr if it does.
 */
export async function clientSideApply(
  cluster: { readonly kubeconfigPath: string },
  objects: readonly KubernetesObject[],
  fieldManager = KUBECTL_CLIENT_SIDE_APPLY,
): Promise<ClientSideApplied[]> {
  const { kubectl } = findNodeBinaries();
  // A fresh discovery cache per call, so CRDs installed meanwhile are seen and nothing is shared
  // with ~/.kube or with other runs.
  const cacheDir = mkdtempSync(join(tmpdir(), 'kubectl-cache-'));
  const manifests = objects.map((o) => stringify(o)).join('---\n');
  try {
    const child = run(kubectl, [
      `--kubeconfig=${cluster.kubeconfigPath}`, `--cache-dir=${cacheDir}`,
      'apply', '-f', '-', `--field-manager=${fieldManager}`,
    ], { maxBuffer: 16 * 1024 * 1024 });
    child.child.stdin!.end(manifests);
    const { stdout } = await child.catch((err: Error & { stderr?: string }) => {
      throw new Error(`kubectl apply (client-side, --field-manager=${fieldManager}) failed: ${err.stderr ?? err.message}`);
    });
    return parseApplyOutput(stdout);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
