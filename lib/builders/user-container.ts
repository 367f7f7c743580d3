/**
 * The user's containers as they appear in the Deployment, following Knative's
 * knative/serving pkg/reconciler/revision/resources/deploy.go: the serving container gets the single `user-port` and `PORT`;
 * every user container gets the K_* env, the preStop drain hook and FallbackToLogsOnError; HTTP,
 * TCP and gRPC readiness probes move to queue-proxy.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { DRAIN_TOKEN_HEADER, Ports, WAIT_FOR_DRAIN_PATH } from '../contract/constants';
import { drainToken } from './drain-token';
import { clone, compact } from '../model/json';
import type { RevisionSpec } from '../model/spec';

export const USER_PORT_NAME = 'user-port';
export const DRAIN_PATH = WAIT_FOR_DRAIN_PATH;

/** All user containers of a revision, in declaration order. */
export function buildUserContainers(rev: RevisionSpec): IContainer[] {
  return rev.containers.map((c) =>
    c.name === rev.servingContainerName ? buildServingContainer(rev, c) : buildSidecarContainer(rev, c),
  );
}

/** The container that receives traffic: one port named `user-port`, `PORT` env, liveness on the user port. */
export function buildServingContainer(rev: RevisionSpec, container: IContainer): IContainer {
  const withPort: IContainer = {
    ...clone(container),
    ports: [{ name: USER_PORT_NAME, containerPort: rev.userPort }],
    env: [...clone(container.env ?? []), { name: 'PORT', value: String(rev.userPort) }],
  };
  const built = buildSidecarContainer(rev, withPort);
  return compact({ ...built, livenessProbe: livenessOnUserPort(built.livenessProbe, rev.userPort) });
}

/** Any user container: K_* env, drain hook, termination message policy, readiness handed to queue-proxy. */
export function buildSidecarContainer(rev: RevisionSpec, container: IContainer): IContainer {
  const c = clone(container);
  return compact({
    ...c,
    env: [...(c.env ?? []), ...knativeEnv(rev)],
    volumeMounts: c.volumeMounts && readOnlyMounts(c.volumeMounts, rev.pod.volumes as IVolume[] | undefined),
    readinessProbe: probeStaysOnContainer(c.readinessProbe) ? c.readinessProbe : undefined,
    lifecycle: { preStop: { httpGet: { path: DRAIN_PATH, port: Ports.QUEUE_ADMIN, httpHeaders: [{ name: DRAIN_TOKEN_HEADER, value: drainToken(rev) }] } } },
    terminationMessagePolicy: c.terminationMessagePolicy ?? 'FallbackToLogsOnError',
  });
}

/** Reserved env every user container gets (knative/serving pkg/reconciler/revision/resources/env_var.go). */
export function knativeEnv(rev: RevisionSpec): IEnvVar[] {
  return [
    { name: 'K_REVISION', value: rev.name },
    { name: 'K_CONFIGURATION', value: rev.configurationName },
    { name: 'K_SERVICE', value: rev.serviceName },
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
