/**
 * The token that closes the queue-proxy's `/wait-for-drain` to everyone but the pod's own preStop
 * hook (DRAIN_TOKEN_HEADER on the hook's httpGet, DRAIN_TOKEN_ENV on the queue-proxy).
 *
 * Threat model: the admin port (8022) is reachable by anything that can reach the pod's IP (other
 * pods, in a cluster without NetworkPolicies); without a token, any of them could make a revision
 * fail readiness. The token is not a secret from whoever can read the Deployment (it is in the
 * pod spec twice, as the kubelet must send it); it only has to be unguessable from public facts
 * such as the revision's namespace and name. Output stays deterministic (same input, same
 * manifests): the token is HMAC-SHA256 over `namespace/name`, keyed by a SHA-256 of the whole
 * revision spec (containers, images, env, pod fields, annotations), or by `secret` when one is
 * given, for specs that are themselves public.
 */
import { createHash, createHmac } from 'node:crypto';
import type { RevisionSpec } from './spec';

/** Hex characters kept: 128 bits. */
const TOKEN_LENGTH = 32;

export function drainToken(rev: RevisionSpec, secret?: string): string {
  const key = secret ?? createHash('sha256').update(stableJson(rev)).digest();
  return createHmac('sha256', key).update(`${rev.namespace}/${rev.name}`).digest('hex').slice(0, TOKEN_LENGTH);
}

/** JSON with object keys sorted, so equal specs hash equal whatever the key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
