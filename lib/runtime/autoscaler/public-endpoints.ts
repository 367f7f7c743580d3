import { createHash } from 'node:crypto';
import type { V1EndpointSubset } from '@kubernetes/client-node';
import { Ports } from '../../contract/constants';
import type { EndpointsMode } from './scaler';

/**
 * The public Endpoints of a revision (knative/serving pkg/reconciler/serverlessservice/resources/services.go): activator IPs in Proxy mode, ready pod IPs
 * in Serve mode, always with ports http 8012 (http2 8013 for h2c) and https 8112.
 */

/** The mode actually written: no ready pod forces Proxy, no activator forces Serve. */
export function effectiveMode(wanted: EndpointsMode, readyPods: number, activators: number): EndpointsMode {
  if (readyPods === 0 && activators > 0) return 'Proxy';
  if (activators === 0) return 'Serve';
  return wanted;
}

export interface PublicEndpointsInput {
  readonly mode: EndpointsMode;
  readonly podIps: readonly string[];
  readonly activatorIps: readonly string[];
  /** How many activators a revision in Proxy mode is spread over (knative/serving pkg/reconciler/autoscaling/kpa/kpa.go). */
  readonly numActivators: number;
  /** Key for picking the activator subset: `namespace/revision`. */
  readonly subsetKey: string;
  readonly h2c: boolean;
}

export function publicEndpointsSubsets(input: PublicEndpointsInput): V1EndpointSubset[] {
  const ips =
    input.mode === 'Proxy' ? activatorSubset(input.activatorIps, input.numActivators, input.subsetKey) : [...input.podIps];
  if (ips.length === 0) return [];
  return [
    {
      addresses: ips.map((ip) => ({ ip })),
      ports: input.h2c
        ? [
            { name: 'http2', port: Ports.QUEUE_H2C, protocol: 'TCP' },
            { name: 'https', port: Ports.QUEUE_HTTPS, protocol: 'TCP' },
          ]
        : [
            { name: 'http', port: Ports.QUEUE_HTTP, protocol: 'TCP' },
            { name: 'https', port: Ports.QUEUE_HTTPS, protocol: 'TCP' },
          ],
    },
  ];
}

/**
 * `n` of the activators, stable for a given key while the activator set stays the same, and
 * moving as few revisions as possible when it changes (rendezvous hashing; Knative uses a
 * consistent-hash ring keyed on the revision for the same purpose). All of them when there are
 * no more than `n`. Returned sorted, so the written object does not churn.
 */
export function activatorSubset(ips: readonly string[], n: number, key: string): string[] {
  if (ips.length <= n) return [...ips].sort();
  const score = (ip: string) => createHash('sha1').update(`${key}\u0000${ip}`).digest().readUInt32BE(0);
  return [...ips]
    .sort((a, b) => score(b) - score(a) || (a < b ? -1 : 1))
    .slice(0, n)
    .sort();
}

/** Whether two subset lists carry the same addresses and ports (order-insensitive). */
export function sameSubsets(a: readonly V1EndpointSubset[] | undefined, b: readonly V1EndpointSubset[]): boolean {
  return canonical(a ?? []) === canonical(b);
}

function canonical(subsets: readonly V1EndpointSubset[]): string {
  const addresses = subsets.flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
  const ports = subsets
    .flatMap((s) => (s.ports ?? []).map((p) => `${p.name ?? ''}:${p.port}`))
    .sort()
    .filter((p, i, all) => all.indexOf(p) === i);
  return JSON.stringify([addresses, addresses.length > 0 ? ports : []]);
}
