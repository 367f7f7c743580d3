// Bounded load: a fixed number of concurrent workers, each sending one request after another until
// a request budget, a time budget or a stop condition runs out. Every result is tallied, so a test
// can assert that nothing failed (or failed only in the ways the design allows).
import type { HttpResult } from './http';

export interface LoadOptions {
  readonly concurrency: number;
  /** Hard cap on requests sent. */
  readonly maxRequests: number;
  /** Hard cap on wall time; workers stop starting new requests after it. */
  readonly maxDurationMs: number;
  /** Checked before each request; true stops the load early. */
  readonly until?: () => boolean;
  readonly send: (worker: number, seq: number) => Promise<HttpResult>;
  /** Called with every result and when its request was sent and ended (epoch ms). */
  readonly onResult?: (result: HttpResult, sentAt: number, endedAt: number) => void;
}

export interface LoadReport {
  readonly total: number;
  readonly byStatus: Record<string, number>;
  /** Up to 20 results that were not 200, for failure messages. */
  readonly failures: HttpResult[];
  readonly durationMs: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  const started = Date.now();
  const deadline = started + opts.maxDurationMs;
  const byStatus: Record<string, number> = {};
  const failures: HttpResult[] = [];
  let sent = 0;
  const worker = async (id: number): Promise<void> => {
    while (sent < opts.maxRequests && Date.now() < deadline && !opts.until?.()) {
      const seq = sent++;
      const sentAt = Date.now();
      const r = await opts.send(id, seq);
      opts.onResult?.(r, sentAt, Date.now());
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      if (r.status !== 200 && failures.length < 20) failures.push(r);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)));
  return { total: sent, byStatus, failures, durationMs: Date.now() - started };
}

/** Requests that ended with any status at all (status 0: a connection error), i.e. none hung or got lost. */
export function answered(r: LoadReport): number {
  return Object.values(r.byStatus).reduce((a, b) => a + b, 0);
}

/** One line for assertion messages. */
export function describeLoad(r: LoadReport): string {
  const fails = r.failures.slice(0, 5).map((f) => `${f.status} ${f.body.slice(0, 120).replace(/\s+/g, ' ')}`);
  return `${r.total} requests in ${r.durationMs}ms, by status ${JSON.stringify(r.byStatus)}${fails.length ? `; e.g. ${fails.join(' | ')}` : ''}`;
}
