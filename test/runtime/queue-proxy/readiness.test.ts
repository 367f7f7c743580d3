import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseReadinessProbes,
  probeOnce,
  ReadinessProber,
  type ProbeSpec,
} from '../../../lib/runtime/shared/readiness';

describe('parseReadinessProbes', () => {
  it.each<[string, string | undefined, ProbeSpec[]]>([
    [
      'unset → TCP on the user port, aggressive',
      undefined,
      [{ handler: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 }],
    ],
    [
      "Knative's default JSON",
      '{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}',
      [{ handler: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 }],
    ],
    [
      'httpGet with every field',
      JSON.stringify({
        httpGet: { host: '10.0.0.1', port: 9000, path: 'ready', scheme: 'HTTPS', httpHeaders: [{ name: 'X-A', value: 'b' }] },
        periodSeconds: 5,
        timeoutSeconds: 2,
        successThreshold: 2,
        failureThreshold: 4,
      }),
      [
        {
          handler: { kind: 'http', host: '10.0.0.1', port: 9000, path: 'ready', scheme: 'https', headers: [['X-A', 'b']] },
          periodSeconds: 5,
          timeoutSeconds: 2,
          successThreshold: 2,
          failureThreshold: 4,
        },
      ],
    ],
    [
      'httpGet defaults: host 127.0.0.1, user port, path /, HTTP',
      '{"httpGet":{}}',
      [
        {
          handler: { kind: 'http', host: '127.0.0.1', port: 8080, path: '/', scheme: 'http', headers: [] },
          periodSeconds: 0,
          timeoutSeconds: 0,
          successThreshold: 1,
          failureThreshold: 3,
        },
      ],
    ],
    [
      'array (multi-container), exec → TCP on user port',
      '[{"tcpSocket":{"port":8081}},{"exec":{"command":["true"]}}]',
      [
        { handler: { kind: 'tcp', host: '127.0.0.1', port: 8081 }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 },
        { handler: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 },
      ],
    ],
  ])('%s', (_name, json, expected) => {
    expect(parseReadinessProbes(json, 8080)).toEqual(expected);
  });

  it.each([
    ['{', '(json)'],
    ['{"httpGet":{"port":"http"}}', '.httpGet.port'],
    ['{"httpGet":{"scheme":"FTP"}}', '.httpGet.scheme'],
    ['{"httpGet":{"httpHeaders":[{"value":"x"}]}}', '.httpGet.httpHeaders[0].name'],
    ['{"tcpSocket":{"port":70000}}', '.tcpSocket.port'],
    ['{"tcpSocket":{},"periodSeconds":-1}', '.periodSeconds'],
    ['[{"tcpSocket":{}},{}]', '[1]'],
    ['"text"', '(probe)'],
  ])('names the bad field of %s', (json, field) => {
    expect(() => parseReadinessProbes(json, 8080)).toThrow(field);
  });
});

// Real sockets on 127.0.0.1 for the probes themselves.
describe('probing', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  function serve(handler: http.RequestListener, port = 0): Promise<number> {
    const server = http.createServer(handler);
    servers.push(server);
    return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  }

  async function closedPort(): Promise<number> {
    const port = await serve(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    return port;
  }

  it('TCP succeeds on a listening port and fails on a closed one', async () => {
    const open = await serve((_req, res) => res.end());
    const closed = await closedPort();
    expect(await probeOnce({ kind: 'tcp', host: '127.0.0.1', port: open }, 500)).toBe(true);
    expect(await probeOnce({ kind: 'tcp', host: '127.0.0.1', port: closed }, 500)).toBe(false);
  });

  it('HTTP succeeds on 2xx/3xx only and sends path and headers', async () => {
    const seen: Array<{ url?: string; header?: string | string[] }> = [];
    const port = await serve((req, res) => {
      seen.push({ url: req.url, header: req.headers['x-check'] });
      res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 500;
      res.end();
    });
    const handler = (path: string) => ({ kind: 'http' as const, host: '127.0.0.1', port, path, scheme: 'http' as const, headers: [['X-Check', 'yes'] as const] });
    expect(await probeOnce(handler('/ok'), 500)).toBe(true);
    expect(await probeOnce(handler('/moved'), 500)).toBe(true);
    expect(await probeOnce(handler('/broken'), 500)).toBe(false);
    expect(seen[0]).toEqual({ url: '/ok', header: 'yes' });
  });

  it('HTTP fails when the app does not answer within the timeout', async () => {
    const port = await serve(() => undefined); // never answers
    expect(await probeOnce({ kind: 'http', host: '127.0.0.1', port, path: '/', scheme: 'http', headers: [] }, 100)).toBe(false);
  });

  it('aggressive mode keeps trying until the app listens', async () => {
    const port = await closedPort();
    const spec: ProbeSpec = { handler: { kind: 'tcp', host: '127.0.0.1', port }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 };
    const prober = new ReadinessProber([spec], { retryIntervalMs: 20, tryTimeoutMs: 100, pollTimeoutMs: 5000 });
    const result = prober.probe();
    setTimeout(() => void serve((_req, res) => res.end(), port), 150);
    expect(await result).toBe(true);
  });

  it('aggressive mode gives up after the poll timeout', async () => {
    const port = await closedPort();
    const spec: ProbeSpec = { handler: { kind: 'tcp', host: '127.0.0.1', port }, periodSeconds: 0, timeoutSeconds: 0, successThreshold: 1, failureThreshold: 3 };
    const prober = new ReadinessProber([spec], { retryIntervalMs: 20, tryTimeoutMs: 50, pollTimeoutMs: 200 });
    expect(await prober.probe()).toBe(false);
  });

  it('aggressive mode needs successThreshold successes in a row', async () => {
    let calls = 0;
    const port = await serve((_req, res) => {
      calls++;
      res.statusCode = calls === 2 ? 500 : 200; // ok, fail, ok, ok, ok
      res.end();
    });
    const spec: ProbeSpec = {
      handler: { kind: 'http', host: '127.0.0.1', port, path: '/', scheme: 'http', headers: [] },
      periodSeconds: 0,
      timeoutSeconds: 0,
      successThreshold: 3,
      failureThreshold: 3,
    };
    const prober = new ReadinessProber([spec], { retryIntervalMs: 5, tryTimeoutMs: 200, pollTimeoutMs: 5000 });
    expect(await prober.probe()).toBe(true);
    expect(calls).toBe(5);
  });

  it('with a period, one try decides; concurrent callers share it', async () => {
    let calls = 0;
    const port = await serve((_req, res) => {
      calls++;
      setTimeout(() => res.end(), 30);
    });
    const spec: ProbeSpec = {
      handler: { kind: 'http', host: '127.0.0.1', port, path: '/', scheme: 'http', headers: [] },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    };
    const prober = new ReadinessProber([spec]);
    expect(await Promise.all([prober.probe(), prober.probe(), prober.probe()])).toEqual([true, true, true]);
    expect(calls).toBe(1);
  });

  it('every probe of a multi-container list must pass', async () => {
    const open = await serve((_req, res) => res.end());
    const closed = await closedPort();
    const tcp = (port: number): ProbeSpec => ({ handler: { kind: 'tcp', host: '127.0.0.1', port }, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 });
    expect(await new ReadinessProber([tcp(open), tcp(open)]).probe()).toBe(true);
    expect(await new ReadinessProber([tcp(open), tcp(closed)]).probe()).toBe(false);
  });
});
