import type { V1EndpointSubset } from '@kubernetes/client-node';
import { autoscalingAnnotationsOf, parseAutoscaling, ResolvedAutoscaling } from '../../contract/autoscaling';
import { activatorAlwaysInPath, scaleOwner, selectsPods } from '../../contract/data-plane';
import type { ServingConfig } from '../../contract/config';
import { Ports } from '../../contract/constants';
import { Names } from '../../contract/naming';
import type { RevisionDeployment } from '../kube/revision-deployment';
import type { ScrapedRevision } from './collector';
import type { Lane, WorkQueue } from '../kube/work-queue';
import type { Logger } from '../shared/logger';
import { activatorsWithASlot } from '../../contract/activator-subsetting';
import { Decision, KpaDecider, MetricSample, numActivators } from './kpa';
import type { AutoscalerMetrics } from './metrics';
import { effectiveMode, publicEndpointsSubsets, sameSubsets } from './public-endpoints';
import { EndpointsMode, RevisionScaler, SCALE_UNKNOWN } from './scaler';
import { deciderSpecOf, scalerSpecOf } from './spec';

/**
 * The autoscaler's reconciler: for every revision, the decider (KPA class) and the scaler's
 * answer become replicas on the Deployment's scale subresource and addresses in the revision's
 * public Endpoints. What it reads and writes in the cluster goes through `ClusterView` and
 * `ClusterWriter`, so the logic runs the same against informers and the API server (main.ts) or
 * against plain objects in unit tests.
 *
 * Invariant: a revision is scaled to zero only after its public Endpoints were written to (and
 * acknowledged as) the activators, so no request is routed to a terminating pod.
 */
export interface ClusterView {
  /** Ready pod IPs of the revision's private Endpoints, sorted. */
  readyPodIps(namespace: string, revision: string): readonly string[];
  /** Ready activator pod IPs (activator-service Endpoints), sorted. */
  activatorIps(): readonly string[];
  /** The public Endpoints' subsets as last seen; undefined when the object does not exist. */
  publicSubsets(namespace: string, name: string): readonly V1EndpointSubset[] | undefined;
}

export interface ClusterWriter {
  setReplicas(namespace: string, deployment: string, replicas: number): Promise<void>;
  writePublicSubsets(namespace: string, name: string, subsets: V1EndpointSubset[]): Promise<void>;
}

export interface ControllerDeps {
  readonly view: ClusterView;
  readonly writer: ClusterWriter;
  readonly metrics: AutoscalerMetrics;
  readonly logger: Logger;
  /**
   * Whether this replica writes for the revision now: it holds the Lease of the revision's bucket
   * (./buckets.ts). Asked again when a queued write runs, so a lost bucket writes nothing more.
   */
  readonly isLeader: (namespace: string, revision: string) => boolean;
  readonly config: ServingConfig;
  /**
   * The one queue of API writes (../kube/work-queue.ts), keyed per object: a reconcile hands its
   * writes over and does not wait for them, so reconciles never pile up behind a slow API server,
   * and each write's effects (the Proxy acknowledgement, the cold start's start) are dated when it
   * ran. Without it (unit tests) every write runs at once and the reconcile waits for it.
   */
  readonly writes?: WorkQueue;
}

interface RevisionState {
  deployment: RevisionDeployment;
  autoscaling: ResolvedAutoscaling;
  /** Undefined for HPA-class revisions: the HPA scales them, we only keep their Endpoints. */
  decider: KpaDecider | undefined;
  scaler: RevisionScaler;
  lastDecision: Decision | undefined;
  /** Since when the public Endpoints are acknowledged on the activators. */
  proxySinceMs: number | undefined;
  lastWrite: { subsets: V1EndpointSubset[]; atMs: number } | undefined;
  /** Subsets handed to the write queue and not written yet: no scale to zero meanwhile. */
  pendingSubsets: V1EndpointSubset[] | undefined;
  /** When replicas went from 0 up, until the first pod is ready. */
  coldStartAtMs: number | undefined;
  /** Reconciles of one revision run one after the other. */
  queue: Promise<void>;
}

/** The informer cache may lag our own write by this much before we write again. */
const CACHE_LAG_MS = 5000;

export class AutoscalerController {
  private readonly revisions = new Map<string, RevisionState>();
  private config: ServingConfig;

  constructor(private readonly deps: ControllerDeps) {
    this.config = deps.config;
  }

