// Vitest wiring for tests that need running pods: the pod network first (the API server binds its
// host address), then the control plane, then the node agent; torn down in reverse in afterAll,
// which vitest runs also after failures. After a failed test the agent's log paths are printed and
// the files kept.
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane } from '../harness';
import { NodeAgent, type NodeAgentOptions } from './agent';
import { PodNetwork } from './network';

export interface NodeCluster {
  readonly controlPlane: ControlPlane;
  readonly network: PodNetwork;
  readonly agent: NodeAgent;
}

export interface NodeClusterOptions extends Pick<NodeAgentOptions, 'images' | 'probePeriodMs' | 'restartBackoffMs'> {}

/** Starts network, control plane and agent; on error stops what was started. */
export async function startNodeCluster(opts: NodeClusterOptions): Promise<NodeCluster> {
  const network = await PodNetwork.create();
  let controlPlane: ControlPlane | undefined;
  try {
    controlPlane = await startControlPlane({ bindAddress: network.hostIp });
    const agent = await NodeAgent.start({
      ...opts,
      kubeConfig: controlPlane.kubeConfig,
      network,
      podApiServer: { server: controlPlane.apiServerUrl, caFile: controlPlane.caFile },
    });
    return { controlPlane, network, agent };
  } catch (e) {
    await controlPlane?.stop({ keepDir: true });
    await network.destroy();
    throw e;
  }
}

const stopped = new WeakSet<NodeCluster>();

/** Stops agent (killing its pods), control plane and network. Idempotent. */
export async function stopNodeCluster(c: NodeCluster, failed: boolean): Promise<void> {
  if (stopped.has(c)) return;
  stopped.add(c);
  if (failed) {
    const bridgeGone = !(await c.network.leftovers()).includes(c.network.bridge);
    const warning = bridgeGone ? `\nWARNING: the pod network bridge ${c.network.bridge} vanished during the run (removed by another process?)\n` : '';
    process.stderr.write(`${warning}${c.agent.describeLogs()}\n${c.controlPlane.logTails(30)}\n`);
  }
  try {
    await c.agent.stop();
  } finally {
    await c.controlPlane.stop({ keepDir: failed || undefined });
    await c.network.destroy();
    if (!failed && process.env.KSERVICE_KEEP_CONTROL_PLANE !== '1') rmSync(c.agent.logDir, { recursive: true, force: true });
  }
}

/** Registers beforeAll/afterAll for one node cluster per test file; returns a getter. */
export function useNodeCluster(opts: NodeClusterOptions): () => NodeCluster {
  let cluster: NodeCluster | undefined;
  let failed = false;
  beforeAll(async () => {
    cluster = await startNodeCluster(opts);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(async () => {
    if (cluster) await stopNodeCluster(cluster, failed);
  });
  return () => {
    if (!cluster) throw new Error('node cluster not started (beforeAll failed?)');
    return cluster;
  };
}
