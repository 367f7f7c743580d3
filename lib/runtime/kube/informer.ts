import { KubeConfig, KubernetesListObject, KubernetesObject, ListPromise, ListWatch, Watch, type V1Deployment, type V1Endpoints } from '@kubernetes/client-node';
import { Labels } from '../../contract/constants';
import type { Logger } from '../shared/logger';
import { describeApiError, type KubeClients } from './client';

/**
 * client-node's informer (list + watch, not polling) made to survive and to stay cheap, the way
 * client-go's reflector does (k8s.io/client-go tools/cache/reflector.go):
 *
 * - every watch asks for bookmarks (`allowWatchBookmarks=true`), so the last resourceVersion
 *   advances even while no selected object changes; when the API server ends a watch (its
 *   `timeoutSeconds`, a restart) the informer resumes from that version instead of relisting, and
 *   relists only when the API server answers 410 Gone (the version was compacted away);
 * - the watch timeout is jittered in [min, 2 × min) (client-go's `minWatchTimeout`), so the
 *   watches of many processes do not all end together;
 * - after an error (a refused watch, a failed list) it retries with exponential backoff and full
 *   jitter (client-go: 800 ms doubling to 30 s, jitter 1.0);
 * - every `resyncMs` it hands every cached object to the update handlers again (no API call), so
 *   an event a handler lost is repaired.
 *
 * client-node 1.4 does none of these itself: its ListWatch resumes from the last version, but
 * without bookmarks that version goes stale in a quiet namespace and the resume ends in a relist.
 */
export interface InformerProps<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** API path, e.g. `/apis/apps/v1/deployments` (cluster-wide) or `/apis/apps/v1/namespaces/default/deployments`. */
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
  /** @default 800 (client-go's reflector) */
  readonly initialBackoffMs?: number;
  /** @default 30000 */
  readonly maxBackoffMs?: number;
  /** The API server ends each watch after a random time in [this, 2 × this) seconds. @default 300 (client-go's minWatchTimeout) */
  readonly minWatchTimeoutSeconds?: number;
}

type Handler<T> = (obj: T) => void;

/** A Watch that asks for bookmarks and a jittered server-side timeout on every request. */
class BookmarkingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly minTimeoutSeconds: number,
  ) {
    super(config);
  }

  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    const timeoutSeconds = Math.floor(this.minTimeoutSeconds * (1 + Math.random()));
    return super.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds }, callback, done);
  }
}

