import * as net from 'node:net';

/**
 * The autoscaler's HTTP/1.1 client for `GET /metrics`: one kept-alive TCP connection per target,
 * at most `maxIdleSockets` of them kept between scrapes (the least recently used is closed
 * beyond), and nothing else of HTTP: no redirects, no proxies, no pipelining, no request body.
 *
 * Why not node:http: a scrape is about 400 bytes each way and the autoscaler makes thousands a
 * second. Profiled (bench/scale/scrape-cost.ts), node:http's ClientRequest, Agent, IncomingMessage
 * streams and the garbage they leave took most of a scrape's CPU; the syscalls themselves a
 * small part. Here a connection has its listeners set once, and a response is parsed in place:
 * status line, Content-Length or chunked transfer coding (RFC 9112 §6, §7.1), or the body up to
 * the close.
 *
 * A kept connection that the server closed while idle (a queue-proxy closes them after its
 * keep-alive timeout) fails the request before any byte came back: it is retried once on a new
 * connection, as no response was read.
 *
 * Why by hand rather than undici (the Node.js project's HTTP/1.1 client, llhttp parser), measured
 * 2026-12-07 with undici 7.30.3 on Node 20.20.2 by bench/scale/scrape-cost.ts, which runs the
 * clients back to back (200 revisions × 10 pods, one round a second, 10 s windows; three rounds
 * on a shared 2-core machine). µs of CPU per pod scrape, the collector's own work included, mean
 * of the rounds (then each round's ratio to this client, and the ratio of the means):
 *
 *                                   kept alive              server closes each connection
 *   this client                     117 (86–140)            286 (218–323)
 *   undici, one Client per pod      203 (×1.3–2.9, ×1.7)    408 (×1.3–1.6, ×1.4)
 *   undici, one Agent, 1 conn/pod   312 (×1.6–5.4, ×2.7)    623 (×1.9–3.0, ×2.2)
 *
 * i.e. 7,100–11,600 scrapes/s per core kept alive here against 4,000–6,200 with undici; memory
 * alike (RSS 220–340 MiB in every run, within the noise). Besides, undici as is does two things
 * the autoscaler must not: after `Connection: close` it closes first (the TIME_WAIT pile-up on
 * our side, see awaitClose), and a kept connection dropped as the next request arrives fails
 * that request (UND_ERR_SOCKET "other side closed") instead of sending it once more. Re-measure
 * (`npx tsx bench/scale/scrape-cost.ts`) when undici or Node changes; undici is a devDependency
 * for that only.
 */
export interface ScrapeClientOptions {
  /** Connections kept open between scrapes, over all targets. */
  readonly maxIdleSockets: number;
  /** The largest body read; beyond, the request fails and the connection is closed. */
  readonly maxBodyBytes: number;
}

export interface ScrapeResponse {
  readonly status: number;
  readonly body: string;
}

/** What a scrape needs of an HTTP client. */
export interface MetricsClient {
  get(host: string, port: number, path: string, timeoutMs: number): Promise<ScrapeResponse>;
}

export class ScrapeClient implements MetricsClient {
  /** `host:port` → an idle connection; Map order is least recently used first. */
  private readonly idle = new Map<string, Connection>();

  constructor(private readonly options: ScrapeClientOptions) {}

  /** Idle connections kept now. */
  get idleSockets(): number {
    return this.idle.size;
  }

  /** GET http://host:port/path; rejects after `timeoutMs` (a deadline for the whole exchange). */
  get(host: string, port: number, path: string, timeoutMs: number): Promise<ScrapeResponse> {
    const target = `${host}:${port}`;
    const request = `GET ${path} HTTP/1.1\r\nHost: ${target}\r\nAccept: text/plain\r\nUser-Agent: kservice-autoscaler\r\n\r\n`;
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(this.options.maxBodyBytes, resolve, reject);
      exchange.timer = setTimeout(() => exchange.fail(new Error(`no complete answer within ${timeoutMs}ms`)), timeoutMs);
      this.send(target, host, port, request, exchange, true);
    });
  }

  /** Closes every idle connection. */
  close(): void {
    for (const c of this.idle.values()) c.socket.destroy();
    this.idle.clear();
  }

  private send(target: string, host: string, port: number, request: string, exchange: Exchange, mayRetry: boolean): void {
    const kept = this.idle.get(target);
    if (kept) this.idle.delete(target);
    const conn = kept ?? new Connection(host, port, () => {
      if (this.idle.get(target) === conn) this.idle.delete(target);
    });
    exchange.onDone = (outcome) => (outcome === 'reusable' ? this.keep(target, conn) : outcome === 'server closes' ? conn.awaitClose() : conn.socket.destroy());
    // A kept connection the server closed meanwhile: the same request once more on a new one.
    exchange.onUnanswered = kept && mayRetry ? () => this.send(target, host, port, request, exchange, false) : undefined;
    conn.start(exchange, request);
  }

  private keep(target: string, conn: Connection): void {
    conn.socket.unref();
    this.idle.set(target, conn);
    if (this.idle.size <= this.options.maxIdleSockets) return;
    const [oldest, c] = this.idle.entries().next().value as [string, Connection];
    this.idle.delete(oldest);
    c.socket.destroy();
  }
}

/** One TCP connection, its listeners set once; serves one exchange at a time. */
class Connection {
  readonly socket: net.Socket;
  private exchange: Exchange | undefined;

