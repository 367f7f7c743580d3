/**
 * Upgrade tunnelling (websockets) shared by the queue-proxy and the activator: hold the client's
 * socket while its request waits, forward the Upgrade request, splice the two sockets once the
 * upstream switches protocols, and answer on the raw socket when it is not forwarded.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { type CancelForward, type OnForwarded, requestUpstream, type UpstreamOptions } from './proxy-forward';
import { filterRawHeaders, isRelayable, UNRELAYABLE_HEAD, upstreamRequestHeaders, VALID_FIELD_TEXT } from './proxy-headers';

/**
 * Bytes a client may send after its Upgrade request before the answer (a websocket client sends
 * none); beyond, the connection is closed: a paused socket would hide the client leaving.
 */
export const MAX_EARLY_UPGRADE_BYTES = 64 * 1024;

/** A client socket held while its Upgrade request waits (for a slot, or for the upstream). */
export interface HeldUpgradeClient {
  /** Stops watching; returns the request's `head` plus whatever the client sent since. */
  take(): Buffer;
}

/**
 * Watches an Upgrade request's socket until it is taken, calling `onGone` once if the client
 * leaves first. The socket has to be read for that: node:http's server sockets allow half-open
 * connections, so a client that gives up only sends FIN, and a paused socket never reports it
 * ('end' waits for the data before it). Early bytes are kept (bounded) for the upstream.
 * A client that half-closes before the answer counts as gone: a tunnel needs both directions.
 */
export function holdUpgradeClient(socket: Duplex, head: Buffer, onGone: () => void): HeldUpgradeClient {
  const chunks: Buffer[] = head.length > 0 ? [head] : [];
  let size = head.length;
  let taken = false;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_EARLY_UPGRADE_BYTES) socket.destroy(); // 'close' calls gone()
  };
  const gone = () => {
    if (taken) return;
    stop();
    onGone();
  };
  const stop = () => {
    taken = true;
    socket.off('data', onData);
    socket.off('end', gone);
    socket.off('close', gone);
    socket.off('error', gone);
    socket.pause();
  };
  socket.on('data', onData);
  socket.once('end', gone);
  socket.once('close', gone);
  socket.once('error', gone);
  if (socket.destroyed) queueMicrotask(gone);
  else socket.resume();
  return {
    take: () => {
      stop();
      return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    },
  };
}

/**
 * Forwards an Upgrade request and, once the upstream switches protocols, splices the two sockets
 * together; `onDone` is told once: when both sides are closed, or at once when the client goes
 * away before the upstream answered (its slot must not wait on an app that may never answer).
 * The returned function cancels the wait for the upstream's first answer (the request's
 * deadlines; a switched connection is not bound by them): the exchange then ends as `aborted`
 * with the client's socket untouched, for the caller to answer. After the answer it does nothing.
 */
