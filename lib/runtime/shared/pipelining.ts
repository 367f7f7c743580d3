/**
 * HTTP/1.1 pipelining served as Go's net/http serves it, which Knative's queue-proxy and activator
 * run on: one request of a connection at a time, the next one taken up only once the answer
 * before it is complete (net/http reads the next request after the handler returned).
 *
 * node:http instead parses every request of a pipelined batch at once and calls the handler for
 * each, queueing only their answers. A client could then take several breaker slots with one
 * connection, or fill the queue (20 requests in one write at containerConcurrency 1: 9 answered
 * 503). Worse, the answers queued behind the first never see their connection close (node:http
 * emits 'close' only on the response the socket is writing), so a request forwarded for them
 * kept its slot after the client left.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;
type UpgradeListener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Requests a connection may have waiting behind the one being served. node:http parses all the
 * requests of one read (up to 64 KiB) before the socket's pause takes effect; a client that has
 * more than this waiting is not reading its answers, and its connection is closed.
 */
export const MAX_WAITING_PIPELINED = 64;

/** Serves the HTTP/1 requests of each connection one at a time, in order. */
export function oneAtATime(handler: RequestListener): RequestListener {
  return function servePipelined(req, res) {
    lineOf(req.socket).arrive(req, res, handler);
  };
}

/**
 * An Upgrade request pipelined behind other requests is served once their answers are complete
 * (switching protocols mid-answer would interleave the two on the wire).
 */
export function upgradeInOrder(handler: UpgradeListener): UpgradeListener {
  return function upgradePipelined(req, socket, head) {
    lineOf(socket).arriveUpgrade(() => handler(req, socket, head));
  };
}

const LINE = Symbol('kservice.pipeline');
type Tagged = { [LINE]?: ConnectionLine };

function lineOf(socket: Duplex): ConnectionLine {
  const tagged = socket as Tagged;
  return (tagged[LINE] ??= new ConnectionLine(socket));
}

/**
 * The requests of one connection: the one being served and those waiting (a start function each;
 * only pipelined requests wait, the common path allocates nothing per request). While any wait,
 * the socket is paused so no more are read; node:http's own pause (answers not drained) is kept,
 * as its 'resume' handler re-pauses a socket it paused.
 */
class ConnectionLine {
  private busy = false;
  private paused = false;
  private upgrading = false;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly socket: Duplex) {}

  arrive(req: http.IncomingMessage, res: http.ServerResponse, handler: RequestListener): void {
    if (!this.busy) return this.serve(req, res, handler);
    this.wait(() => this.serve(req, res, handler));
  }

  arriveUpgrade(start: () => void): void {
    if (!this.busy) return start();
    // No request can follow an Upgrade (node:http stops parsing), and the socket stays paused for
    // the Upgrade's handler, which reads it when it is ready to (a flowing socket with no 'data'
    // listener would drop the bytes).
    this.upgrading = true;
    this.wait(start);
  }

  private wait(start: () => void): void {
    if (this.waiting.length >= MAX_WAITING_PIPELINED) return void this.socket.destroy();
    this.waiting.push(start);
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, handler: RequestListener): void {
    this.busy = true;
    // 'close' comes once the answer is complete (node:http then already writes the next one's)
    // or the connection is gone; `on`, not `once`: no wrapper function per request.
    res.on('close', ConnectionLine.onAnswered);
    handler(req, res);
  }

  private static onAnswered(this: http.ServerResponse): void {
    (this.req.socket as Tagged)[LINE]!.next();
  }

  private next(): void {
    this.busy = false;
    // A client that left is not served what it had waiting (there is no one to answer).
    if (this.socket.destroyed) return void (this.waiting.length = 0);
    const start = this.waiting.shift();
    if (this.waiting.length === 0 && this.paused && !this.upgrading) {
      this.paused = false;
      this.socket.resume();
    }
    start?.();
  }
}
