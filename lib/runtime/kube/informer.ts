import { KubeConfig, KubernetesObject, ListPromise, ListWatch, Watch, makeInformer } from '@kubernetes/client-node';
import type { Logger } from '../shared/logger';
import { describeApiError } from './client';

/**
 * client-node's informer (list + watch, not polling) made to survive: after an error event (a
 * dropped or refused watch, a failed list) it restarts with exponential backoff, and every
 * `resyncMs` it hands every cached object to the update handlers again so a missed event is
 * repaired. client-node 1.4 has neither built in.
 */
export interface InformerProps<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** API path, e.g. `/apis/apps/v1/namespaces/default/deployments`. */
  readonly path: string;
  readonly list: ListPromise<T>;
  readonly labelSelector?: string;
  /**
   * E.g. `metadata.name=config-autoscaler`: with it the API server can check a name-limited RBAC
   * rule on list/watch. Give the same selector to `list`.
   */
  readonly fieldSelector?: string;
  readonly logger: Logger;
  /** @default 300000 (5 min); 0 = off */
  readonly resyncMs?: number;
  /** @default 500 */
  readonly initialBackoffMs?: number;
  /** @default 30000 */
  readonly maxBackoffMs?: number;
}

type Handler<T> = (obj: T) => void;

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer;
  private readonly handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncedOnce = false;
  private readonly syncWaiters: Array<() => void> = [];

  constructor(private readonly props: InformerProps<T>) {
    this.backoffMs = props.initialBackoffMs ?? 500;
    // makeInformer takes no field selector; ListWatch (what makeInformer builds) does.
    this.informer = props.fieldSelector
      ? new ListWatch<T>(props.path, new Watch(props.kubeConfig), props.list, false, props.labelSelector, props.fieldSelector)
      : makeInformer<T>(props.kubeConfig, props.path, props.list, props.labelSelector);
    this.informer.on('add', (o) => this.emit('add', o));
    this.informer.on('update', (o) => this.emit('update', o));
    this.informer.on('delete', (o) => this.emit('delete', o));
    this.informer.on('error', (err) => this.onError(err));
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.handlers[event].push(handler);
  }

  /** Cached objects (in one namespace, or all). */
  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  /** Starts, and resolves once the first list has arrived (retrying until it does). */
  start(): Promise<void> {
    this.stopped = false;
    this.connect();
    const resyncMs = this.props.resyncMs ?? 300_000;
    if (resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), resyncMs);
      this.resyncTimer.unref();
    }
    return this.whenSynced();
  }

  whenSynced(): Promise<void> {
    return this.syncedOnce ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.resyncTimer);
    await this.informer.stop();
  }

  private connect(): void {
    if (this.stopped) return;
    this.informer.start().then(
      () => this.onConnected(),
      (err: unknown) => this.onError(err),
    );
  }

  private onConnected(): void {
    // start() also resolves when the list failed (the error went to the error handler); only a
    // list that arrived sets a resourceVersion.
    // makeInformer returns a ListWatch, whose latestResourceVersion() its declared type omits.
    const listWatch = this.informer as unknown as { latestResourceVersion(): string };
    if (listWatch.latestResourceVersion() === '') return;
    this.backoffMs = this.props.initialBackoffMs ?? 500;
    if (this.syncedOnce) return;
    this.syncedOnce = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private onError(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    this.props.logger.warn({ path: this.props.path, err: describeApiError(err), retryInMs: this.backoffMs }, 'watch failed; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.connect();
    }, this.backoffMs);
    this.restartTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.props.maxBackoffMs ?? 30_000);
  }

  private resync(): void {
    for (const obj of this.informer.list()) this.emit('update', obj);
  }

  private emit(event: 'add' | 'update' | 'delete', obj: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj);
      } catch (err) {
        this.props.logger.error({ err, event, path: this.props.path }, 'informer handler failed');
      }
    }
  }
}
