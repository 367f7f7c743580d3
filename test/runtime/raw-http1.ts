/**
 * Raw HTTP/1.1 on one connection, for the pipelining and connection-cap tests of the queue-proxy
 * and the activator: requests written exactly as given (all in one write, or write by write),
 * the answers read back in the order they came, framed by Content-Length or chunked encoding.
 * (node:http's client never pipelines, so it cannot send these.)
 */
import * as net from 'node:net';

export interface RawAnswer {
  readonly status: number;
  /** Lower-case names; the last value of a repeated header. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface PipelineResult {
  readonly answers: RawAnswer[];
  /** The server closed the connection before `expected` answers came. */
  readonly closedEarly: boolean;
}

/** One request's text; `body` gets a Content-Length. */
export function requestText(method: string, path: string, headers: Record<string, string> = {}, body?: string): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/**
 * Writes `writes` on one connection (each its own write, the next once the previous is flushed)
 * and resolves once `expected` answers were read (then closes) or the server closed first.
 */
export function pipeline(port: number, writes: readonly string[], expected: number): Promise<PipelineResult> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const reader = new AnswerReader();
    let done = false;
    const finish = (closedEarly: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ answers: reader.answers, closedEarly });
    };
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      if (reader.answers.length >= expected) finish(false);
    });
    socket.once('close', () => finish(true));
    socket.once('error', (error) => (done ? undefined : reject(error)));
    const writeFrom = (i: number) => {
      if (i < writes.length) socket.write(writes[i], () => writeFrom(i + 1));
    };
    writeFrom(0);
  });
}

/** Parses HTTP/1.1 answers from a byte stream (no 1xx, no bodies framed by the close). */
export class AnswerReader {
  readonly answers: RawAnswer[] = [];
  private buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (let answer = this.next(); answer !== undefined; answer = this.next()) this.answers.push(answer);
  }

  private next(): RawAnswer | undefined {
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine, ...lines] = this.buffer.toString('latin1', 0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const start = headEnd + 4;
    const framed = headers['transfer-encoding'] === 'chunked' ? this.chunked(start) : this.sized(start, Number(headers['content-length'] ?? 0));
    if (framed === undefined) return undefined;
    this.buffer = this.buffer.subarray(framed.end);
    return { status, headers, body: framed.body };
  }

  private sized(start: number, length: number): { body: string; end: number } | undefined {
    if (this.buffer.length < start + length) return undefined;
    return { body: this.buffer.toString('utf8', start, start + length), end: start + length };
  }

  private chunked(start: number): { body: string; end: number } | undefined {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = this.buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(this.buffer.toString('latin1', at, lineEnd), 16);
      if (size === 0) {
        const trailerEnd = this.buffer.indexOf('\r\n', lineEnd + 2);
        return trailerEnd < 0 ? undefined : { body: Buffer.concat(parts).toString('utf8'), end: trailerEnd + 2 };
      }
      if (this.buffer.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
}

/**
 * Opens a connection and sends `request`: `answered` once a byte comes back (the connection stays
 * open, its further bytes read and dropped), or not when the server closes it without a byte.
 */
export function connectAndAsk(port: number, request: string): Promise<{ answered: boolean; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.resume();
      resolve({ answered: true, socket });
    });
    socket.once('close', () => resolve({ answered: false, socket }));
    socket.write(request);
  });
}

/**
 * Fills a listener capped at `cap` connections with silent ones (no byte sent: idle until the
 * head deadline), and resolves with them once a further connection is closed unanswered: the
 * server holds all `cap`. `probe` is a request the listener answers by itself.
 */
export async function fillToCap(
  port: number,
  cap: number,
  probe: string,
  eventually: (check: () => Promise<boolean>, what: string) => Promise<void>,
): Promise<net.Socket[]> {
  const silent = await Promise.all(
    Array.from(
      { length: cap },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  await eventually(async () => {
    const { answered, socket } = await connectAndAsk(port, probe);
    socket.destroy();
    return !answered;
  }, `the listener holds ${cap} connections`);
  return silent;
}

/** A connection, once connected; what the server sends is read and dropped. */
export function connected(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
    socket.resume();
  });
}
