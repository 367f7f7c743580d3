/**
 * The data-plane modes (lib/contract/autoscaling.ts DataPlaneModes) side by side, each as the
 * measured path it is on the request path. `full` is two paths: Knative keeps the activator in
 * front of the pods while the revision's excess burst capacity is negative (always at zero; with
 * the default target-burst-capacity of 200 until the ready pods have 200 requests of spare
 * capacity: knative/serving pkg/autoscaler/scaling/autoscaler.go, our lib/runtime/autoscaler/kpa.ts),
 * and takes it out once serving (queue-proxy alone).
 */
import { DataPlaneModes, type DataPlaneMode } from '../../lib/contract/data-plane';
import type { PathId } from './paths';
import type { PathSummary } from './run';

export interface ModeRow {
  readonly mode: DataPlaneMode;
  /** When this path is the mode's request path. */
  readonly when: string;
  readonly path: PathId;
  readonly pathLabel: string;
  readonly skipped?: string;
  readonly addedP95Ms?: number;
  readonly saturationRps?: number;
  /** Peak RSS of the proxies that run in every pod (the queue-proxy); 0 when the pod has none. */
  readonly perPodProxyRssMiB?: number;
  /** Peak RSS of the proxies all pods share (the activator); 0 when none is on the path. */
  readonly sharedProxyRssMiB?: number;
  /** CPU seconds of every proxy on the path per 1,000 requests at the fixed rate; 0 without a proxy. */
  readonly cpuSecondsPer1k?: number;
}

export const MODE_PATHS: readonly { readonly mode: DataPlaneMode; readonly when: string; readonly path: PathId }[] = [
  { mode: DataPlaneModes.FULL, when: 'zero and low scale (excess burst capacity < 0): activator + queue-proxy', path: 'activator' },
  { mode: DataPlaneModes.FULL, when: 'serving (excess burst capacity ≥ 0): queue-proxy alone', path: 'queue-proxy' },
  { mode: DataPlaneModes.ACTIVATOR, when: 'always: the shared activator → app, no sidecar', path: 'mode-activator' },
  { mode: DataPlaneModes.DIRECT, when: 'always: no proxy', path: 'mode-direct' },
];

export function modeRows(paths: readonly PathSummary[]): ModeRow[] {
  return MODE_PATHS.map(({ mode, when, path }) => {
    const p = paths.find((q) => q.id === path);
    const base = { mode, when, path, pathLabel: p?.label ?? path };
    if (!p || p.skipped) return { ...base, skipped: p?.skipped ?? 'path not measured' };
    const noProxy = p.runs.every((r) => Object.keys(r.proxyPeakRssMiB).length === 0);
    return {
      ...base,
      addedP95Ms: p.addedP95Ms,
      saturationRps: p.saturationRps,
      perPodProxyRssMiB: p.perPodProxyRssMiB,
      sharedProxyRssMiB: p.sharedProxyRssMiB,
      cpuSecondsPer1k: noProxy ? 0 : p.cpuSecondsPer1k,
    };
  });
}
