// A process that starts a control plane and a real node running one revision pod, prints
// `READY <control-plane dir> <node dir> <pid,pid,...>` (the host PIDs of the pod's containerd tasks) and waits
// to be killed: scenarios/real-node-crash.test.ts SIGKILLs it to check what the next run cleans up.
// Run as `node --import tsx test/cluster/harness/real-node-child.ts` (one process).
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { ensureRuntimeImage } from '../../support/runtime-image';
import { startControlPlane } from './control-plane';
import { startRealNode } from './real-node';
import { compiledRevisionDeployment } from './real-node-revision';
import { buildTestAppImage } from './test-app-image';
import { waitFor } from './wait';

async function main(): Promise<void> {
  const cp = await startControlPlane();
  const tar = ensureRuntimeImage();
  const node = await startRealNode(cp);
  const runtime = await node.importImage(tar);
  const app = await node.importImage(buildTestAppImage(tar, join(cp.dir, 'images')).path);
  await cp.applyObjects([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'crash' } }], 'real-node-child');
  await cp.applyObjects([compiledRevisionDeployment({ namespace: 'crash', service: 'hello', runtime, app }) as never], 'kservice');
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  await waitFor('the revision pod running', async () => (await core.listNamespacedPod({ namespace: 'crash' })).items
    .some((p) => p.status?.containerStatuses?.length === 2 && p.status.containerStatuses.every((s) => s.state?.running)), { timeoutMs: 120_000 });
  const pids = (await node.ctr('tasks', 'ls')).split('\n').slice(1).map((l) => Number(l.split(/\s+/)[1])).filter((p) => p > 0);
  process.stdout.write(`READY ${cp.dir} ${node.dir} ${pids.join(',')}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
