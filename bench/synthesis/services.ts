/**
 * The synthesis workload: N services with two revisions each, 90% pinned to the first, 10% to
 * the latest, which is also tagged `candidate` (the canary shape of examples/charts.ts).
 */
export const BENCH_NAMESPACE = 'bench';
export const CANDIDATE_TAG = 'candidate';

export interface ServiceShape {
  readonly name: string;
  readonly oldRevision: string;
  readonly newRevision: string;
  readonly oldImage: string;
  readonly newImage: string;
}

export function serviceShape(index: number): ServiceShape {
  const name = `svc-${index}`;
  return {
    name,
    oldRevision: `${name}-00001`,
    newRevision: `${name}-00002`,
    oldImage: `ghcr.io/example/app-${index}:1.0.0`,
    newImage: `ghcr.io/example/app-${index}:2.0.0`,
  };
}