/** A delay in [ms, 2 × ms): full jitter, so processes that failed together retry apart. */
export function jittered(ms: number): number {
  return ms * (1 + Math.random());
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly handlers = { add: [] as Handler<T>[], update: [] as Handler<T>[], delete: [] as Handler<T>[] };
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncedOnce = false;
  private readonly syncWaiters: Array<() => void> = [];

  constructor(private readonly props: InformerProps<T>) {
    this.backoffMs = props.initialBackoffMs ?? 800;
    const watch = new BookmarkingWatch(props.kubeConfig, props.minWatchTimeoutSeconds ?? 300);
    this.informer = new ListWatch<T>(props.path, watch, props.list, false, props.labelSelector, props.fieldSelector);
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

  /** The version the next watch resumes from: the last list's, event's or bookmark's ('' = relist). */
  get resourceVersion(): string {
    return this.informer.latestResourceVersion();
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
    if (this.resourceVersion === '') return;
    this.backoffMs = this.props.initialBackoffMs ?? 800;
    if (this.syncedOnce) return;
    this.syncedOnce = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private onError(err: unknown): void {
    if (this.stopped || this.restartTimer) return;
    const retryInMs = Math.round(jittered(this.backoffMs));
    this.props.logger.warn({ path: this.props.path, err: describeApiError(err), retryInMs }, 'watch failed; restarting');
    // connect() resumes the watch from the last resourceVersion; it lists only when there is none.
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.connect();
    }, retryInMs);
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

/** A resource the runtime watches: where it lives, and how to list it in one namespace or in all. */
export interface WatchedResource<T extends KubernetesObject> {
  /** `/apis/apps/v1` or `/api/v1`. */
  readonly apiPrefix: string;
  /** Plural, e.g. `deployments`. */
  readonly plural: string;
  readonly list: (namespace: string | undefined, labelSelector: string) => Promise<KubernetesListObject<T>>;
}

export interface SelectedInformerProps<T extends KubernetesObject> extends Omit<InformerProps<T>, 'path' | 'list' | 'labelSelector' | 'fieldSelector'> {
  readonly resource: WatchedResource<T>;
  /** Required: cluster-wide, the label is what keeps the cache to the runtime's own objects. */
  readonly labelSelector: string;
  /**
   * Empty (the default, and what the compiled runtime uses): one watch across all namespaces, so
   * the number of watches does not grow with namespaces and a new namespace is served as soon as
   * its objects appear. Otherwise one watch per listed namespace (for installs that grant reads
   * only by namespaced Roles).
   */
  readonly namespaces?: readonly string[];
}

/**
 * One label-selected informer for a resource, cluster-wide (Knative's way: knative.dev/pkg
 * injection informers filtered by label), or one per namespace when restricted; read by
 * namespace either way.
 */
export class SelectedInformer<T extends KubernetesObject> {
  private readonly clusterWide: ResilientInformer<T> | undefined;
  private readonly byNamespace = new Map<string, ResilientInformer<T>>();

  constructor(props: SelectedInformerProps<T>) {
    const { resource, namespaces = [], labelSelector, ...common } = props;
    const informer = (namespace?: string) =>
      new ResilientInformer<T>({
        ...common,
        path: namespace === undefined ? `${resource.apiPrefix}/${resource.plural}` : `${resource.apiPrefix}/namespaces/${namespace}/${resource.plural}`,
        list: () => resource.list(namespace, labelSelector),
        labelSelector,
      });
    if (namespaces.length === 0) this.clusterWide = informer();
    for (const namespace of namespaces) this.byNamespace.set(namespace, informer(namespace));
  }

  private get informers(): ResilientInformer<T>[] {
    return this.clusterWide ? [this.clusterWide] : [...this.byNamespace.values()];
  }

  on(event: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    for (const informer of this.informers) informer.on(event, handler);
  }

  get(name: string, namespace: string): T | undefined {
    return (this.clusterWide ?? this.byNamespace.get(namespace))?.get(name, namespace);
  }

  list(namespace: string): readonly T[] {
    return (this.clusterWide ?? this.byNamespace.get(namespace))?.list(namespace) ?? [];
  }

  /** Resolves once every watch has its first list. */
  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

/**
 * The revisions' Deployments (label `serving.knative.dev/revision`) and the revisions' public and
 * private Endpoints (label `networking.internal.knative.dev/serverlessservice`, which the compiled
 * Services carry, the endpoints controller copies onto the private Endpoints, and the runtime
 * sets on the public ones it creates: contract/autoscaling.ts serverlessServiceMetadata). The
 * activator and the autoscaler each hold one informer of each, whatever the number of namespaces.
 */
export function revisionInformers(
  kube: KubeClients,
  namespaces: readonly string[],
  logger: Logger,
): { deployments: SelectedInformer<V1Deployment>; endpoints: SelectedInformer<V1Endpoints> } {
  const common = { kubeConfig: kube.config, logger, namespaces };
  return {
    deployments: new SelectedInformer<V1Deployment>({
      ...common,
      labelSelector: Labels.REVISION,
      resource: {
        apiPrefix: '/apis/apps/v1',
        plural: 'deployments',
        list: (namespace, labelSelector) =>
          namespace === undefined ? kube.apps.listDeploymentForAllNamespaces({ labelSelector }) : kube.apps.listNamespacedDeployment({ namespace, labelSelector }),
      },
    }),
    endpoints: new SelectedInformer<V1Endpoints>({
      ...common,
      labelSelector: Labels.SERVERLESS_SERVICE,
      resource: {
        apiPrefix: '/api/v1',
        plural: 'endpoints',
        list: (namespace, labelSelector) =>
          namespace === undefined ? kube.core.listEndpointsForAllNamespaces({ labelSelector }) : kube.core.listNamespacedEndpoints({ namespace, labelSelector }),
      },
    }),
  };
}
