/**
 * The token that closes the queue-proxy's `/wait-for-drain` to everyone but the pod's own preStop
 * hook (DRAIN_TOKEN_HEADER on the hook's httpGet, DRAIN_TOKEN_ENV on the queue-proxy).
 *
 * Threat model: the admin port (8022) is reachable by anything that can reach the pod's IP (other
 * pods, in a cluster without NetworkPolicies); without a token, any of them could make a revision
 * fail readiness. The token is not a secret from whoever can read the Deployment (it is in the
 * pod spec twice, as the kubelet must send it); it only has to be unguessable from public facts
 * such as the revision's namespace and name. Output stays deterministic (same input, same
 * manifests): the token is HMAC-SHA256 over `namespace/name`, keyed by a SHA-256 of the user's
 * pod template (containers with their images and env, pod fields, template labels and
 * annotations), or by `secret` when one is given, for templates that are themselves public. Only
 * what is in the pod template anyway goes into the key, so a change elsewhere (config-autoscaler
 * defaults, the progress deadline) never changes the token and restarts the pods.
 */
import { createHash, createHmac } from 'node:crypto';
import type { RevisionSpec } from '../model/spec';

/** Hex characters kept: 128 bits. */
const TOKEN_LENGTH = 32;

export function drainToken(rev: RevisionSpec, secret?: string): string {
  const template = { containers: rev.containers, pod: rev.pod, labels: rev.templateLabels, annotations: rev.templateAnnotations };
  const key = secret ?? createHash('sha256').update(stableJson(template)).digest();
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
