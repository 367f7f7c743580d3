/**
 * Graceful drain (knative/pkg network/handlers/drain.go, used by knative/serving pkg/queue/sharedmain/main.go): once draining, readiness answers 503 so traffic moves away,
 * requests keep being served, and draining completes when a quiet period passes without a new
 * request (each request restarts the period). The caller then stops the servers, letting
 * in-flight requests finish.
 */
export class Drainer {
  private isDraining = false;
  private quietTimer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];

  constructor(private readonly quietPeriodMs: number) {}

  /** True from `drain` until `reset`; a drained queue-proxy keeps failing readiness. */
  get draining(): boolean {
    return this.isDraining;
  }

  /** Starts draining (if not yet) and resolves when the quiet period has passed, or on reset. */
  drain(): Promise<void> {
    if (!this.isDraining) {
      this.isDraining = true;
      this.restartQuietPeriod();
    }
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.quietTimer === undefined) this.releaseWaiters(); // already quiet
    });
  }

  /** Every request calls this; while draining it restarts the quiet period. */
  noteRequest(): void {
    if (this.isDraining) this.restartQuietPeriod();
  }

  /** Stops draining (readiness recovers) and releases anyone waiting in `drain`. */
  reset(): void {
    this.isDraining = false;
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    this.releaseWaiters();
  }

  private restartQuietPeriod(): void {
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => {
      this.quietTimer = undefined;
      this.releaseWaiters();
    }, this.quietPeriodMs);
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const release of waiters) release();
  }
}