  has(namespace: string, revision: string): boolean {
    return this.revisions.has(key(namespace, revision));
  }

  /**
   * Revisions the KPA scales (the scraper's work list). `scrapePods` is false for sidecar-less
   * revisions (mode `activator`): their pods have no queue-proxy metrics port, and every request
   * passes an activator, so the activators' numbers are the whole revision's. Pods ready for less
   * than the stable window are scraped last (knative/serving stats_scraper.go, young pods).
   */
  kpaRevisions(): ScrapedRevision[] {
    const out: ScrapedRevision[] = [];
    for (const s of this.revisions.values()) {
      if (!s.decider) continue;
      const { namespace, revision } = s.deployment;
      out.push({ namespace, revision, scrapePods: !activatorAlwaysInPath(s.deployment.dataPlane), youngPodCutoffMs: s.decider.currentSpec.stableWindowMs });
    }
    return out;
  }

  /** config-autoscaler changed: every revision's settings are resolved again. */
  setConfig(config: ServingConfig, nowMs: number): void {
    this.config = config;
    for (const s of this.revisions.values()) this.upsertRevision(s.deployment, nowMs);
  }

  upsertRevision(d: RevisionDeployment, nowMs: number): void {
    const k = key(d.namespace, d.revision);
    if (selectsPods(d.dataPlane)) {
      // Kubernetes fills its public Endpoints (the Service selects the pods) and nothing of ours
      // scales it: the runtime leaves it alone.
      if (this.revisions.has(k)) this.removeRevision(d.namespace, d.revision);
      return;
    }
    const parsed = parseAutoscaling(autoscalingAnnotationsOf(d.annotations), this.config, d.containerConcurrency);
    if (parsed.problems.length > 0) {
      this.deps.logger.warn({ namespace: d.namespace, revision: d.revision, problems: parsed.problems }, 'bad autoscaling annotations; defaults used for those');
    }
    const a = parsed.value;
    if (a.metricAggregationAlgorithm !== 'linear') {
      // Not implemented here: the windows average linearly, as with Knative's default.
      this.deps.logger.warn({ namespace: d.namespace, revision: d.revision, algorithm: a.metricAggregationAlgorithm }, 'metric aggregation algorithm not supported; using linear');
    }
    // Only the revisions whose scale we own get a decider; HPA and third-party classes are scaled
    // by someone else, and we only keep their public Endpoints (Serve mode).
    const isKpa = scaleOwner(a.class, d.dataPlane) === 'autoscaler';
    const existing = this.revisions.get(k);
    if (existing && (existing.decider !== undefined) === isKpa) {
      existing.deployment = d;
      existing.autoscaling = a;
      existing.decider?.updateSpec(deciderSpecOf(a));
      existing.scaler.updateSpec(scalerSpecOf(a, d.progressDeadlineSeconds));
      return;
    }
    const ready = this.deps.view.readyPodIps(d.namespace, d.revision).length;
    this.revisions.set(k, {
      deployment: d,
      autoscaling: a,
      decider: isKpa ? new KpaDecider(deciderSpecOf(a), nowMs, ready) : undefined,
      scaler: new RevisionScaler(scalerSpecOf(a, d.progressDeadlineSeconds), nowMs, d.replicas, ready, isFresh(d)),
      lastDecision: undefined,
      proxySinceMs: existing?.proxySinceMs,
      lastWrite: undefined,
      pendingSubsets: undefined,
      coldStartAtMs: undefined,
      queue: Promise.resolve(),
    });
  }

  removeRevision(namespace: string, revision: string): void {
    this.revisions.delete(key(namespace, revision));
    this.deps.metrics.forget({ namespace, revision });
  }

  /** One combined sample of the revision's load (queue-proxies + activators). */
  record(namespace: string, revision: string, sample: MetricSample, nowMs: number): void {
    this.revisions.get(key(namespace, revision))?.decider?.record(nowMs, sample);
  }

  /** The 2 s tick: decide and reconcile every revision. */
  async tick(nowMs: number): Promise<void> {
    await Promise.all([...this.revisions.values()].map((s) => this.enqueue(s, nowMs, true)));
  }

  /** Pods or activators changed: reconcile with the last decision (no new decision). */
  async onPodsChanged(namespace: string, revision: string, nowMs: number): Promise<void> {
    const s = this.revisions.get(key(namespace, revision));
    if (s) await this.enqueue(s, nowMs, false);
  }

