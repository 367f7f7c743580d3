import { BackendOptions, PodSet, RevisionBackend } from './revision-backend';
import { RevisionInfo, revisionKey } from './revision';

/**
 * The revisions this activator knows, by `namespace/revision`. Sources (the static file, or the
 * Deployments and Endpoints informers) feed it; pods may be reported before the revision itself,
 * so they are kept until it arrives.
 */
export class RevisionRegistry {
  private readonly backends = new Map<string, RevisionBackend>();
  private readonly pendingPods = new Map<string, PodSet>();
  private readonly pendingActivators = new Map<string, readonly string[]>();

  private readonly removedListeners: Array<(namespace: string, revision: string) => void> = [];

  constructor(private readonly options: BackendOptions) {}

  /** Told after a revision left the registry (e.g. to remove its metric series). */
  onRemoved(listener: (namespace: string, revision: string) => void): void {
    this.removedListeners.push(listener);
  }

  get(namespace: string, revision: string): RevisionBackend | undefined {
    return this.backends.get(revisionKey(namespace, revision));
  }

  all(): IterableIterator<RevisionBackend> {
    return this.backends.values();
  }

  upsert(info: RevisionInfo): RevisionBackend {
    const key = revisionKey(info.namespace, info.revision);
    const existing = this.backends.get(key);
    if (existing) {
      existing.updateInfo(info);
      return existing;
    }
    const backend = new RevisionBackend(info, this.options);
    this.backends.set(key, backend);
    const activators = this.pendingActivators.get(key);
    if (activators) backend.setActivators(activators);
    const pods = this.pendingPods.get(key);
    if (pods) backend.setPods(pods);
    this.pendingPods.delete(key);
    this.pendingActivators.delete(key);
    return backend;
  }

  remove(namespace: string, revision: string): void {
    const key = revisionKey(namespace, revision);
    const backend = this.backends.get(key);
    backend?.stop();
    this.backends.delete(key);
    this.pendingPods.delete(key);
    this.pendingActivators.delete(key);
    if (backend) for (const listener of this.removedListeners) listener(namespace, revision);
  }

  setPods(namespace: string, revision: string, pods: PodSet): void {
    const key = revisionKey(namespace, revision);
    const backend = this.backends.get(key);
    if (backend) backend.setPods(pods);
    else this.pendingPods.set(key, pods);
  }

  /** The addresses of the revision's public Endpoints (activators in Proxy mode). */
  setActivators(namespace: string, revision: string, ips: readonly string[]): void {
    const key = revisionKey(namespace, revision);
    const backend = this.backends.get(key);
    if (backend) backend.setActivators(ips);
    else this.pendingActivators.set(key, ips);
  }

  stop(): void {
    for (const b of this.backends.values()) b.stop();
    this.backends.clear();
  }
}
