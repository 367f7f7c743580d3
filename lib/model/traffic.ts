/**
 * Route traffic semantics, as Knative's knative/serving pkg/reconciler/route/traffic package resolves
 * `spec.traffic`, checked as pkg/apis/serving/v1/route_validation.go checks it: each target is
 * defaulted, resolved (latestRevision to a revision name) and checked in one pass, and the per-name
 * lists ('' plus each tag) that the KIngress (and so the VirtualServices) are built from.
 */
import { isDns1035Label } from '../contract/naming';
import { FieldErrors, type Parsed } from '../problems';
import { DNS1035_LABEL_HINT, unknownRevisionMessage } from './knative-rules';
import type { TrafficTargetProps } from './kservice-props';
import type { TrafficName, TrafficSplit, TrafficTarget } from './spec';

/** KService default: everything to the latest revision. */
export const DEFAULT_TRAFFIC: readonly TrafficTargetProps[] = [{ latestRevision: true, percent: 100 }];

/**
 * The targets, defaulted and resolved, with their problems (relative to `traffic`): percents whole
 * and summing to 100, revisionName XOR latestRevision, known revisions, DNS-1035 unique tags. No
 * targets means the default (everything to the latest revision), which needs no check.
 */
export function parseTraffic(
  traffic: readonly TrafficTargetProps[] | undefined,
  latestRevisionName: string,
  known: ReadonlySet<string>,
): Parsed<TrafficTarget[]> {
  const written = traffic && traffic.length > 0 ? traffic : undefined;
  const targets = (written ?? DEFAULT_TRAFFIC).map((t): TrafficTarget => {
    const latestRevision = t.latestRevision ?? t.revisionName === undefined;
    return { tag: t.tag ?? '', revisionName: latestRevision ? latestRevisionName : (t.revisionName ?? ''), percent: t.percent ?? 0, latestRevision };
  });
  if (written === undefined) return { value: targets, errors: FieldErrors.none };
  const firstWithTag = new Map<string, number>();
  const perTarget = written.map((t, i) => targetErrors(t, i, known, firstWithTag).via(i));
  const sum = targets.reduce((total, t) => total + t.percent, 0);
  const errors = FieldErrors.none.also(...perTarget, sum === 100 ? undefined : FieldErrors.of(`percents must sum to 100, got ${sum}`));
  return { value: targets, errors };
}

function targetErrors(t: TrafficTargetProps, i: number, known: ReadonlySet<string>, firstWithTag: Map<string, number>): FieldErrors {
  const percent = t.percent ?? 0;
  let errors = FieldErrors.none;
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) errors = errors.also(FieldErrors.of(`must be a whole number from 0 to 100, got ${percent}`, 'percent'));
  if (t.revisionName !== undefined && t.latestRevision === true) {
    errors = errors.also(FieldErrors.of('set either revisionName or latestRevision: true, not both'));
  } else if (t.revisionName === undefined && t.latestRevision === false) {
    errors = errors.also(FieldErrors.of('may only be false when revisionName is set', 'latestRevision'));
  }
  if (t.revisionName !== undefined && !known.has(t.revisionName)) errors = errors.also(FieldErrors.of(unknownRevisionMessage(t.revisionName, known), 'revisionName'));
  if (t.tag !== undefined) errors = errors.also(tagErrors(t.tag, i, firstWithTag).via('tag'));
  return errors;
}

function tagErrors(tag: string, i: number, firstWithTag: Map<string, number>): FieldErrors {
  const first = firstWithTag.get(tag);
  if (first === undefined) firstWithTag.set(tag, i);
  return FieldErrors.none.also(
    isDns1035Label(tag) ? undefined : FieldErrors.of(`"${tag}" must be ${DNS1035_LABEL_HINT}`),
    // Says "traffic target N", not a field path: the CLI user's path is spec.traffic[N].
    first === undefined ? undefined : FieldErrors.of(`duplicate tag "${tag}" (traffic target ${first} has it too)`),
  );
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
export function trafficNames(targets: readonly TrafficTarget[], naming: HostNaming): TrafficName[] {
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

function consolidate(targets: readonly TrafficTarget[], naming: HostNaming): TrafficSplit[] {
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