  async onActivatorsChanged(nowMs: number): Promise<void> {
    await Promise.all([...this.revisions.values()].map((s) => this.enqueue(s, nowMs, false)));
  }

  /**
   * A request reached an activator for a revision with no ready pod: count it at once (as
   * Knative's activator sends `{concurrency: 1}` on the first request) and, if the revision is
   * at zero, decide now instead of at the next tick. False for an unknown revision.
   */
  async poke(namespace: string, revision: string, nowMs: number): Promise<boolean> {
    const s = this.revisions.get(key(namespace, revision));
    if (!s) return false;
    s.decider?.record(nowMs, { concurrency: 1, rps: 1 });
    if (s.deployment.replicas === 0) await this.enqueue(s, nowMs, true, 'poke');
    return true;
  }

  private enqueue(s: RevisionState, nowMs: number, decide: boolean, cause?: 'poke'): Promise<void> {
    s.queue = s.queue
      .then(() => this.reconcile(s, nowMs, decide, cause))
      .catch((err: unknown) =>
        this.deps.logger.error({ namespace: s.deployment.namespace, revision: s.deployment.revision, err: String(err) }, 'reconcile failed'),
      );
    return s.queue;
  }

  private async reconcile(s: RevisionState, nowMs: number, decide: boolean, cause?: 'poke'): Promise<void> {
    if (!this.owns(s)) return this.standBy(s);
    const { namespace, revision } = s.deployment;
    const ready = this.deps.view.readyPodIps(namespace, revision).length;
    this.observeColdStart(s, ready, nowMs);
    let wanted: EndpointsMode = 'Serve';
    let replicas: number | undefined;
    if (s.decider) {
      if (decide) {
        const d = s.decider.decide(nowMs, ready);
        if (d.valid) s.lastDecision = d;
        // One line per scale-from-zero poke (rare); the bench's cold-start timeline reads it.
        if (cause === 'poke') this.deps.logger.info({ namespace, revision, desiredPods: d.desiredPods, valid: d.valid }, 'decided on a poke');
      }
      const out = s.scaler.step({
        nowMs,
        desiredPods: s.lastDecision?.desiredPods ?? SCALE_UNKNOWN,
        // Before the first decision the activator stays in the path (Knative creates SKS in Proxy).
        excessBurstCapacity: s.lastDecision?.excessBurstCapacity ?? (s.autoscaling.targetBurstCapacity === 0 ? 0 : -1),
        readyPods: ready,
        currentReplicas: s.deployment.replicas,
        proxySinceMs: s.proxySinceMs,
      });
      wanted = out.mode;
      replicas = out.applyReplicas;
      this.recordGauges(s, out.want, ready);
    }
    // From zero the scale write goes first: the new pod's start is the long pole of a cold start,
    // and an Endpoints write (rare at zero: they are already on the activators) need not delay it.
    // Towards zero the order matters the other way (applyReplicas needs Proxy acknowledged).
    if (replicas !== undefined && replicas > 0 && s.deployment.replicas === 0) {
      await this.applyReplicas(s, replicas, nowMs);
      await this.syncPublicEndpoints(s, wanted, ready, nowMs);
      return;
    }
    await this.syncPublicEndpoints(s, wanted, ready, nowMs);
    if (replicas !== undefined) await this.applyReplicas(s, replicas, nowMs);
  }

