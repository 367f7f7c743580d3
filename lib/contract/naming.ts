import { createHash } from 'node:crypto';
import { AUTOSCALER_BUCKET_PREFIX, AUTOSCALER_LEASE } from './constants';

/** Kubernetes object names (DNS-1123 labels) are at most this long. */
export const MAX_NAME_LENGTH = 63;
const MD5_HEX_LENGTH = 32;

/**
 * Knative's `kmeta.ChildName`: `parent + suffix` when it fits in 63 characters; otherwise the
 * parent is cut short and the md5 of the whole parent is put before the suffix, so that long names
 * are shortened deterministically instead of being rejected (knative/pkg kmeta/names.go).
 */
export function childName(parent: string, suffix: string): string {
  const whole = parent + suffix;
  if (whole.length <= MAX_NAME_LENGTH) return whole;
  const head = MAX_NAME_LENGTH - MD5_HEX_LENGTH; // 31
  const keep = head - suffix.length;
  if (keep > 0) return parent.slice(0, keep) + md5Hex(parent) + suffix;
  // A suffix of 31+ characters: hash everything, then fill up with the start of the suffix.
  let name = parent.slice(0, head) + md5Hex(whole);
  name += suffix.slice(0, Math.max(0, MAX_NAME_LENGTH - name.length));
  return trimTrailingNonAlphanumerics(name);
}

function md5Hex(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

function trimTrailingNonAlphanumerics(s: string): string {
  return s.replace(/[^a-z0-9]+$/i, '');
}

/**
 * Names of every object in a revision's and a route's part of the graph (knative/serving
 * pkg/reconciler/revision/resources/names/names.go, pkg/reconciler/serverlessservice/resources/names/names.go;
 * knative-extensions/net-istio pkg/reconciler/ingress/resources/names/names.go).
 */
export const Names = {
  /** `NAME-00001` for generation 1. */
  revision: (serviceName: string, generation: number) =>
    childName(serviceName, `-${String(generation).padStart(5, '0')}`),
  deployment: (revision: string) => childName(revision, '-deployment'),
  privateService: (revision: string) => childName(revision, '-private'),
  /** The public Service and its Endpoints share the revision's name. */
  publicService: (revision: string) => revision,
  podAutoscaler: (revision: string) => revision,
  ingressVirtualService: (route: string) => childName(route, '-ingress'),
  meshVirtualService: (route: string) => childName(route, '-mesh'),
} as const;

/**
 * The generation of a revision name as Knative generates it (`Names.revision`: `%05d`, so five
 * digits or more, and hash-shortened for a long service name), else undefined. The name must come
 * back from its own generation, so `NAME-012345` or another service's name is not one.
 */
export function generationOfRevisionName(serviceName: string, revisionName: string): number | undefined {
  const digits = /-(\d{5,})$/.exec(revisionName)?.[1];
  if (digits === undefined) return undefined;
  const generation = Number(digits);
  return Names.revision(serviceName, generation) === revisionName ? generation : undefined;
}

/** Also the pattern of the schemas' DNS labels (model/schema/builders.ts dnsLabel). */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && DNS1123_LABEL.test(s);
}

export function isDns1035Label(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && DNS1035_LABEL.test(s);
}

/** Bucket `ordinal` of `total` as Knative names them: `prefix-NN-of-MM`, two digits at least, lower case. */
export function bucketName(prefix: string, ordinal: number, total: number): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${prefix}-${pad(ordinal)}-of-${pad(total)}`.toLowerCase();
}

/** Every bucket name of a set of `total`. */
export function bucketNames(prefix: string, total: number): string[] {
  if (!Number.isInteger(total) || total < 1) throw new Error(`bucket count must be a whole number ≥ 1, got ${total}`);
  return Array.from({ length: total }, (_, i) => bucketName(prefix, i, total));
}

/**
 * The autoscaler's bucket Leases. One bucket keeps the leader Lease's name, so replicas of an
 * earlier version (which elect a leader on it) and of this one never both write.
 */
export function autoscalerBucketLeases(total: number): string[] {
  return total === 1 ? [AUTOSCALER_LEASE] : bucketNames(AUTOSCALER_BUCKET_PREFIX, total);
}
