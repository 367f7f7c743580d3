/**
 * Route traffic semantics, as Knative's knative/serving pkg/reconciler/route/traffic package resolves
 * `spec.traffic`: defaults, latestRevision resolution, and the per-name lists ('' plus each tag)
 * that the KIngress (and so the VirtualServices) are built from.
 */
import type { TrafficTargetProps } from './kservice-props';
import type { TrafficName, TrafficSplit } from './spec';

/** A traffic target with defaults applied and latestRevision resolved to a revision name. */
export interface ResolvedTarget {
  /** '' when untagged. */
  readonly tag: string;
  readonly revisionName: string;
  readonly percent: number;
  readonly latestRevision: boolean;
}

/** KService default: everything to the latest revision. */
export const DEFAULT_TRAFFIC: readonly TrafficTargetProps[] = [{ latestRevision: true, percent: 100 }];

export function resolveTargets(traffic: readonly TrafficTargetProps[] | undefined, latestRevisionName: string): ResolvedTarget[] {
  const targets = traffic && traffic.length > 0 ? traffic : DEFAULT_TRAFFIC;
  return targets.map((t) => {
    const latestRevision = t.latestRevision ?? t.revisionName === undefined;
    return {
      tag: t.tag ?? '',
      revisionName: latestRevision ? latestRevisionName : (t.revisionName ?? ''),
      percent: t.percent ?? 0,
      latestRevision,
    };
  });
}

/** How to address a traffic name: its host name and external host. */
export interface HostNaming {
  hostName(tag: string): string;
  externalHost(hostName: string): string | undefined;
  servicePort(revisionName: string): number;
}

/**
 * The per-name lists: '' holds every target (tagged ones too) consolidated by revision in
 * first-appearance order; each tag holds its one revision at 100%. '' first, then tags sorted.
 */
export function trafficNames(targets: readonly ResolvedTarget[], naming: HostNaming): TrafficName[] {
  const name = (tag: string, splits: TrafficSplit[]): TrafficName => {
    const hostName = naming.hostName(tag);
    return { tag, hostName, externalHost: naming.externalHost(hostName), splits };
  };
  const tagged = targets.filter((t) => t.tag !== '').sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return [
    name('', consolidate(targets, naming)),
    ...tagged.map((t) => name(t.tag, [split(t.revisionName, 100, t.latestRevision, naming)])),
  ];
}

function consolidate(targets: readonly ResolvedTarget[], naming: HostNaming): TrafficSplit[] {
  const byRevision = new Map<string, TrafficSplit>();
  for (const t of targets) {
    const seen = byRevision.get(t.revisionName);
    byRevision.set(
      t.revisionName,
      seen ? { ...seen, percent: seen.percent + t.percent } : split(t.revisionName, t.percent, t.latestRevision, naming),
    );
  }
  return [...byRevision.values()];
}

function split(revisionName: string, percent: number, latestRevision: boolean, naming: HostNaming): TrafficSplit {
  return { revisionName, percent, latestRevision, servicePort: naming.servicePort(revisionName) };
}
