/**
 * The user container's readiness probe, run by the queue-proxy (kubelet probes the queue-proxy,
 * which probes the app), and by the activator for sidecar-less revisions (data-plane mode
 * `activator`, which reads the probe from the Deployment's serving container). SERVING_READINESS_PROBE holds the probe as JSON after Knative's
 * defaulting (knative/serving pkg/reconciler/revision/resources/queue.go); an array means one probe per container (multi-container probing).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { ProbeUserAgents } from '../../contract/constants';

export type ProbeHandler =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | {
      readonly kind: 'http';
      readonly host: string;
      readonly port: number;
      readonly path: string;
      readonly scheme: 'http' | 'https';
      readonly headers: ReadonlyArray<readonly [string, string]>;
    };

export interface ProbeSpec {
  readonly handler: ProbeHandler;
  /** 0 = aggressive probing (Knative's default for the queue-proxy). */
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly successThreshold: number;
  readonly failureThreshold: number;
}

export class ProbeParseError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`SERVING_READINESS_PROBE: ${field}: ${problem}`);
    this.name = 'ProbeParseError';
  }
}

/** Knative's default when no probe is given: TCP on the user port (knative/serving pkg/apis/serving/v1/revision_defaults.go). */
export function defaultProbe(userPort: number): ProbeSpec {
  return {
    handler: { kind: 'tcp', host: '127.0.0.1', port: userPort },
    periodSeconds: 0,
    timeoutSeconds: 0,
    successThreshold: 1,
    failureThreshold: 3,
  };
}

/** Parses SERVING_READINESS_PROBE (one probe or an array); empty → the default TCP probe. */
export function parseReadinessProbes(json: string | undefined, userPort: number): ProbeSpec[] {
  if (json === undefined || json.trim() === '') return [defaultProbe(userPort)];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new ProbeParseError('(json)', `not valid JSON (${(err as Error).message})`);
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) return [defaultProbe(userPort)];
  return list.map((item, i) => parseProbe(item, Array.isArray(value) ? `[${i}]` : '', userPort));
}

/** One probe object (a container's `readinessProbe`); `at` prefixes the field of an error. */
export function parseProbe(value: unknown, at: string, userPort: number): ProbeSpec {
  const probe = asObject(value, at || '(probe)');
  return {
    handler: parseHandler(probe, at, userPort),
    periodSeconds: wholeNumber(probe.periodSeconds, `${at}.periodSeconds`, 0),
    timeoutSeconds: wholeNumber(probe.timeoutSeconds, `${at}.timeoutSeconds`, 0),
    successThreshold: Math.max(1, wholeNumber(probe.successThreshold, `${at}.successThreshold`, 1)),
    failureThreshold: Math.max(1, wholeNumber(probe.failureThreshold, `${at}.failureThreshold`, 3)),
  };
}

function parseHandler(probe: Record<string, unknown>, at: string, userPort: number): ProbeHandler {
  if (probe.httpGet !== undefined) {
    const get = asObject(probe.httpGet, `${at}.httpGet`);
    const scheme = String(get.scheme ?? 'HTTP').toLowerCase();
    if (scheme !== 'http' && scheme !== 'https') {
      throw new ProbeParseError(`${at}.httpGet.scheme`, `must be HTTP or HTTPS, got "${get.scheme}"`);
    }
    return {
      kind: 'http',
      host: hostOf(get.host),
      port: port(get.port, `${at}.httpGet.port`, userPort),
      path: String(get.path ?? '/') || '/',
      scheme,
      headers: parseHeaders(get.httpHeaders, `${at}.httpGet.httpHeaders`),
    };
  }
  if (probe.tcpSocket !== undefined) {
    const tcp = asObject(probe.tcpSocket, `${at}.tcpSocket`);
    return { kind: 'tcp', host: hostOf(tcp.host), port: port(tcp.port, `${at}.tcpSocket.port`, userPort) };
  }
  // Knative turns exec probes into TCP on the user port before they get here; gRPC health
  // checking is not implemented, so a gRPC probe only checks that the port accepts connections.
  if (probe.grpc !== undefined) {
    const grpc = asObject(probe.grpc, `${at}.grpc`);
    return { kind: 'tcp', host: '127.0.0.1', port: port(grpc.port, `${at}.grpc.port`, userPort) };
  }
  if (probe.exec !== undefined) return { kind: 'tcp', host: '127.0.0.1', port: userPort };
  throw new ProbeParseError(at || '(probe)', 'needs one of httpGet, tcpSocket, grpc, exec');
}

