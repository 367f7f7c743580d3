import type { Probe } from '../model/kservice-props';
/**
 * TypeScript shapes of the Knative documents the compiler reads, as they are once the schemas in
 * ./schema have accepted them. Pod-level fields are typed with kubernetes-models, like the props.
 */
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

export interface KnativeMetadata {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** Knative's container: `name` is optional (defaulted to user-container) and so are probe ports. */
export interface KnativeContainer extends Omit<IContainer, 'name' | 'readinessProbe' | 'livenessProbe' | 'startupProbe'> {
  readonly name?: string;
  readonly image: string;
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly startupProbe?: Probe;
}

export interface KnativeRevisionSpec extends Omit<IPodSpec, 'containers'> {
  readonly containers: readonly KnativeContainer[];
  readonly containerConcurrency?: number;
  readonly timeoutSeconds?: number;
  readonly responseStartTimeoutSeconds?: number;
  readonly idleTimeoutSeconds?: number;
}

export interface KnativeRevisionTemplate {
  readonly metadata?: Partial<KnativeMetadata>;
  readonly spec: KnativeRevisionSpec;
}

export interface KnativeTrafficTarget {
  readonly tag?: string;
  readonly revisionName?: string;
  readonly configurationName?: string;
  readonly latestRevision?: boolean;
  readonly percent?: number;
}

export interface KnativeService {
  readonly apiVersion: 'serving.knative.dev/v1';
  readonly kind: 'Service';
  readonly metadata: KnativeMetadata;
  readonly spec: {
    readonly template: KnativeRevisionTemplate;
    readonly traffic?: readonly KnativeTrafficTarget[];
  };
}

export interface KnativeRevision {
  readonly apiVersion: 'serving.knative.dev/v1';
  readonly kind: 'Revision';
  readonly metadata: KnativeMetadata & { readonly labels: Record<string, string> };
  readonly spec: KnativeRevisionSpec;
}

export const DEFAULT_NAMESPACE = 'default';

export function namespaceOf(metadata: { readonly namespace?: string }): string {
  return metadata.namespace ?? DEFAULT_NAMESPACE;
}

export type KnativeKind = 'Service' | 'Revision';

/** Which Knative kind a parsed document is, or undefined for documents that pass through. */
export function knativeKindOf(value: unknown): KnativeKind | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  if (apiVersion !== 'serving.knative.dev/v1') return undefined;
  return kind === 'Service' || kind === 'Revision' ? kind : undefined;
}
