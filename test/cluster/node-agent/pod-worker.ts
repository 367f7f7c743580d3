// One pod on the agent's node, from sandbox to deletion, as the kubelet runs it: a network
// namespace with its own address, a ServiceAccount token from the TokenRequest API (bound to the
// pod) in a kubeconfig, one process per container (restarted when it exits), readiness probes,
// and the pod's status patched on every change. On graceful deletion: preStop hooks, SIGTERM,
// SIGKILL after the grace period, namespace removed, then the Pod deleted with grace 0.
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException, CoreV1Api, PatchStrategy, setHeaderOptions,
  type KubeConfig, type V1Container, type V1ContainerStatus, type V1Pod,
} from '@kubernetes/client-node';
import { writeKubeconfig } from '../harness/kubeconfig';
import { ContainerProcess, type ExitStatus } from './container-process';
import { resolveContainerEnv } from './env';
import { ruleFor, type ImageRule } from './images';
import type { PodNetwork, PodSandbox } from './network';
import { runProbe } from './probes';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface PodWorkerContext {
  readonly admin: KubeConfig;
  readonly nodeName: string;
  readonly network: PodNetwork;
  readonly images: readonly ImageRule[];
  readonly logDir: string;
  /** How pods reach the API server (an address on the pod bridge) and the CA to trust. */
  readonly podApiServer: { readonly server: string; readonly caFile: string };
  /**
   * Probe period used for every probe. The kubelet uses each probe's periodSeconds (default 10);
   * the agent probes faster so tests do not wait for it. Default 500.
   */
  readonly probePeriodMs: number;
  /** First restart delay of an exited container; doubles up to 8x. Default 300. */
  readonly restartBackoffMs: number;
}

interface ContainerState {
  readonly spec: V1Container;
  proc?: ContainerProcess;
  restartCount: number;
  ready: boolean;
  consecutive: { ok: number; failed: number };
  waiting?: { reason: string; message: string };
  lastTerminated?: ExitStatus & { finishedAt: Date; startedAt: Date };
  restartTimer?: NodeJS.Timeout;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

export class PodWorker {
  private sandbox: PodSandbox | undefined;
  private kubeconfig: string | undefined;
  private readonly containers: ContainerState[];
  private readonly startTime = new Date();
  private readonly transitions = new Map<string, { status: string; at: Date }>();
  private probeTimer: NodeJS.Timeout | undefined;
  private terminating: Promise<void> | undefined;
  private killed = false;
  private lastSentStatus = '';
  private patching: Promise<void> | undefined;
  private patchAgain = false;
  private readonly core: CoreV1Api;
  readonly logDir: string;
  readonly events: string[] = [];

  constructor(private readonly ctx: PodWorkerContext, private pod: V1Pod) {
    this.core = ctx.admin.makeApiClient(CoreV1Api);
    this.containers = (pod.spec?.containers ?? []).map((spec) => ({ spec, restartCount: 0, ready: false, consecutive: { ok: 0, failed: 0 } }));
    this.logDir = join(ctx.logDir, `${pod.metadata?.namespace}_${pod.metadata?.name}`);
    mkdirSync(this.logDir, { recursive: true });
  }

  get key(): string {
    return podKey(this.pod);
  }

  get uid(): string | undefined {
    return this.pod.metadata?.uid;
  }

  get podIP(): string | undefined {
    return this.sandbox?.ip;
  }

  /** Log file of each container, by container name. */
  logFiles(): Record<string, string> {
    return Object.fromEntries(this.containers.map((c) => [c.spec.name, this.logFile(c.spec.name)]));
  }

  /** PIDs of the running container processes, by container name. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.containers.map((c) => [c.spec.name, c.proc?.running ? c.proc.pid : undefined]));
  }

  /** When the current process of a container was started (undefined before the first start). */
  containerStartedAt(containerName: string): Date | undefined {
    return this.containers.find((x) => x.spec.name === containerName)?.proc?.startedAt;
  }

  /** Sends a signal to one container's process (tests use it to crash a component). */
  signal(containerName: string, sig: NodeJS.Signals): boolean {
    const c = this.containers.find((x) => x.spec.name === containerName);
    if (!c?.proc?.running) return false;
    c.proc.signal(sig);
    return true;
  }

