// Polling with a clear error message, for conditions that become true
// asynchronously (a component is ready, a controller has acted).
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Safety net against hanging forever, not a performance expectation. */
  timeoutMs?: number;
  intervalMs?: number;
  /** Called every round; throw to abort early (e.g. a process died). */
  abortIf?: () => void;
}

/** Polls probe until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let lastError: unknown;
  for (;;) {
    opts.abortIf?.();
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}
