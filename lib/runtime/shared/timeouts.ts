/**
 * Per-request deadlines, as Knative's timeout handler (knative/serving pkg/http/handler/timeout.go) applies them:
 * - total (REVISION_TIMEOUT_SECONDS): the whole request, including the wait for a breaker slot;
 * - response start (REVISION_RESPONSE_START_TIMEOUT_SECONDS): until the first byte is written;
 * - idle (REVISION_IDLE_TIMEOUT_SECONDS): the longest gap between writes.
 * 0 turns one off. On expiry the upstream work is stopped (`onExpire`); if nothing was written
 * yet the client gets 504 `request timeout`, otherwise the response is cut off. An Upgrade,
 * answered on its raw socket, has `firstAnswerDeadline` instead.
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

/**
 * The deadlines of a request answered on its raw socket (an Upgrade), until its first answer:
 * they all run from arrival and none has seen a write yet, so the earliest one set decides. The
 * signal aborts with a RequestTimeoutError (never, when every deadline is off); the caller stops
 * listening once the answer came (a switched connection is not bound by them) and writes the 504.
 */
export function firstAnswerDeadline(settings: TimeoutSettings): TimeoutGuard {
  const controller = new AbortController();
  const set = (
    [
      ['total', settings.totalMs],
      ['response-start', settings.responseStartMs],
      ['idle', settings.idleMs],
    ] as const
  ).filter(([, ms]) => ms > 0);
  if (set.length === 0) return { signal: controller.signal, dispose: () => undefined };
  const [kind, ms] = set.reduce((a, b) => (b[1] < a[1] ? b : a));
  const timer = setTimeout(() => controller.abort(new RequestTimeoutError(kind)), ms);
  return { signal: controller.signal, dispose: () => clearTimeout(timer) };
}

export interface Deadlines {
  /** Stops the timers (the response is over). */
  dispose(): void;
}

/**
 * The deadlines of one response, without an AbortController: `onExpire` is called first (stop
 * the upstream work there), then the 504 is written or the response cut off. Only the timers a
 * setting asks for are armed, and the response's write methods are wrapped only for the
 * response-start and idle deadlines (which watch writes). Undefined when every deadline is off.
 */
export function startDeadlines(
  res: AnyResponse,
  settings: TimeoutSettings,
  onExpire: (kind: TimeoutKind) => void,
): Deadlines | undefined {
  const watchWrites = settings.responseStartMs > 0 || settings.idleMs > 0;
  if (!watchWrites && settings.totalMs <= 0) return undefined;
  return new ResponseDeadlines(res, settings, onExpire, watchWrites);
}

/**
 * Node's timers already keep one list per duration, so a setTimeout per request is cheap. Methods
 * and a module-level timer callback, no arrows: one is made per request (see HttpExchange in
 * proxy-forward.ts).
 */
class ResponseDeadlines implements Deadlines, WriteHooks {
  private total: NodeJS.Timeout | undefined;
  private responseStart: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private expired = false;
  private disposed = false;
  private readonly original: OriginalWrites;

  constructor(
    private readonly res: AnyResponse,
    settings: TimeoutSettings,
    private readonly onExpire: (kind: TimeoutKind) => void,
    wrap: boolean,
  ) {
    this.original = wrap ? wrapWrites(res, this) : (res as unknown as OriginalWrites);
    if (settings.totalMs > 0) this.total = setTimeout(expireDeadline, settings.totalMs, this, 'total');
    if (settings.responseStartMs > 0) this.responseStart = setTimeout(expireDeadline, settings.responseStartMs, this, 'response-start');
    if (settings.idleMs > 0) this.idle = setTimeout(expireDeadline, settings.idleMs, this, 'idle');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.total);
    clearTimeout(this.responseStart);
    clearTimeout(this.idle);
  }

  /** WriteHooks: a write came. */
  onWrite(): void {
    if (this.disposed) return;
    if (this.responseStart !== undefined) {
      clearTimeout(this.responseStart);
      this.responseStart = undefined;
    }
    if (this.idle !== undefined) this.idle.refresh();
  }

  /** WriteHooks: the response ends. */
  onEnd(): void {
    this.dispose();
  }

  /** WriteHooks: once a deadline expired, the timeout answer owns the response. */
  blocked(): boolean {
    return this.expired;
  }

  expire(kind: TimeoutKind): void {
    if (this.disposed) return;
    this.dispose();
    this.expired = true;
    this.onExpire(kind);
    const { res } = this;
    if (res.writableEnded || res.destroyed) return;
    if (!res.headersSent) {
      this.original.writeHead(504, { 'content-type': 'text/plain; charset=utf-8' });
      this.original.end(TIMEOUT_MESSAGE);
    } else {
      abortResponse(res);
    }
  }
}

function expireDeadline(deadlines: ResponseDeadlines, kind: TimeoutKind): void {
  deadlines.expire(kind);
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
  return { writeHead, end };
}

/** Cuts a response off mid-way: the client sees a broken connection (HTTP/1) or reset stream (h2). */
export function abortResponse(res: AnyResponse): void {
  if ('stream' in res) res.stream.close(0x8 /* NGHTTP2_CANCEL */);
  else res.destroy();
}
