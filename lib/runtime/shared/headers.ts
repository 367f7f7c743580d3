/**
 * What the queue-proxy changes in a request before the app sees it (knative/serving pkg/queue/sharedmain/handlers.go, knative/networking pkg/http/header/header.go).
 * Shared: for a sidecar-less revision (data-plane mode `activator`) the activator does the same.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { Headers } from '../../contract/constants';

const ORIGINAL_HOST = Headers.ORIGINAL_HOST.toLowerCase();
const ROUTING_HEADERS = [Headers.REVISION.toLowerCase(), Headers.NAMESPACE.toLowerCase()];

/**
 * Adds an RFC 7239 `Forwarded` header built from X-Forwarded-For/-Proto/-Host when the client
 * sent none, as Knative's ForwardedShimHandler does. Reads the headers as they arrived (before
 * the proxy appended its own hop to X-Forwarded-For).
 */
export function addForwardedHeader(headers: OutgoingHttpHeaders, incoming: Readonly<Record<string, unknown>>): void {
  if (incoming.forwarded !== undefined) return;
  const forwardedFor = typeof incoming['x-forwarded-for'] === 'string' ? incoming['x-forwarded-for'] : '';
  const proto = incoming['x-forwarded-proto'];
  const host = incoming['x-forwarded-host'];
  if (forwardedFor === '' && proto === undefined && host === undefined) return;
  const hops = forwardedFor === '' ? [''] : forwardedFor.split(',').map((s) => s.trim());
  const elements = hops.map((hop, i) => {
    const pairs: string[] = [];
    if (hop !== '') pairs.push(`for=${quoteIfNeeded(hop)}`);
    if (i === 0 && typeof host === 'string') pairs.push(`host=${quoteIfNeeded(host)}`);
    if (i === 0 && typeof proto === 'string') pairs.push(`proto=${proto}`);
    return pairs.join(';');
  });
  headers.forwarded = elements.filter(Boolean).join(', ');
}

// IPv6 addresses and anything with a port need quotes (RFC 7239 section 6).
function quoteIfNeeded(value: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(value)) return value;
  const v6 = value.includes(':') && !value.startsWith('[') && /^[0-9a-fA-F:]+$/.test(value) ? `[${value}]` : value;
  return `"${v6}"`;
}

/**
 * Left out on the way to the app, by the forwarder (`dropHeaders`, no `delete` on the header
 * object): Knative-Serving-Revision/Namespace route requests inside the mesh and the app never
 * sees them; K-Original-Host's value becomes Host (`completeUpstreamHeaders`).
 */
export const UPSTREAM_DROPPED_HEADERS: ReadonlySet<string> = new Set([ORIGINAL_HOST, ...ROUTING_HEADERS]);

/**
 * Completes the headers of a request to the app (after UPSTREAM_DROPPED_HEADERS were left out):
 * the client's Host back from K-Original-Host, where the activator moved it, and `Forwarded`.
 */
export function completeUpstreamHeaders(headers: OutgoingHttpHeaders, incoming: Readonly<Record<string, unknown>>): void {
  const original = incoming[ORIGINAL_HOST];
  if (typeof original === 'string' && original !== '') headers.host = original;
  addForwardedHeader(headers, incoming);
}
