/**
 * Per-request deadlines [reference 10, 11], as Knative's timeout handler applies them:
 * - total (REVISION_TIMEOUT_SECONDS): the whole request, including the wait for a breaker slot;
 * - response start (REVISION_RESPONSE_START_TIMEOUT_SECONDS): until the first byte is written;
 * - idle (REVISION_IDLE_TIMEOUT_SECONDS): the longest gap between writes.
 * 0 turns one off. On expiry the upstream work is aborted (via `signal`); if nothing was written
 * yet the client gets 504 `request timeout`, otherwise the response is cut off.
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';

export type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface TimeoutSettings {
  readonly totalMs: number;
  readonly responseStartMs: number;
  readonly idleMs: number;
}

export const TIMEOUT_MESSAGE = 'request timeout';

export type TimeoutKind = 'total' | 'response-start' | 'idle';

export class RequestTimeoutError extends Error {
  constructor(readonly kind: TimeoutKind) {
    super(`${TIMEOUT_MESSAGE} (${kind})`);
    this.name = 'RequestTimeoutError';
  }
}

export interface TimeoutGuard {
  /** Aborted (with a RequestTimeoutError) when a deadline passes. */
  readonly signal: AbortSignal;
  /** Stops the timers (the response is over). */
  dispose(): void;
}

/** Starts the deadlines for one response; they stop by themselves when the response ends. */
export function guardTimeouts(res: AnyResponse, settings: TimeoutSettings): TimeoutGuard {
  const controller = new AbortController();
  const timers = new Map<TimeoutKind, NodeJS.Timeout>();
  const arm = (kind: TimeoutKind, ms: number) => {
    if (ms <= 0) return;
    clearTimeout(timers.get(kind));
    timers.set(kind, setTimeout(() => expire(kind), ms));
  };
  const disarm = (kind: TimeoutKind) => {
    clearTimeout(timers.get(kind));
    timers.delete(kind);
  };
  const dispose = () => {
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
  };
  const original = wrapWrites(res, {
    onWrite: () => {
      disarm('response-start');
      arm('idle', settings.idleMs);
    },
    onEnd: dispose,
    blocked: () => controller.signal.aborted,
  });
  const expire = (kind: TimeoutKind) => {
    dispose();
    controller.abort(new RequestTimeoutError(kind));
    if (!res.headersSent) {
      original.writeHead(504, { 'content-type': 'text/plain; charset=utf-8' });
      original.end(TIMEOUT_MESSAGE);
    } else {
      abortResponse(res);
    }
  };
  arm('total', settings.totalMs);
  arm('response-start', settings.responseStartMs);
  arm('idle', settings.idleMs);
  res.once('close', dispose);
  return { signal: controller.signal, dispose };
}

interface WriteHooks {
  onWrite(): void;
  onEnd(): void;
  /** When true, writes are dropped: the timeout answer owns the response. */
  blocked(): boolean;
}

interface OriginalWrites {
  writeHead(status: number, headers: Record<string, string>): void;
  end(body: string): void;
}

// Wrapping the response's own methods (as Go wraps its ResponseWriter) catches every write, from
// whichever code produces the response.
function wrapWrites(res: AnyResponse, hooks: WriteHooks): OriginalWrites {
  const target = res as unknown as Record<'writeHead' | 'write' | 'end', (...args: unknown[]) => unknown>;
  const writeHead = target.writeHead.bind(res);
  const write = target.write.bind(res);
  const end = target.end.bind(res);
  target.writeHead = (...args) => {
    if (hooks.blocked()) return res;
    hooks.onWrite();
    return writeHead(...args);
  };
  target.write = (...args) => {
    if (hooks.blocked()) return false;
    hooks.onWrite();
    return write(...args);
  };
  target.end = (...args) => {
    if (hooks.blocked()) return res;
    hooks.onEnd();
    return end(...args);
  };
  return {
    writeHead: (status, headers) => void writeHead(status, headers),
    end: (body) => void end(body),
  };
}

/** Cuts a response off mid-way: the client sees a broken connection (HTTP/1) or reset stream (h2). */
export function abortResponse(res: AnyResponse): void {
  if ('stream' in res) res.stream.close(0x8 /* NGHTTP2_CANCEL */);
  else res.destroy();
}