function parseHeaders(value: unknown, at: string): Array<[string, string]> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ProbeParseError(at, 'must be a list of {name, value}');
  return value.map((item, i) => {
    const header = asObject(item, `${at}[${i}]`);
    if (typeof header.name !== 'string' || header.name === '') {
      throw new ProbeParseError(`${at}[${i}].name`, 'must be a non-empty string');
    }
    return [header.name, String(header.value ?? '')];
  });
}

function hostOf(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : '127.0.0.1';
}

function port(value: unknown, at: string, userPort: number): number {
  if (value === undefined || value === null || value === 0 || value === '') return userPort;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ProbeParseError(at, `must be a port number 1-65535, got ${JSON.stringify(value)}`);
  }
  return n;
}

function wholeNumber(value: unknown, at: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ProbeParseError(at, `must be a whole number >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function asObject(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProbeParseError(at, 'must be an object');
  }
  return value as Record<string, unknown>;
}

// --- running probes ---

/** Knative's aggressive probing (periodSeconds 0): knative/serving pkg/queue/readiness/probe.go. */
export interface AggressiveTiming {
  /** Pause between tries. @default 50 ms */
  readonly retryIntervalMs: number;
  /** Timeout of one try. @default 100 ms */
  readonly tryTimeoutMs: number;
  /** Give up after. @default 10 s */
  readonly pollTimeoutMs: number;
}

export const AGGRESSIVE: AggressiveTiming = { retryIntervalMs: 50, tryTimeoutMs: 100, pollTimeoutMs: 10_000 };

const PROBE_USER_AGENT = ProbeUserAgents.QUEUE_PROXY;

/** One try of one handler; resolves true on success (TCP connect, or HTTP status 200-399). */
export function probeOnce(handler: ProbeHandler, timeoutMs: number): Promise<boolean> {
  return handler.kind === 'tcp' ? tcpProbe(handler, timeoutMs) : httpProbe(handler, timeoutMs);
}

function tcpProbe(handler: { host: string; port: number }, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: handler.host, port: handler.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function httpProbe(handler: Extract<ProbeHandler, { kind: 'http' }>, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': PROBE_USER_AGENT, accept: '*/*' };
    for (const [name, value] of handler.headers) headers[name.toLowerCase()] = value;
    const client = handler.scheme === 'https' ? https : http;
    // kubelet does not verify certificates of probed containers; neither do we.
    const req = client.request({
      host: handler.host,
      port: handler.port,
      path: handler.path.startsWith('/') ? handler.path : `/${handler.path}`,
      method: 'GET',
      headers,
      agent: false,
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(ok);
    };
    req.once('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      done(status >= 200 && status < 400);
    });
    req.once('timeout', () => done(false));
    req.once('error', () => done(false));
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs the user's readiness probes. Concurrent callers share one run (kubelet, activator and
 * autoscaler may all ask at once); the app sees one probe at a time.
 */
export class ReadinessProber {
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly specs: readonly ProbeSpec[],
    private readonly aggressive: AggressiveTiming = AGGRESSIVE,
  ) {}

  probe(): Promise<boolean> {
    this.running ??= this.runAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async runAll(): Promise<boolean> {
    const results = await Promise.all(this.specs.map((spec) => this.runOne(spec)));
    return results.every(Boolean);
  }

  private runOne(spec: ProbeSpec): Promise<boolean> {
    if (spec.periodSeconds === 0) return this.pollAggressively(spec);
    return probeOnce(spec.handler, Math.max(1, spec.timeoutSeconds) * 1000);
  }

  /** Tries every retryInterval until successThreshold successes in a row, or the poll timeout. */
  private async pollAggressively(spec: ProbeSpec): Promise<boolean> {
    const deadline = Date.now() + this.aggressive.pollTimeoutMs;
    let successes = 0;
    for (;;) {
      successes = (await probeOnce(spec.handler, this.aggressive.tryTimeoutMs)) ? successes + 1 : 0;
      if (successes >= spec.successThreshold) return true;
      if (Date.now() + this.aggressive.retryIntervalMs >= deadline) return false;
      await sleep(this.aggressive.retryIntervalMs);
    }
  }
}