  private async syncPublicEndpoints(s: RevisionState, wanted: EndpointsMode, ready: number, nowMs: number): Promise<void> {
    const { namespace, revision } = s.deployment;
    const { view, writer, logger } = this.deps;
    const activators = view.activatorIps();
    const alwaysInPath = activatorAlwaysInPath(s.deployment.dataPlane);
    if (alwaysInPath && activators.length === 0) {
      // Its pods cannot serve the public port themselves: the last activators written stay (a
      // stale address beats none) and nothing scales to zero until activators are back.
      s.proxySinceMs = undefined;
      return;
    }
    const mode = alwaysInPath ? 'Proxy' : effectiveMode(wanted, ready, activators.length);
    const subsets = publicEndpointsSubsets({
      mode,
      podIps: view.readyPodIps(namespace, revision),
      activatorIps: activators,
      numActivators: this.activatorsFor(s, ready, activators.length),
      subsetKey: key(namespace, revision),
      h2c: s.deployment.queuePort === Ports.QUEUE_H2C,
    });
    const name = Names.publicService(revision);
    // Undefined: the object does not exist (a GitOps engine left it out, as Argo CD 3.x does by
    // default); the writer creates it.
    const current = view.publicSubsets(namespace, name);
    const stale = (current === undefined || !sameSubsets(current, subsets)) && !justWritten(s, subsets, nowMs);
    // While an earlier write waits in the queue, the latest subsets replace it even when the cache
    // already shows them: the queued one must not be the last written.
    if (stale || s.pendingSubsets !== undefined) {
      s.pendingSubsets = subsets;
      // Proxy to Proxy (only the activators changed, e.g. every revision after an activator was
      // replaced) may wait behind scale writes and mode flips.
      const lane: Lane = mode === 'Proxy' && s.proxySinceMs !== undefined ? 'slow' : 'fast';
      await this.write(s, `endpoints/${namespace}/${name}`, lane, nowMs, async (atMs) => {
        // Decided again when the write runs, from what is known then: a reconcile that ran while
        // an earlier write of the same subsets was in flight queued this one behind it, possibly
        // far behind (the slow lane of a mass rewrite) and past CACHE_LAG_MS.
        if (!this.alreadyThere(s, namespace, name, subsets, atMs)) {
          await writer.writePublicSubsets(namespace, name, subsets);
          s.lastWrite = { subsets, atMs };
          const what = current === undefined ? 'public Endpoints created' : 'public Endpoints written';
          logger.info({ namespace, revision, mode, addresses: subsets[0]?.addresses?.length ?? 0 }, what);
        }
        if (s.pendingSubsets === subsets) s.pendingSubsets = undefined;
        this.endpointsAcknowledged(s, mode, atMs);
      });
      return;
    }
    this.endpointsAcknowledged(s, mode, nowMs);
  }

  /**
   * Whether the object already has these subsets as far as we know now, so that writing them
   * would change nothing: our own write of them is recent (the cache may not show it yet), or the
   * cache shows them and no write of ours with other subsets can be ahead of the cache.
   */
  private alreadyThere(s: RevisionState, namespace: string, name: string, subsets: readonly V1EndpointSubset[], nowMs: number): boolean {
    if (justWritten(s, subsets, nowMs)) return true;
    const cached = this.deps.view.publicSubsets(namespace, name);
    return cached !== undefined && sameSubsets(cached, subsets) && (s.lastWrite === undefined || sameSubsets(s.lastWrite.subsets, subsets));
  }

  private owns(s: RevisionState): boolean {
    return this.deps.isLeader(s.deployment.namespace, s.deployment.revision);
  }

  /**
   * The revision's bucket is not ours (any more): nothing is decided here, since nothing is
   * scraped here, and the last decision is dropped, so that a later takeover does not apply a
   * decision made long before (until fresh samples decide, the scale is held). The gauges go
   * with it: the holder reports them.
   */
  private standBy(s: RevisionState): void {
    if (s.lastDecision === undefined) return;
    s.lastDecision = undefined;
    this.deps.metrics.forget({ namespace: s.deployment.namespace, revision: s.deployment.revision });
  }

  /** The Endpoints are (acknowledged) as wanted since `atMs`. */
  private endpointsAcknowledged(s: RevisionState, mode: EndpointsMode, atMs: number): void {
    s.proxySinceMs = mode === 'Proxy' ? (s.proxySinceMs ?? atMs) : undefined;
    this.deps.metrics.proxyMode.set({ namespace: s.deployment.namespace, revision: s.deployment.revision }, mode === 'Proxy' ? 1 : 0);
  }

  /**
   * Runs a write of one object (`objectKey`): through the write queue, which merges it with a
   * queued write of the same object (the latest wins) and runs it dated `atMs` when a worker and a
   * token are free; or, without a queue, at once dated `nowMs`. Only the revision's owner writes.
   */
  private async write(s: RevisionState, objectKey: string, lane: Lane, nowMs: number, work: (atMs: number) => Promise<void>): Promise<void> {
    const run = (atMs: number): Promise<void> => (this.owns(s) ? work(atMs) : Promise.resolve());
    if (!this.deps.writes) return run(nowMs);
    // A failure is logged and retried by the queue (its onFailure); the next reconcile hands over
    // newer state anyway.
    this.deps.writes.add(objectKey, (ctx) => run(ctx.nowMs), lane).catch(() => undefined);
  }

