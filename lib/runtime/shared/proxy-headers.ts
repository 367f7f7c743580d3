/**
 * Header hygiene of a proxy hop, shared by HTTP/1 forwarding (./proxy-forward.ts), upgrade
 * tunnelling (./proxy-upgrade.ts) and h2c: what never crosses a hop (RFC 9110 7.6.1), the
 * X-Forwarded-For hop, and which upstream status lines and fields can be passed on at all.
 * What the app is told beyond that (Knative's headers) is ./headers.ts.
 */
import type * as http from 'node:http';

/** Headers that describe one connection, never forwarded (RFC 9110 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Request headers as sent upstream: hop-by-hop and `drop` (lower-case names) removed, X-Forwarded-For appended. */
export function upstreamRequestHeaders(req: http.IncomingMessage, drop?: ReadonlySet<string>): http.OutgoingHttpHeaders {
  const headers = withoutHopByHop(req.headers, req.headers.connection, drop) as http.OutgoingHttpHeaders;
  const te = req.headers.te;
  if (typeof te === 'string' && /\btrailers\b/i.test(te)) headers.te = 'trailers';
  const client = req.socket.remoteAddress;
  if (client) {
    const prior = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  }
  return headers;
}

/**
 * Header names a Connection header lists (lower case), or undefined when it lists none beyond
 * keep-alive/close (the common case: no Set is built per request).
 */
function namedInConnection(connection: unknown): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const text = String(connection).toLowerCase();
  if (text === 'keep-alive' || text === 'close') return undefined;
  const named = new Set<string>();
  for (const part of text.split(',')) {
    const name = part.trim();
    if (name !== '') named.add(name);
  }
  return named;
}

/**
 * Drops hop-by-hop headers, the ones the Connection header names and those in `drop` (lower-case
 * names); returns a new object.
 */
export function withoutHopByHop<T extends Record<string, unknown>>(headers: T, connection?: unknown, drop?: ReadonlySet<string>): T {
  const named = namedInConnection(connection);
  const out: Record<string, unknown> = {};
  // for-in over an own-keys object (IncomingMessage headers): no entries array per request.
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    // HTTP/2 pseudo-headers (`:path`, ...) never go on to an HTTP/1.1 upstream.
    if (key.charCodeAt(0) === 0x3a) continue;
    const lower = key.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || drop?.has(lower)) continue;
    out[key] = value;
  }
  return out as T;
}

/** rawHeaders ([name, value, name, value, ...]) without hop-by-hop ones; case and duplicates kept. */
export function filterRawHeaders(raw: string[], connection?: unknown, drop: readonly string[] = []): string[] {
  const named = namedInConnection(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || (drop.length > 0 && drop.includes(lower))) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** HTAB, SP, VCHAR and obs-text (RFC 9110 5.5): what a reason phrase or field value may hold. */
export const VALID_FIELD_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Whether a reason phrase and raw header values can be relayed as they are. */
export function isRelayable(reason: string | undefined, raw: readonly string[]): boolean {
  if (!VALID_FIELD_TEXT.test(reason ?? '')) return false;
  for (let i = 1; i < raw.length; i += 2) if (!VALID_FIELD_TEXT.test(raw[i])) return false;
  return true;
}

/** The answer to an upstream whose status line or headers cannot be relayed. */
export const UNRELAYABLE_HEAD = 'the upstream sent a status line or header that cannot be relayed';
