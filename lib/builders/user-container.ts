/**
 * The user's containers as they appear in the Deployment, following Knative's
 * knative/serving pkg/reconciler/revision/resources/deploy.go: the serving container gets the single `user-port` and `PORT`;
 * every user container gets the K_* env, the preStop drain hook and FallbackToLogsOnError; HTTP,
 * TCP and gRPC readiness probes move to queue-proxy.
 *
 * Without the queue-proxy (data-plane modes `activator` and `direct`, ../model/data-plane.ts) the
 * containers keep their readiness probes (the kubelet runs them, and in `activator` mode the
 * activator runs the serving container's too), the serving container's probe port is filled with
 * the user port (Knative leaves 0 for the queue-proxy to fill), and the preStop hook is Kubernetes'
 * native sleep (PRE_STOP_SLEEP_SECONDS) instead of the call to the queue-proxy's drain endpoint.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { DRAIN_TOKEN_HEADER, Ports, PRE_STOP_SLEEP_SECONDS, UserContainerEnv, WAIT_FOR_DRAIN_PATH } from '../contract/constants';
import type { ILifecycle } from 'kubernetes-models/v1/Lifecycle';
import { hasQueueProxy } from '../contract/data-plane';
import { drainToken } from './drain-token';
import { clone, compact } from '../model/json';
import type { RevisionSpec } from '../model/spec';

export const USER_PORT_NAME = 'user-port';
export const DRAIN_PATH = WAIT_FOR_DRAIN_PATH;

/** All user containers of a revision, in declaration order. */
export function buildUserContainers(rev: RevisionSpec): IContainer[] {
  return rev.containers.map((c, i) =>
    i === rev.servingContainerIndex ? buildServingContainer(rev, c) : buildSidecarContainer(rev, c),
  );
}

/** The container that receives traffic: one port named `user-port`, `PORT` env, liveness on the user port. */
export function buildServingContainer(rev: RevisionSpec, container: IContainer): IContainer {
  const withPort: IContainer = {
    ...clone(container),
    ports: [{ name: USER_PORT_NAME, containerPort: rev.userPort }],
    env: [...clone(container.env ?? []), { name: UserContainerEnv.PORT, value: String(rev.userPort) }],
  };
  const built = buildSidecarContainer(rev, withPort);
  const readinessProbe = hasQueueProxy(rev.dataPlane) ? built.readinessProbe : probeOnUserPort(built.readinessProbe, rev.userPort);
  return compact<IContainer>({ ...built, readinessProbe, livenessProbe: livenessOnUserPort(built.livenessProbe, rev.userPort) });
}

/** Any user container: K_* env, drain hook, termination message policy, readiness handed to queue-proxy. */
export function buildSidecarContainer(rev: RevisionSpec, container: IContainer): IContainer {
  const c = clone(container);
  const sidecar = hasQueueProxy(rev.dataPlane);
  return compact<IContainer>({
    ...c,
    env: [...(c.env ?? []), ...knativeEnv(rev)],
    volumeMounts: c.volumeMounts && readOnlyMounts(c.volumeMounts, rev.pod.volumes as IVolume[] | undefined),
    readinessProbe: !sidecar || probeStaysOnContainer(c.readinessProbe) ? c.readinessProbe : undefined,
    lifecycle: sidecar ? drainHook(rev) : sleepHook(),
    terminationMessagePolicy: c.terminationMessagePolicy ?? 'FallbackToLogsOnError',
  });
}

function drainHook(rev: RevisionSpec): ILifecycle {
  return { preStop: { httpGet: { path: DRAIN_PATH, port: Ports.QUEUE_ADMIN, httpHeaders: [{ name: DRAIN_TOKEN_HEADER, value: drainToken(rev) }] } } };
}

function sleepHook(): ILifecycle {
  return { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } };
}

/** An httpGet/tcpSocket probe without a port (or Knative's default port 0) gets the user port. */
function probeOnUserPort(probe: IProbe | undefined, userPort: number): IProbe | undefined {
  const unset = (port: number | string | undefined) => port === undefined || port === 0;
  if (probe?.httpGet && unset(probe.httpGet.port)) return { ...probe, httpGet: { ...probe.httpGet, port: userPort } };
  if (probe?.tcpSocket && unset(probe.tcpSocket.port)) return { ...probe, tcpSocket: { ...probe.tcpSocket, port: userPort } };
  return probe;
}

/** Reserved env every user container gets (knative/serving pkg/reconciler/revision/resources/env_var.go). */
export function knativeEnv(rev: RevisionSpec): IEnvVar[] {
  return [
    { name: UserContainerEnv.REVISION, value: rev.name },
    { name: UserContainerEnv.CONFIGURATION, value: rev.configurationName },
    { name: UserContainerEnv.SERVICE, value: rev.serviceName },
  ];
}

/** Only exec readiness probes are run by the kubelet; queue-proxy runs the others. */
function probeStaysOnContainer(probe: IProbe | undefined): boolean {
  return probe !== undefined && probe.exec !== undefined;
}

function livenessOnUserPort(probe: IProbe | undefined, userPort: number): IProbe | undefined {
  if (!probe) return undefined;
  if (probe.httpGet) return { ...probe, httpGet: { ...probe.httpGet, port: userPort } };
  if (probe.tcpSocket) return { ...probe, tcpSocket: { ...probe.tcpSocket, port: userPort } };
  return probe;
}

/** Volume kinds a container may write to; mounts of every other kind are forced read-only. */
const WRITABLE_VOLUME_KINDS = ['emptyDir', 'persistentVolumeClaim', 'ephemeral'] as const;

function readOnlyMounts(mounts: readonly IVolumeMount[], volumes: readonly IVolume[] = []): IVolumeMount[] {
  const byName = new Map(volumes.map((v) => [v.name, v]));
  return mounts.map((m) => {
    const volume = byName.get(m.name) as Record<string, unknown> | undefined;
    const writable = volume !== undefined && WRITABLE_VOLUME_KINDS.some((k) => volume[k] !== undefined);
    return writable ? m : { ...m, readOnly: true };
  });
}
