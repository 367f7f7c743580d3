import type { OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { completeUpstreamHeaders, UPSTREAM_DROPPED_HEADERS } from '../../../lib/runtime/shared/headers';
import { withoutHopByHop } from '../../../lib/runtime/shared/proxy-headers';

/** What a forwarder to the app sends: UPSTREAM_DROPPED_HEADERS left out, then completed. */
function toApp(incoming: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const headers = withoutHopByHop(incoming, undefined, UPSTREAM_DROPPED_HEADERS);
  completeUpstreamHeaders(headers, incoming);
  return headers;
}

describe('the headers the app is sent', () => {
  it.each<[string, OutgoingHttpHeaders, OutgoingHttpHeaders]>([
    [
      'restores Host from K-Original-Host',
      { host: '10.0.0.5:8012', 'k-original-host': 'hello.default.example.com' },
      { host: 'hello.default.example.com' },
    ],
    ['keeps Host without K-Original-Host', { host: 'hello.default.example.com' }, { host: 'hello.default.example.com' }],
    [
      'strips the routing headers',
      { host: 'a', 'knative-serving-revision': 'hello-00001', 'knative-serving-namespace': 'default', 'x-keep': '1' },
      { host: 'a', 'x-keep': '1' },
    ],
    [
      'builds Forwarded from X-Forwarded-*',
      { host: 'a', 'x-forwarded-for': '1.2.3.4, 5.6.7.8', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'h.example.com' },
      {
        host: 'a',
        'x-forwarded-for': '1.2.3.4, 5.6.7.8',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'h.example.com',
        forwarded: 'for=1.2.3.4;host=h.example.com;proto=https, for=5.6.7.8',
      },
    ],
    ['quotes IPv6 in Forwarded', { host: 'a', 'x-forwarded-for': '2001:db8::1' }, { host: 'a', 'x-forwarded-for': '2001:db8::1', forwarded: 'for="[2001:db8::1]"' }],
    ['keeps a Forwarded the client sent', { host: 'a', forwarded: 'for=9.9.9.9', 'x-forwarded-for': '1.2.3.4' }, { host: 'a', forwarded: 'for=9.9.9.9', 'x-forwarded-for': '1.2.3.4' }],
  ])('%s', (_name, incoming, expected) => {
    expect(toApp(incoming)).toEqual(expected);
  });
});