  /** `onClosed`: the connection is gone (closed by either side), e.g. while it was idle. */
  constructor(host: string, port: number, onClosed: () => void) {
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.exchange?.onData(chunk));
    this.socket.on('error', (err) => this.end(err));
    this.socket.on('close', () => {
      onClosed();
      this.end(new Error('connection closed before a complete answer'));
    });
  }

  start(exchange: Exchange, request: string): void {
    this.exchange = exchange;
    exchange.detach = () => {
      if (this.exchange === exchange) this.exchange = undefined;
    };
    this.socket.ref();
    this.socket.write(request, 'latin1');
  }

  /**
   * The server said it closes the connection after this answer: let it close first, so that it,
   * not this process, holds the closed connection's TIME_WAIT. Closing first here left tens of
   * thousands of sockets in TIME_WAIT on the autoscaler's side at a few thousand scrapes a
   * second, and the API requests of the same process then waited seconds for a connection.
   */
  awaitClose(): void {
    this.socket.unref();
    setTimeout(() => this.socket.destroy(), SERVER_CLOSE_GRACE_MS).unref();
  }

  private end(err: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    if (!exchange) return;
    exchange.onClose(err);
  }
}

/** How long a server that announced `Connection: close` gets to close before the connection is dropped here. */
const SERVER_CLOSE_GRACE_MS = 2000;

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** One request's response, parsed as its bytes arrive. */
class Exchange {
  timer: NodeJS.Timeout | undefined;
  onDone: (outcome: 'reusable' | 'server closes' | 'failed') => void = () => undefined;
  onUnanswered: (() => void) | undefined;
  detach: () => void = () => undefined;
  private settled = false;
  private received = false;
  private head: Buffer | undefined;
  private status = 0;
  private keepAlive = true;
  /** Content-Length; undefined: chunked or up to the close. */
  private length: number | undefined;
  private chunked = false;
  private readonly parts: Buffer[] = [];
  private bodyBytes = 0;
  /** Chunked: bytes not parsed yet. */
  private pending: Buffer | undefined;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly resolve: (r: ScrapeResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onData(chunk: Buffer): void {
    this.received = true;
    try {
      if (this.head === undefined) {
        const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
        const end = buf.indexOf(HEADER_END);
        if (end === -1) {
          if (buf.length > 16 * 1024) throw new Error('response header over 16 KiB');
          this.pending = buf;
          return;
        }
        this.pending = undefined;
        this.readHead(buf.subarray(0, end));
        chunk = buf.subarray(end + 4);
      }
      if (this.chunked) this.readChunked(chunk);
      else this.addBody(chunk);
      if (this.length !== undefined && this.bodyBytes >= this.length) this.finish(this.bodyBytes === this.length);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** The connection closed or failed. */
  onClose(err: Error): void {
    if (this.settled) return;
    if (!this.received && this.onUnanswered) {
      const retry = this.onUnanswered;
      this.onUnanswered = undefined;
      return retry();
    }
    // A body delimited by the close (no Content-Length, not chunked) ends here.
    if (this.head !== undefined && this.length === undefined && !this.chunked) return this.finish(false);
    this.fail(err);
  }

  fail(err: Error): void {
    if (this.settled) return;
    this.settle();
    this.onDone('failed');
    this.reject(err);
  }

  private readHead(head: Buffer): void {
    this.head = head;
    const text = head.toString('latin1');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(text);
    if (!m) throw new Error(`not an HTTP/1.x response: ${JSON.stringify(text.slice(0, 40))}`);
    this.status = Number(m[2]);
    this.keepAlive = m[1] === '1';
    for (const line of text.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') this.length = Number(value);
      else if (name === 'transfer-encoding') this.chunked = value.split(',').pop()?.trim() === 'chunked';
      else if (name === 'connection') this.keepAlive = value === 'keep-alive' || (this.keepAlive && value !== 'close');
    }
    if (this.chunked) this.length = undefined;
    else if (this.length !== undefined && !(Number.isInteger(this.length) && this.length >= 0)) throw new Error('bad Content-Length');
    if (this.length !== undefined && this.length > this.maxBodyBytes) throw new Error(`body over ${this.maxBodyBytes} bytes`);
  }

  private addBody(part: Buffer): void {
    if (part.length === 0) return;
    this.bodyBytes += part.length;
    if (this.bodyBytes > this.maxBodyBytes) throw new Error(`body over ${this.maxBodyBytes} bytes`);
    this.parts.push(part);
  }

  /** Chunked transfer coding: `size[;ext]\r\n data \r\n` … `0\r\n` [trailers] `\r\n`. */
  private readChunked(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const lineEnd = buf.indexOf(CRLF);
      if (lineEnd === -1) break;
      const size = parseInt(buf.toString('latin1', 0, lineEnd).split(';')[0], 16);
      if (!Number.isInteger(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        // Trailers (none expected) end with an empty line.
        const end = buf.indexOf(HEADER_END, lineEnd);
        if (end === -1) break;
        this.pending = undefined;
        return this.finish(end + 4 === buf.length);
      }
      if (buf.length < lineEnd + 2 + size + 2) break;
      this.addBody(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      buf = buf.subarray(lineEnd + 2 + size + 2);
    }
    if (buf.length > this.maxBodyBytes) throw new Error(`body over ${this.maxBodyBytes} bytes`);
    this.pending = buf.length > 0 ? Buffer.from(buf) : undefined;
  }

  /** The response is complete; `clean`: nothing after it, so the connection may serve the next. */
  private finish(clean: boolean): void {
    if (this.settled) return;
    this.settle();
    this.onDone(!clean ? 'failed' : this.keepAlive ? 'reusable' : 'server closes');
    const body = this.parts.length === 1 ? this.parts[0].toString('utf8') : Buffer.concat(this.parts).toString('utf8');
    this.resolve({ status: this.status, body });
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.detach();
  }
}
