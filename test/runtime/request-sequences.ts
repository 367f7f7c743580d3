/**
 * Generated hostile traffic for the property-based tests of the queue-proxy and the activator:
 * fast-check arbitraries for one HTTP/1.1 exchange (method, path on the broken app, headers
 * including routing, probe and Upgrade headers, body framing) and for how the client leaves
 * (at every stage), and a raw-socket driver that performs it, bounded in time.
 */
import { fc } from '@fast-check/vitest';
import * as net from 'node:net';

export type Abort = 'none' | 'mid-head' | 'mid-body' | 'after-send' | 'after-response-start';

export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: 'none' | 'length' | 'chunked';
  readonly bodyBytes: number;
  readonly abort: Abort;
}

/** Paths of test/runtime/hostile-app.ts: ordinary, slow, broken, stalled, big answers. */
const paths = fc.oneof(
  fc.constantFrom('/', '/bad-status', '/bad-header', '/reset', '/half', '/stall', '/big?mb=1'),
  fc.integer({ min: 0, max: 300 }).map((ms) => `/slow?ms=${ms}`),
);

/** Headers the runtime reads or must not trust, each present or not, with right and wrong values. */
function headerSets(revisions: readonly string[]): fc.Arbitrary<Array<readonly [string, string]>> {
  const optional = (name: string, values: fc.Arbitrary<string>) =>
    fc.option(values.map((v) => [name, v] as const), { nil: undefined });
  return fc
    .tuple(
      optional('Knative-Serving-Revision', fc.constantFrom(...revisions, 'no-such-revision')),
      optional('Knative-Serving-Namespace', fc.constantFrom('default', 'elsewhere')),
      optional('K-Original-Host', fc.constantFrom('original.example.com', 'evil.example')),
      optional('K-Proxy-Request', fc.constantFrom('activator', 'someone')),
      optional('K-Network-Probe', fc.constantFrom('queue', 'activator', 'probe', 'garbage')),
      optional('User-Agent', fc.constantFrom('kube-probe/1.30', 'curl/8', 'Knative-Activator-Probe')),
      optional('X-Forwarded-For', fc.constantFrom('10.0.0.1', '1.2.3.4, 5.6.7.8')),
      fc.boolean(), // Upgrade: websocket
    )
    .map(([...parts]) => {
      const upgrade = parts.pop() as boolean;
      const headers = (parts as Array<readonly [string, string] | undefined>).filter((h): h is readonly [string, string] => h !== undefined);
      if (upgrade) headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']);
      else headers.push(['Connection', 'close']);
      return headers;
    });
}

export function exchanges(revisions: readonly string[] = []): fc.Arbitrary<Exchange> {
  return fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
    path: paths,
    headers: headerSets(revisions),
    body: fc.constantFrom('none' as const, 'length' as const, 'chunked' as const),
    bodyBytes: fc.integer({ min: 1, max: 200_000 }),
    abort: fc.constantFrom<Abort>('none', 'none', 'mid-head', 'mid-body', 'after-send', 'after-response-start'),
  });
}

/** Requests of one run, sent at once: 1 to `max` exchanges. */
export const sequences = (max: number, revisions: readonly string[] = []) => fc.array(exchanges(revisions), { minLength: 1, maxLength: max });

/** How long a client waits for the server to finish before it gives up (an abort "late"). */
const PATIENCE_MS = 1500;
/** How long an abort "mid-head"/"mid-body"/"after-send" waits after its last byte. */
const LINGER_MS = 20;

/** Performs one exchange on a fresh connection; resolves when the connection is closed. */
export function perform(port: number, exchange: Exchange): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const giveUp = setTimeout(() => socket.destroy(), PATIENCE_MS);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(giveUp);
      resolve();
    });
    socket.on('data', () => {
      if (exchange.abort === 'after-response-start') socket.destroy();
    });
    const later = (fn: () => void) => setTimeout(fn, LINGER_MS);
    const { head, body } = render(exchange);
    switch (exchange.abort) {
      case 'mid-head':
        socket.write(head.subarray(0, Math.max(1, head.length >> 1)));
        return void later(() => socket.destroy());
      case 'mid-body':
        socket.write(head);
        socket.write(body.subarray(0, body.length >> 1));
        return void later(() => socket.destroy());
      case 'after-send':
        socket.write(head);
        socket.write(body);
        return void later(() => socket.destroy());
      default:
        socket.write(head);
        socket.write(body);
    }
  });
}

function render(exchange: Exchange): { head: Buffer; body: Buffer } {
  const lines = [`${exchange.method} ${exchange.path} HTTP/1.1`, 'Host: hello.default.example.com'];
  for (const [name, value] of exchange.headers) lines.push(`${name}: ${value}`);
  let body = Buffer.alloc(0);
  if (exchange.body === 'length') {
    lines.push(`Content-Length: ${exchange.bodyBytes}`);
    body = Buffer.alloc(exchange.bodyBytes, 'b');
  } else if (exchange.body === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    body = Buffer.concat([Buffer.from(`${exchange.bodyBytes.toString(16)}\r\n`), Buffer.alloc(exchange.bodyBytes, 'c'), Buffer.from('\r\n0\r\n\r\n')]);
  }
  return { head: Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body };
}

/** fast-check parameters shared by the runtime properties: bounded in runs and in time. */
export const PROPERTY_PARAMS = { numRuns: 25, interruptAfterTimeLimit: 60_000, endOnFailure: process.env.SHRINK !== '1' } as const;
