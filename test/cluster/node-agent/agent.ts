// The node agent: the test's stand-in for a kubelet (and, since the harness has no scheduler, for
// the scheduler's binding step). It registers a Node, binds every pending Pod to it, and runs each
// bound Pod with a PodWorker. Level-triggered: a pod informer (watch) wakes a reconcile pass,
// and a periodic pass retries whatever failed (a binding conflict, a dropped watch).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException, CoreV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1Pod,
} from '@kubernetes/client-node';
import type { ImageRule } from './images';
import { NodeRegistration } from './node-registration';
import type { PodNetwork } from './network';
import { PodWorker } from './pod-worker';

export interface NodeAgentOptions {
  /** Admin client: binds pods, writes their status, requests ServiceAccount tokens. */
  readonly kubeConfig: KubeConfig;
  readonly network: PodNetwork;
  readonly images: readonly ImageRule[];
  /** The API server as pods reach it (on the pod bridge) and its CA file. */
  readonly podApiServer: { readonly server: string; readonly caFile: string };
  /** @default 'kservice-node' */
  readonly nodeName?: string;
  /** Per-pod log directories go here. @default a new temp dir */
  readonly logDir?: string;
  /** @default 500 */
  readonly probePeriodMs?: number;
  /** @default 300 */
  readonly restartBackoffMs?: number;
}

function key(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

export class NodeAgent {
  static async start(opts: NodeAgentOptions): Promise<NodeAgent> {
    const nodeName = opts.nodeName ?? 'kservice-node';
    const registration = await NodeRegistration.register(opts.kubeConfig, { name: nodeName, internalIP: opts.network.hostIp });
    const agent = new NodeAgent(opts, nodeName, registration);
    await agent.startInformer();
    agent.resync = setInterval(() => agent.reconcile(), 1000);
    return agent;
  }

  readonly nodeName: string;
  readonly logDir: string;
  private readonly core: CoreV1Api;
  private readonly workers = new Map<string, PodWorker>();
  /** Workers whose Pod is being deleted, kept until their processes are gone. */
  private readonly finishing = new Set<PodWorker>();
  private readonly binding = new Set<string>();
  private informer: (Informer<V1Pod> & ObjectCache<V1Pod>) | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly errors: string[] = [];

  private constructor(private readonly opts: NodeAgentOptions, nodeName: string, private readonly registration: NodeRegistration) {
    this.nodeName = nodeName;
    this.logDir = opts.logDir ?? mkdtempSync(join(tmpdir(), 'kservice-node-'));
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** The worker of a running pod (by namespace/name), for tests that poke at processes. */
  worker(namespace: string, name: string): PodWorker | undefined {
    return this.workers.get(`${namespace}/${name}`);
  }

  allWorkers(): PodWorker[] {
    return [...this.workers.values()];
  }

  /** Every log file of every pod this agent ran, for failure messages. */
  describeLogs(): string {
    const lines = [`node agent logs under ${this.logDir}`];
    for (const w of [...this.workers.values(), ...this.finishing]) {
      lines.push(`  ${w.key} (${w.podIP ?? 'no ip'}):`);
      for (const [c, f] of Object.entries(w.logFiles())) lines.push(`    ${c}: ${f}`);
      for (const e of w.events.slice(-5)) lines.push(`    event ${e}`);
    }
    for (const e of this.errors.slice(-10)) lines.push(`  agent error: ${e}`);
    return lines.join('\n');
  }

  /** Kills all pods at once (no grace: the control plane goes away next) and deregisters the node. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    await this.informer?.stop().catch(() => undefined);
    const all = [...this.workers.values(), ...this.finishing];
    await Promise.all(all.map((w) => w.kill()));
    this.workers.clear();
    this.finishing.clear();
    await this.registration.deregister();
  }

  private async startInformer(): Promise<void> {
    const informer = makeInformer<V1Pod>(this.opts.kubeConfig, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    const wake = (): void => this.reconcile();
    informer.on('add', wake);
    informer.on('update', wake);
    informer.on('delete', wake);
    informer.on('error', (err: unknown) => {
      this.errors.push(`pod watch: ${err instanceof Error ? err.message : String(err)}`);
      // The informer stops on errors; start it again unless the agent is shutting down.
      if (!this.stopped) setTimeout(() => void informer.start().catch(() => undefined), 500);
    });
    this.informer = informer;
    await informer.start();
  }

  /** One pass over the cached pods: bind pending ones, start new ones, pass updates, clean up. */
  private reconcile(): void {
    if (this.stopped || !this.informer) return;
    const pods = this.informer.list();
    const present = new Set<string>();
    for (const pod of pods) {
      const k = key(pod);
      if (!pod.spec?.nodeName) {
        if (!pod.metadata?.deletionTimestamp) this.bind(pod);
        continue;
      }
      if (pod.spec.nodeName !== this.nodeName) continue;
      present.add(k);
      this.sync(pod);
    }
    for (const [k, w] of this.workers) {
      if (present.has(k)) continue;
      // Deleted from the API without us (force delete or our own final delete).
      this.workers.delete(k);
      this.finishing.add(w);
      void w.settled().then(() => w.kill()).finally(() => this.finishing.delete(w));
    }
  }

  private sync(pod: V1Pod): void {
    const k = key(pod);
    let w = this.workers.get(k);
    if (w && w.uid !== pod.metadata?.uid) {
      // Same name, new pod (StatefulSet-style): the old one is gone.
      this.workers.delete(k);
      this.finishing.add(w);
      const old = w;
      void old.kill().finally(() => this.finishing.delete(old));
      w = undefined;
    }
    if (!w) {
      if (pod.metadata?.deletionTimestamp || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      w = new PodWorker({
        admin: this.opts.kubeConfig,
        nodeName: this.nodeName,
        network: this.opts.network,
        images: this.opts.images,
        logDir: this.logDir,
        podApiServer: this.opts.podApiServer,
        probePeriodMs: this.opts.probePeriodMs ?? 500,
        restartBackoffMs: this.opts.restartBackoffMs ?? 300,
      }, pod);
      this.workers.set(k, w);
      void w.start();
    }
    w.update(pod);
  }

  /** pods/binding, the scheduler's write. A conflict means someone else bound it: fine. */
  private bind(pod: V1Pod): void {
    const k = key(pod);
    if (this.binding.has(k)) return;
    this.binding.add(k);
    this.core
      .createNamespacedPodBinding({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.metadata?.name, uid: pod.metadata?.uid }, target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName } },
      })
      .catch((e: unknown) => {
        if (!(e instanceof ApiException && (e.code === 409 || e.code === 404))) this.errors.push(`bind ${k}: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => this.binding.delete(k));
  }
}
