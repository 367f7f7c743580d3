// The cold-start measurement of the benchmark, on the real control plane (issue 5): the fixture of
// test/cluster/scenarios (etcd, kube-apiserver, kube-controller-manager, the node agent as kubelet,
// the compiled ServingSystem) with one KService that starts at zero, and the harness's exported
// `measureColdStart`. Each sample starts from a fresh scale to zero: we wait until the autoscaler
// has taken the revision to zero pods, then send one request to an activator pod.
// Started by bench/coldstart/run.ts, which passes BENCH_COLDSTART_SAMPLES and BENCH_COLDSTART_OUT
// and reads the JSON written there. Not part of `npm test` (vitest.config.ts includes test/ only).
import { existsSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { Labels } from '../../lib/constants';
import { KService } from '../../lib/constructs/kservice';
import { waitFor } from '../../test/cluster/harness/wait';
import { measureColdStart } from '../../test/cluster/scenarios/support/cold-start';
import { activatorPods, listPods, TEST_IMAGE, useServingCluster } from '../../test/cluster/scenarios/support/serving';
import type { ColdStartSample } from './samples';

const NS = 'bench';
const SERVICE = 'cold';
const REVISION = `${SERVICE}-00001`;
/** The autoscaler decides within seconds (stable window 6 s, grace 1 s); the wait is bounded anyway. */
const SCALE_TO_ZERO_TIMEOUT_MS = 120_000;

const samples = Number(process.env.BENCH_COLDSTART_SAMPLES ?? 3);
const outFile = process.env.BENCH_COLDSTART_OUT;
/** The bench creates this file when the machine is quiet again (it runs the memory window meanwhile). */
const goFile = process.env.BENCH_COLDSTART_GO;
const GO_TIMEOUT_MS = 15 * 60_000;

const cluster = useServingCluster({
  // Back to zero sooner between samples (the scale-down is not what we measure): the fixture's
  // 6 s stable window (Knative's minimum) stays, the grace period after it is cut to 1 s.
  autoscaler: { scaleToZeroGracePeriodSeconds: 1 },
  services: (chart, config) => {
    new KService(chart, SERVICE, {
      namespace: NS,
      config,
      containers: [{ image: TEST_IMAGE }],
      autoscaling: { initialScale: 0, maxScale: 1, targetBurstCapacity: 0 },
    });
  },
});

async function waitForZeroPods(): Promise<void> {
  const core = cluster().core;
  await waitFor(`${REVISION} at zero pods`, async () => (await listPods(core, NS, `${Labels.REVISION}=${REVISION}`)).length === 0, { timeoutMs: SCALE_TO_ZERO_TIMEOUT_MS });
}

it(`measures ${samples} cold starts, each from a fresh scale to zero`, async () => {
  process.stderr.write('coldstart: cluster ready\n');
  if (goFile) await waitFor(`the bench's go signal (${goFile})`, () => existsSync(goFile), { timeoutMs: GO_TIMEOUT_MS, intervalMs: 100 });
  const results: ColdStartSample[] = [];
  for (let i = 1; i <= samples; i++) {
    await waitForZeroPods();
    const activatorIP = (await activatorPods(cluster()))[0]?.status?.podIP;
    expect(activatorIP, 'a ready activator pod').toBeTruthy();
    const { response, ...m } = await measureColdStart({ core: cluster().core, agent: cluster().agent, namespace: NS, revision: REVISION, activatorIP: activatorIP! });
    expect(response.status).toBe(200);
    results.push(m);
    process.stderr.write(`coldstart: sample ${i}/${samples}: request-to-response ${m.requestToResponseMs.toFixed(0)} ms, app start-to-ready ${m.appStartToReadyMs} ms, overhead ${m.overheadMs.toFixed(0)} ms\n`);
    if (outFile) writeFileSync(outFile, JSON.stringify(results));
  }
  expect(results).toHaveLength(samples);
});
