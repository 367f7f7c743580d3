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

  constructor(private readonly options: BackendOptions) {}

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
    const pods = this.pendingPods.get(key);
    if (pods) backend.setPods(pods);
    this.pendingPods.delete(key);
    return backend;
  }

  remove(namespace: string, revision: string): void {
    const key = revisionKey(namespace, revision);
    this.backends.get(key)?.stop();
    this.backends.delete(key);
    this.pendingPods.delete(key);
  }

  setPods(namespace: string, revision: string, pods: PodSet): void {
    const key = revisionKey(namespace, revision);
    const backend = this.backends.get(key);
    if (backend) backend.setPods(pods);
    else this.pendingPods.set(key, pods);
  }

  stop(): void {
    for (const b of this.backends.values()) b.stop();
    this.backends.clear();
  }
}