  /**
   * How many activators a revision in Proxy mode is spread over (Knative's numActivators). A
   * sidecar-less one lists no more than can each own a slot of its pods: its activators split the
   * pods' containerConcurrency between them (../activator/subsetting.ts), and with no queue-proxy
   * nothing would hold the excess of an activator left without one.
   */
  private activatorsFor(s: RevisionState, ready: number, available: number): number {
    const spec = s.decider?.currentSpec;
    const wanted = s.lastDecision?.numActivators ?? (spec ? numActivators(spec, ready) : available);
    return activatorAlwaysInPath(s.deployment.dataPlane) ? Math.min(wanted, activatorsWithASlot(ready, s.deployment.containerConcurrency)) : wanted;
  }

  private async applyReplicas(s: RevisionState, replicas: number, nowMs: number): Promise<void> {
    const { namespace, revision, deploymentName } = s.deployment;
    if (replicas === 0 && s.proxySinceMs === undefined) {
      this.deps.logger.info({ namespace, revision }, 'not scaling to zero: activators not in the path yet');
      return;
    }
    await this.write(s, `scale/${namespace}/${deploymentName}`, 'fast', nowMs, async (atMs) => {
      const from = s.deployment.replicas;
      // Checked again when the write runs: the activators may have left the path meanwhile.
      if (replicas === 0 && (s.proxySinceMs === undefined || s.pendingSubsets !== undefined)) return;
      if (from === replicas) return; // already there (the informer, or our own earlier write)
      await this.deps.writer.setReplicas(namespace, deploymentName, replicas);
      this.deps.logger.info({ namespace, revision, from, to: replicas }, 'scaled');
      if (from === 0 && replicas > 0) s.coldStartAtMs = atMs;
      if (replicas === 0) s.coldStartAtMs = undefined;
      s.deployment = { ...s.deployment, replicas };
    });
  }

  private observeColdStart(s: RevisionState, ready: number, nowMs: number): void {
    if (s.coldStartAtMs === undefined || ready === 0) return;
    const { namespace, revision } = s.deployment;
    this.deps.metrics.coldStart.observe({ namespace, revision }, (nowMs - s.coldStartAtMs) / 1000);
    s.coldStartAtMs = undefined;
  }

  private recordGauges(s: RevisionState, want: number, ready: number): void {
    const labels = { namespace: s.deployment.namespace, revision: s.deployment.revision };
    const m = this.deps.metrics;
    m.desiredPods.set(labels, want);
    m.readyPods.set(labels, ready);
    m.requestedReplicas.set(labels, s.deployment.replicas);
    m.targetValue.set(labels, s.autoscaling.targetPerPod);
    const d = s.lastDecision;
    if (!d) return;
    m.panicking.set(labels, d.panicking ? 1 : 0);
    m.excessBurstCapacity.set(labels, d.excessBurstCapacity);
    m.stableValue.set(labels, d.stableAverage);
    m.panicValue.set(labels, d.panicAverage);
  }
}

/**
 * A Deployment nobody has scaled yet. The compiled Deployment declares no replicas (see
 * ../../builders/deployment.ts), so Kubernetes creates it with 1 and initial-scale is ours to
 * apply, once. "New" is read from metadata.generation: every replicas change (ours through the
 * scale subresource, anyone's) bumps it, re-applying an unchanged manifest does not, and it
 * survives a restart of the autoscaler. Not from managedFields (a scale to 0 leaves no owner of
 * spec.replicas, since the Scale object omits a zero replicas field) and not from an annotation
 * of ours (writing one needs patch on whole Deployments, where RBAC grants only their scale).
 * initial-scale above 1 needs no flag: until first reached it is the lower bound (scaler.ts);
 * initial-scale 0 does (scaler.ts `zeroInitialScalePending`).
 */
function isFresh(d: RevisionDeployment): boolean {
  return d.generation <= 1;
}

/** Our own write of these subsets is recent enough that the informer cache may not show it yet. */
function justWritten(s: RevisionState, subsets: readonly V1EndpointSubset[], nowMs: number): boolean {
  return s.lastWrite !== undefined && sameSubsets(s.lastWrite.subsets, subsets) && nowMs - s.lastWrite.atMs < CACHE_LAG_MS;
}

function key(namespace: string, revision: string): string {
  return `${namespace}/${revision}`;
}