  /** Sandbox, credentials, processes, probes. Failures are reported in the pod's status. */
  async start(): Promise<void> {
    try {
      this.sandbox = await this.ctx.network.addPod();
      this.kubeconfig = await this.serviceAccountKubeconfig();
      for (const c of this.containers) await this.startContainer(c);
    } catch (e) {
      this.note(`start failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.probeTimer = setInterval(() => void this.probeAll(), this.ctx.probePeriodMs);
    this.reportStatus();
  }

  /** New version of the Pod from the API: starts graceful termination once it is being deleted. */
  update(pod: V1Pod): void {
    if (pod.metadata?.uid !== this.uid) return;
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.terminating) this.terminating = this.terminate();
  }

  /** Resolves when a graceful termination (if any) has finished. */
  async settled(): Promise<void> {
    await this.terminating;
  }

  /** The Pod is gone from the API (or the agent stops): kill everything now. */
  async kill(): Promise<void> {
    this.killed = true;
    clearInterval(this.probeTimer);
    await Promise.all(this.containers.map(async (c) => {
      clearTimeout(c.restartTimer);
      await c.proc?.stop(0);
    }));
    if (this.sandbox) await this.ctx.network.removePod(this.sandbox);
  }

  private logFile(container: string): string {
    return join(this.logDir, `${container}.log`);
  }

  private note(message: string): void {
    this.events.push(`${new Date().toISOString()} ${message}`);
  }

  /** A token bound to this pod (invalid once it is deleted), as a projected SA token volume. */
  private async serviceAccountKubeconfig(): Promise<string | undefined> {
    const sa = this.pod.spec?.serviceAccountName;
    if (!sa || this.pod.spec?.automountServiceAccountToken === false) return undefined;
    const res = await this.core.createNamespacedServiceAccountToken({
      name: sa,
      namespace: this.pod.metadata?.namespace ?? 'default',
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 3600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: this.pod.metadata?.name, uid: this.uid },
        },
      },
    });
    const token = res.status?.token;
    if (!token) throw new Error(`TokenRequest for ServiceAccount ${sa} returned no token`);
    const path = join(this.logDir, 'kubeconfig');
    writeKubeconfig(path, this.ctx.podApiServer.server, this.ctx.podApiServer.caFile, `system:serviceaccount:${this.pod.metadata?.namespace}:${sa}`, { token });
    return path;
  }

  private async lookup(kind: 'ConfigMap' | 'Secret', namespace: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      if (kind === 'ConfigMap') return (await this.core.readNamespacedConfigMap({ name, namespace })).data ?? {};
      const data = (await this.core.readNamespacedSecret({ name, namespace })).data ?? {};
      return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } catch (e) {
      if (e instanceof ApiException && e.code === 404) return undefined;
      throw e;
    }
  }

  private async startContainer(c: ContainerState): Promise<void> {
    const kubeconfig = this.kubeconfig;
    if (!this.sandbox || this.terminating || this.killed) return;
    let rule: ImageRule;
    try {
      rule = ruleFor(this.ctx.images, c.spec.image);
    } catch (e) {
      c.waiting = { reason: 'ErrImagePull', message: (e as Error).message };
      return;
    }
    try {
      const declared = await resolveContainerEnv(this.pod, c.spec, {
        podIP: this.sandbox.ip,
        hostIP: this.ctx.network.hostIp,
        lookup: (kind, ns, name) => this.lookup(kind, ns, name),
      });
      const cmd = rule.command(c.spec);
      const env = {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOSTNAME: this.pod.metadata?.name ?? '',
        ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
        ...declared,
        ...rule.env?.(c.spec),
      };
      c.proc = new ContainerProcess(this.sandbox.netns, { ...cmd, env }, this.logFile(c.spec.name));
      c.waiting = undefined;
      c.consecutive = { ok: 0, failed: 0 };
      const proc = c.proc;
      void proc.exited.then((status) => this.onExit(c, proc, status));
      this.note(`started ${c.spec.name} pid ${proc.pid}`);
    } catch (e) {
      c.waiting = { reason: 'CreateContainerConfigError', message: (e as Error).message };
    }
  }

  /** restartPolicy Always (Deployments): restart with a doubling delay, as CrashLoopBackOff. */
  private onExit(c: ContainerState, proc: ContainerProcess, status: ExitStatus): void {
    c.ready = false;
    c.lastTerminated = { ...status, startedAt: proc.startedAt, finishedAt: new Date() };
    this.note(`${c.spec.name} exited code=${status.code} signal=${status.signal}`);
    this.reportStatus();
    if (this.terminating || this.killed) return;
    const policy = this.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Never' || (policy === 'OnFailure' && status.code === 0)) return;
    const delay = this.ctx.restartBackoffMs * 2 ** Math.min(3, c.restartCount);
    c.restartCount++;
    c.waiting = { reason: 'CrashLoopBackOff', message: `restarting in ${delay}ms` };
    c.restartTimer = setTimeout(() => {
      void this.startContainer(c).then(() => this.reportStatus());
    }, delay);
  }

  private probing = false;

  private async probeAll(): Promise<void> {
    if (this.probing || this.killed || !this.sandbox) return;
    this.probing = true;
    try {
      const ip = this.sandbox.ip;
      await Promise.all(this.containers.map((c) => this.probeOne(c, ip)));
      this.reportStatus();
    } finally {
      this.probing = false;
    }
  }

  private async probeOne(c: ContainerState, ip: string): Promise<void> {
    const probe = c.spec.readinessProbe;
    if (!c.proc?.running) {
      c.ready = false;
      return;
    }
    if (!probe) {
      c.ready = true;
      return;
    }
    if (Date.now() - c.proc.startedAt.getTime() < (probe.initialDelaySeconds ?? 0) * 1000) return;
    const result = await runProbe(probe, c.spec, ip);
    if (result.ok) {
      c.consecutive = { ok: c.consecutive.ok + 1, failed: 0 };
      if (c.consecutive.ok >= (probe.successThreshold ?? 1)) c.ready = true;
    } else {
      c.consecutive = { ok: 0, failed: c.consecutive.failed + 1 };
      if (c.consecutive.failed >= (probe.failureThreshold ?? 3) || !c.ready) c.ready = false;
    }
  }

  /** Conditions as sent (a merge patch body), with a transition time that changes only with status. */
  private condition(type: string, ok: boolean): Record<string, string> {
    const status = ok ? 'True' : 'False';
    let t = this.transitions.get(type);
    if (!t || t.status !== status) {
      t = { status, at: new Date() };
      this.transitions.set(type, t);
    }
    return { type, status, lastTransitionTime: rfc3339(t.at) };
  }

  private containerStatus(c: ContainerState): V1ContainerStatus {
    const running = c.proc?.running;
    const state = running && c.proc
      ? { running: { startedAt: rfc3339(c.proc.startedAt) } }
      : c.waiting
        ? { waiting: c.waiting }
        : c.lastTerminated
          ? { terminated: this.terminatedState(c.lastTerminated) }
          : { waiting: { reason: 'ContainerCreating', message: '' } };
    return {
      name: c.spec.name,
      image: c.spec.image ?? '',
      imageID: `process://${c.spec.image ?? ''}`,
      containerID: c.proc ? `process://${c.proc.pid}` : undefined,
      ready: Boolean(running && c.ready),
      started: Boolean(running),
      restartCount: c.restartCount,
      state: state as V1ContainerStatus['state'],
      lastState: (c.lastTerminated && (running || c.waiting) ? { terminated: this.terminatedState(c.lastTerminated) } : {}) as V1ContainerStatus['lastState'],
    };
  }

  private terminatedState(t: NonNullable<ContainerState['lastTerminated']>): Record<string, unknown> {
    return {
      exitCode: t.code ?? 137,
      signal: t.signal ? 15 : undefined,
      reason: t.code === 0 ? 'Completed' : 'Error',
      startedAt: rfc3339(t.startedAt),
      finishedAt: rfc3339(t.finishedAt),
    };
  }

  private desiredStatus(): Record<string, unknown> {
    const statuses = this.containers.map((c) => this.containerStatus(c));
    const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
    const ip = this.sandbox?.ip;
    return {
      phase: statuses.some((s) => s.started) ? 'Running' : 'Pending',
      hostIP: this.ctx.network.hostIp,
      hostIPs: [{ ip: this.ctx.network.hostIp }],
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
      startTime: rfc3339(this.startTime),
      conditions: [
        this.condition('PodReadyToStartContainers', Boolean(ip)),
        this.condition('Initialized', true),
        this.condition('Ready', allReady),
        this.condition('ContainersReady', allReady),
        this.condition('PodScheduled', true),
      ],
      containerStatuses: statuses,
    };
  }

  /** Patches pods/status when it changed; one request at a time, the last state wins. */
  private reportStatus(): void {
    if (this.killed) return;
    if (this.patching) {
      this.patchAgain = true;
      return;
    }
    const status = this.desiredStatus();
    const body = JSON.stringify(status);
    if (body === this.lastSentStatus) return;
    this.patching = this.core
      .patchNamespacedPodStatus({ name: this.pod.metadata?.name ?? '', namespace: this.pod.metadata?.namespace ?? '', body: { status } }, MERGE_PATCH)
      .then(() => {
        this.lastSentStatus = body;
      })
      .catch((e: unknown) => {
        if (!(e instanceof ApiException && e.code === 404)) this.note(`status patch failed: ${e instanceof Error ? e.message : String(e)}`);
      })
      .finally(() => {
        this.patching = undefined;
        if (this.patchAgain) {
          this.patchAgain = false;
          this.reportStatus();
        }
      });
  }

  /**
   * preStop httpGet (Knative: the user container's /wait-for-drain on queue-proxy) or sleep (the
   * sidecar-less data-plane modes: KEP-3960's native sleep action, cut at the grace deadline as
   * the kubelet does).
   */
  private preStop(c: ContainerState, deadline: number): Promise<void> {
    const sleep = c.spec.lifecycle?.preStop?.sleep;
    if (sleep && c.proc?.running) {
      return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(sleep.seconds * 1000, deadline - Date.now()))));
    }
    const hook = c.spec.lifecycle?.preStop?.httpGet;
    if (!hook || !this.sandbox || !c.proc?.running) return Promise.resolve();
    const port = typeof hook.port === 'number' ? hook.port : Number(c.spec.ports?.find((p) => p.name === hook.port)?.containerPort ?? hook.port);
    const host = hook.host ?? this.sandbox.ip;
    return new Promise((resolve) => {
      const headers = Object.fromEntries((hook.httpHeaders ?? []).map((h) => [h.name, h.value])); // as the kubelet sends them
      const req = request({ host, port, path: hook.path ?? '/', headers, agent: false, timeout: Math.max(1, deadline - Date.now()) }, (res) => {
        res.resume();
        res.on('end', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve());
      req.end();
    });
  }

  private async terminate(): Promise<void> {
    const graceSeconds = this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
    const deadline = Date.now() + graceSeconds * 1000;
    this.note(`terminating with grace ${graceSeconds}s`);
    await Promise.all(this.containers.map(async (c) => {
      clearTimeout(c.restartTimer);
      await this.preStop(c, deadline);
      await c.proc?.stop(deadline - Date.now());
    }));
    clearInterval(this.probeTimer);
    this.reportStatus();
    await this.patching;
    if (this.sandbox) await this.ctx.network.removePod(this.sandbox);
    this.killed = true;
    await this.deletePod();
  }

  /** Final deletion with grace 0 and a UID precondition, as the kubelet does. Retried briefly. */
  private async deletePod(): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.core.deleteNamespacedPod({
          name: this.pod.metadata?.name ?? '',
          namespace: this.pod.metadata?.namespace ?? '',
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
        });
        return;
      } catch (e) {
        if (e instanceof ApiException && (e.code === 404 || e.code === 409)) return;
        await sleep(200 * (attempt + 1));
      }
    }
    this.note('could not delete the pod after termination');
  }
}
