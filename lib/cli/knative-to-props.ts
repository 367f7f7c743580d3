/**
 * Knative documents -> KService construct props. The mapping is field for field (the props mirror
 * Knative's Service); the only translations are seconds -> `Duration`, the single container port
 * -> `port`/`portName`, and `spec.traffic` defaults left to the construct. `propsPathToDocument`
 * maps a construct problem path back to the document field it came from.
 */
import { Duration } from 'cdk8s';
import { DATA_PLANE_ANNOTATION } from '../contract/data-plane';
import type { ServingConfigProps } from '../contract/config';
import type {
  ContainerProps, KServiceProps, PortName, RevisionProps, RevisionTemplateProps, TrafficTargetProps,
} from '../model/kservice-props';
import type { PathSegments } from '../problems';
import type { KnativeContainer, KnativeRevisionTemplate, KnativeService, KnativeTrafficTarget } from './knative-types';
import { namespaceOf } from './knative-types';

/** The revision lineup the history and Revision documents resolved for a service. */
export interface ResolvedRevisions {
  /** Name of the current template's revision. */
  readonly current: string;
  readonly generation: number;
  /** Earlier revisions that traffic names, with their templates. */
  readonly earlier: readonly { readonly name: string; readonly template: KnativeRevisionTemplate }[];
}

export function serviceToProps(
  service: KnativeService,
  revisions: ResolvedRevisions,
  config: ServingConfigProps,
): KServiceProps {
  const { metadata, spec } = service;
  return dropUndefined({
    ...templateToProps(spec.template),
    name: metadata.name,
    namespace: namespaceOf(metadata),
    labels: metadata.labels,
    annotations: metadata.annotations,
    traffic: spec.traffic?.map(trafficToProps),
    revisionName: revisions.current,
    generation: revisions.generation,
    revisions: revisions.earlier.map((r): RevisionProps => ({ ...templateToProps(r.template), name: r.name })),
    config,
  });
}

export function templateToProps(template: KnativeRevisionTemplate): RevisionTemplateProps {
  const { spec } = template;
  const {
    containers, containerConcurrency, timeoutSeconds, responseStartTimeoutSeconds, idleTimeoutSeconds,
    ...pod
  } = spec;
  return dropUndefined({
    ...(pod as Omit<RevisionTemplateProps, 'containers'>),
    containers: containers.map(containerToProps),
    containerConcurrency,
    timeout: seconds(timeoutSeconds),
    responseStartTimeout: seconds(responseStartTimeoutSeconds),
    idleTimeout: seconds(idleTimeoutSeconds),
    templateLabels: template.metadata?.labels,
    templateAnnotations: template.metadata?.annotations,
  });
}

function containerToProps(container: KnativeContainer): ContainerProps {
  const { ports, env, ...rest } = container;
  const port = ports?.[0];
  return dropUndefined({
    ...(rest as Omit<ContainerProps, 'port' | 'portName' | 'env'>),
    env,
    port: port?.containerPort,
    portName: port?.name ? (port.name as PortName) : undefined,
  });
}

function trafficToProps(target: KnativeTrafficTarget): TrafficTargetProps {
  return dropUndefined({
    revisionName: target.revisionName,
    latestRevision: target.latestRevision,
    percent: target.percent,
    tag: target.tag,
  });
}

function seconds(value: number | undefined): Duration | undefined {
  return value === undefined ? undefined : Duration.seconds(value);
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Props of a template (RevisionTemplateProps) whose document field is named differently. */
const TEMPLATE_FIELD: Record<string, PathSegments> = {
  timeout: ['spec', 'timeoutSeconds'],
  responseStartTimeout: ['spec', 'responseStartTimeoutSeconds'],
  idleTimeout: ['spec', 'idleTimeoutSeconds'],
  templateLabels: ['metadata', 'labels'],
  templateAnnotations: ['metadata', 'annotations'],
  autoscaling: ['metadata', 'annotations'],
  // Knative YAML chooses the mode with this annotation (lib/model/data-plane.ts).
  dataPlane: ['metadata', 'annotations', DATA_PLANE_ANNOTATION],
};

const SERVICE_FIELD: Record<string, PathSegments> = {
  name: ['metadata', 'name'],
  namespace: ['metadata', 'namespace'],
  labels: ['metadata', 'labels'],
  annotations: ['metadata', 'annotations'],
  visibility: ['metadata', 'labels'],
  traffic: ['spec', 'traffic'],
  revisionName: ['spec', 'template', 'metadata', 'name'],
  generation: ['spec', 'template'],
};

/** Where a construct problem about the service points in the Service document. */
export type DocumentPlace =
  | { readonly in: 'service'; readonly segments: PathSegments }
  | { readonly in: 'revision'; readonly index: number; readonly segments: PathSegments };

/**
 * Maps a props path (`containers[0].port`, `traffic[1].percent`, `revisions[2].timeout`) to the
 * path of the document field it came from (`spec.template.spec.containers[0].ports[0].containerPort`).
 */
export function propsPathToDocument(segments: PathSegments): DocumentPlace {
  const [head, ...rest] = segments;
  if (head === 'revisions' && typeof rest[0] === 'number') {
    return { in: 'revision', index: rest[0], segments: templatePath(rest.slice(1)) };
  }
  if (typeof head === 'string' && SERVICE_FIELD[head]) {
    return { in: 'service', segments: [...SERVICE_FIELD[head], ...rest] };
  }
  return { in: 'service', segments: ['spec', 'template', ...templatePath(segments)] };
}

/** A RevisionTemplateProps path as a path inside a Knative revision template. */
export function templatePath(segments: PathSegments): PathSegments {
  const [head, ...rest] = segments;
  if (head === undefined) return [];
  if (typeof head === 'string' && TEMPLATE_FIELD[head]) return [...TEMPLATE_FIELD[head], ...rest];
  if (head === 'containers' && typeof rest[0] === 'number') {
    const [index, field, ...more] = rest;
    if (field === 'port') return ['spec', 'containers', index, 'ports', 0, 'containerPort'];
    if (field === 'portName') return ['spec', 'containers', index, 'ports', 0, 'name'];
    return ['spec', 'containers', index, ...(field === undefined ? [] : [field]), ...more];
  }
  return ['spec', ...segments];
}
