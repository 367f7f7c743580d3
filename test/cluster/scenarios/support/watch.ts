// Timelines of objects as the API server reports them (watch, not polling), so a test can tell
// the order of changes made by different components, e.g. "the public Endpoints pointed at the
// activator before the Deployment reached zero".
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export interface Change<V> {
  readonly at: number;
  readonly value: V;
}

export class Timeline<T extends KubernetesObject, V> {
  readonly changes: Change<V>[] = [];
  private readonly informer;
  private readonly listeners = new Set<(v: V) => void>();

  /**
   * Watches objects under `path` (e.g. `/api/v1/namespaces/NS/endpoints`) named `name` and records
   * `extract(obj)` whenever it differs from the last recorded value.
   */
  constructor(
    kc: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    name: string,
    private readonly extract: (obj: T | undefined) => V,
  ) {
    this.informer = makeInformer<T>(kc, path, list);
    const record = (obj: T | undefined): void => {
      const value = this.extract(obj);
      const last = this.changes.at(-1);
      if (last && JSON.stringify(last.value) === JSON.stringify(value)) return;
      this.changes.push({ at: Date.now(), value });
      for (const l of this.listeners) l(value);
    };
    this.informer.on('add', (o) => o.metadata?.name === name && record(o));
    this.informer.on('update', (o) => o.metadata?.name === name && record(o));
    this.informer.on('delete', (o) => o.metadata?.name === name && record(undefined));
    this.informer.on('error', () => setTimeout(() => void this.informer.start().catch(() => undefined), 300));
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get current(): V | undefined {
    return this.changes.at(-1)?.value;
  }

  /** Calls fn on every new value (synchronously, from the watch event). */
  onChange(fn: (v: V) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** First change at or after `since` whose value satisfies pred. */
  firstAfter(since: number, pred: (v: V) => boolean): Change<V> | undefined {
    return this.changes.find((c) => c.at >= since && pred(c.value));
  }

  describe(): string {
    const t0 = this.changes[0]?.at ?? 0;
    return this.changes.map((c) => `+${c.at - t0}ms ${JSON.stringify(c.value)}`).join('\n');
  }
}
