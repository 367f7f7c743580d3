import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { firstAnswerDeadline, RequestTimeoutError, startDeadlines, type TimeoutKind, type TimeoutSettings } from '../../../lib/runtime/shared/timeouts';

/**
 * A real server whose handler behaves as the query says, guarded by the deadlines under test:
 *   ?settings=<json TimeoutSettings>&headersAfter=ms&chunks=n&gap=ms
 */
let server: http.Server;
let base: string;
/** The deadlines that expired, in order (what `onExpire` was told). */
const expired: TimeoutKind[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://t').searchParams;
    const settings = JSON.parse(q.get('settings')!) as TimeoutSettings;
    // As the request path does: on expiry the upstream work stops; the deadlines answer.
    let stopped = false;
    const deadlines = startDeadlines(res, settings, (kind) => {
      stopped = true;
      expired.push(kind);
    });
    res.once('close', () => deadlines?.dispose());
    const chunks = Number(q.get('chunks') ?? 1);
    const gap = Number(q.get('gap') ?? 0);
    setTimeout(() => {
      if (stopped) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const next = () => {
        if (stopped) return;
        res.write(`chunk ${sent}\n`);
        if (++sent === chunks) return void res.end();
        setTimeout(next, gap);
      };
      next();
    }, Number(q.get('headersAfter') ?? 0));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const off: TimeoutSettings = { totalMs: 0, responseStartMs: 0, idleMs: 0 };

function get(settings: Partial<TimeoutSettings>, query: string): Promise<{ status: number; body: string } | { error: string }> {
  const url = `${base}/?settings=${encodeURIComponent(JSON.stringify({ ...off, ...settings }))}&${query}`;
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', (err) => resolve({ error: err.message }));
      })
      .on('error', (err) => resolve({ error: err.message }));
  });
}

describe('startDeadlines', () => {
  it('answers 504 "request timeout" when the whole request takes too long and nothing was written', async () => {
    expired.length = 0;
    expect(await get({ totalMs: 100 }, 'headersAfter=400')).toEqual({ status: 504, body: 'request timeout' });
    expect(expired).toEqual(['total']);
  });

  it('cuts the response off when the total deadline passes after the first byte', async () => {
    const result = await get({ totalMs: 200 }, 'chunks=10&gap=100');
    expect(result).toHaveProperty('error'); // the client sees an aborted response, not a complete one
  });

  it('answers 504 when the first byte comes later than the response-start deadline', async () => {
    expired.length = 0;
    expect(await get({ responseStartMs: 100 }, 'headersAfter=400')).toEqual({ status: 504, body: 'request timeout' });
    expect(expired).toEqual(['response-start']);
  });

  it('the response-start deadline no longer applies once writing started', async () => {
    expect(await get({ responseStartMs: 150 }, 'chunks=4&gap=100')).toEqual({ status: 200, body: 'chunk 0\nchunk 1\nchunk 2\nchunk 3\n' });
  });

  it('lets a slow stream through while every gap is under the idle deadline', async () => {
    expect(await get({ idleMs: 300 }, 'chunks=5&gap=50')).toEqual({
      status: 200,
      body: 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n',
    });
  });

  it('cuts the stream at a gap longer than the idle deadline', async () => {
    expired.length = 0;
    expect(await get({ idleMs: 100 }, 'chunks=3&gap=400')).toHaveProperty('error');
    expect(expired).toEqual(['idle']);
  });

  it('answers 504 when nothing at all is written within the idle deadline', async () => {
    expect(await get({ idleMs: 100 }, 'headersAfter=400')).toEqual({ status: 504, body: 'request timeout' });
  });

  it('0 turns every deadline off', async () => {
    expect(await get(off, 'headersAfter=300&chunks=2&gap=300')).toEqual({ status: 200, body: 'chunk 0\nchunk 1\n' });
  });
});

describe('firstAnswerDeadline (Upgrade requests, answered on the raw socket)', () => {
  it('aborts at the earliest deadline set, naming it; never when all are off', () => {
    vi.useFakeTimers();
    try {
      const cases: Array<[TimeoutSettings, string | undefined, number]> = [
        [{ totalMs: 3000, responseStartMs: 1000, idleMs: 2000 }, 'response-start', 1000],
        [{ totalMs: 3000, responseStartMs: 0, idleMs: 2000 }, 'idle', 2000],
        [{ totalMs: 3000, responseStartMs: 0, idleMs: 0 }, 'total', 3000],
        [{ totalMs: 0, responseStartMs: 0, idleMs: 0 }, undefined, 10_000],
      ];
      for (const [settings, kind, at] of cases) {
        const deadline = firstAnswerDeadline(settings);
        vi.advanceTimersByTime(at - 1);
        expect(deadline.signal.aborted).toBe(false);
        vi.advanceTimersByTime(1);
        expect((deadline.signal.reason as RequestTimeoutError | undefined)?.kind).toBe(kind);
        deadline.dispose();
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not abort once disposed', () => {
    vi.useFakeTimers();
    try {
      const deadline = firstAnswerDeadline({ totalMs: 1000, responseStartMs: 0, idleMs: 0 });
      deadline.dispose();
      vi.advanceTimersByTime(5000);
      expect(deadline.signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});