export function forwardUpgrade(req: http.IncomingMessage, clientSocket: Duplex, head: Buffer, options: UpstreamOptions, onDone: OnForwarded): CancelForward {
  if (clientSocket.destroyed) {
    onDone({ outcome: 'aborted' });
    return () => undefined;
  }
  const headers = upstreamRequestHeaders(req, options.dropHeaders);
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade;
  options.transformHeaders?.(headers);
  // agent: false — an upgraded socket leaves the pool for good.
  const upstream = requestUpstream(req, options, headers, false);
  let connected = false;
  let answered = false;
  let settled = false;
  const settle: OnForwarded = (result) => {
    if (settled) return;
    settled = true;
    onDone(result);
  };
  const answer = () => {
    answered = true;
    return held.take();
  };
  const held = holdUpgradeClient(clientSocket, head, () => {
    if (answered) return;
    upstream.destroy();
    settle({ outcome: 'aborted' });
  });
  upstream.on('socket', (socket) => socket.once('connect', () => (connected = true)));
  clientSocket.on('error', () => upstream.destroy());

  upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
    const early = answer();
    clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(upstreamRes.rawHeaders) + '\r\n');
    if (upstreamHead.length > 0) clientSocket.write(upstreamHead);
    if (early.length > 0) upstreamSocket.write(early);
    upstreamSocket.pipe(clientSocket).pipe(upstreamSocket);
    let open = 2;
    const closed = () => {
      if (--open === 0) settle({ outcome: 'done', statusCode: 101 });
    };
    // Server sockets allow half-open connections, so an 'end' alone would leave both sides
    // open for ever: either side ending or failing ends the whole tunnel.
    const teardown = () => {
      endThenDestroy(clientSocket);
      endThenDestroy(upstreamSocket);
    };
    for (const socket of [upstreamSocket, clientSocket]) {
      socket.once('end', teardown);
      socket.on('error', teardown);
      socket.once('close', () => (teardown(), closed()));
    }
    if (clientSocket.destroyed) teardown();
  });

  upstream.on('response', (upstreamRes) => {
    // The upstream refused to switch: its answer is streamed on (with back-pressure, never
    // held whole: anyone can add an Upgrade header to an ordinary request) and the connection
    // closed; without a Content-Length the close ends the body.
    answer();
    const kept = filterRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers.connection);
    if (!isRelayable(upstreamRes.statusMessage, kept)) {
      // As on the ordinary path (proxy-forward.ts): what cannot be relayed is a 502.
      upstream.destroy();
      answerRaw(clientSocket, 502, 'bad gateway');
      return settle({ outcome: 'upstream-error', error: new Error(UNRELAYABLE_HEAD) });
    }
    clientSocket.write(statusLine(upstreamRes) + rawHeaderLines(kept) + 'Connection: close\r\n\r\n');
    upstreamRes.pipe(clientSocket);
    upstreamRes.once('end', () => settle({ outcome: 'done', statusCode: upstreamRes.statusCode ?? 502 }));
    upstreamRes.once('error', (error) => (clientSocket.destroy(), settle({ outcome: 'upstream-error', error })));
    clientSocket.once('close', () => {
      if (settled) return;
      upstream.destroy();
      settle({ outcome: 'aborted' });
    });
  });

  upstream.on('error', (error) => {
    if (settled) return;
    held.take();
    if (!connected && options.onConnectError) options.onConnectError(error);
    else if (answered) clientSocket.destroy();
    else answerRaw(clientSocket, 502, 'bad gateway');
    settle({ outcome: connected ? 'upstream-error' : 'connect-error', error });
  });
  upstream.end();
  return () => {
    if (answered || settled) return;
    held.take();
    upstream.destroy();
    settle({ outcome: 'aborted' });
  };
}

/**
 * Answers on a raw socket (an Upgrade request not forwarded, or not answered in time) and closes
 * it: `Connection: close`, then flushed and closed as `endThenDestroy`. `extraHeaders` are whole
 * header lines, each ending in CRLF.
 */
export function answerRaw(socket: Duplex, status: number, body: string, extraHeaders = ''): void {
  if (!socket.writable) return;
  socket.write(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${extraHeaders}Content-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  endThenDestroy(socket);
}

/** Flushes what is buffered, then closes; a peer that stops reading gets 1 s. */
function endThenDestroy(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end(() => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The status line for a raw socket. A reason phrase with bytes RFC 9112 does not allow (control
 * characters) is replaced by the standard one rather than passed on to the client.
 */
function statusLine(res: http.IncomingMessage): string {
  const reason = res.statusMessage ?? '';
  const safe = VALID_FIELD_TEXT.test(reason) ? reason : (http.STATUS_CODES[res.statusCode ?? 502] ?? '');
  return `HTTP/1.1 ${res.statusCode} ${safe}\r\n`;
}

/** Header lines for a raw socket; a field node:http would refuse to write is left out. */
function rawHeaderLines(raw: string[]): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (VALID_FIELD_TEXT.test(raw[i + 1])) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  return out;
}
