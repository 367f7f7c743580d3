import { Construct } from 'constructs';
import { servingContainerIndex } from '../builders/resolve';
import type { ServiceSpec } from '../builders/spec';
import type { ContainerProps, KServiceProps, RevisionProps, TrafficTargetProps } from '../kservice-props';
import { compileServiceSpec } from '../validate-props';
import { Revision } from './revision';
import { Route } from './route';

/**
 * A Knative Service compiled ahead of time: the current template's revision (and every earlier
 * revision that is routed or retained) plus the route, as plain manifests.
 *
 * Props are validated and resolved first; on bad input one `ValidationError` lists every problem
 * with its property path and nothing is added to the tree. Each `add*` mutator re-validates the
 * whole service and rebuilds its objects, or throws and leaves the service as it was.
 *
 * Owner references are not emitted: they need the owners' UIDs, which only exist in a cluster.
 */
export class KService extends Construct {
  private currentProps: KServiceProps;
  private currentSpec!: ServiceSpec;
  private currentRevisions: Revision[] = [];
  private currentRoute!: Route;

  constructor(scope: Construct, id: string, props: KServiceProps) {
    super(scope, id);
    this.currentProps = props;
    try {
      this.render(props);
    } catch (error) {
      // Bad props leave no trace in the tree, not even this (empty) construct.
      scope.node.tryRemoveChild(id);
      throw error;
    }
  }

  /** Service name. */
  public get name(): string {
    return this.currentSpec.name;
  }

  public get namespace(): string {
    return this.currentSpec.namespace;
  }

  /** The resolved model the objects were built from. */
  public get spec(): ServiceSpec {
    return this.currentSpec;
  }

  /** The props as they stand after every mutator call. */
  public get props(): KServiceProps {
    return this.currentProps;
  }

  /** Synthesized revisions, the current template's first. */
  public get revisions(): readonly Revision[] {
    return this.currentRevisions;
  }

  public get route(): Route {
    return this.currentRoute;
  }

  /** The current template's revision name (`NAME-0000G` unless `revisionName` is set). */
  public get latestRevisionName(): string {
    return this.currentSpec.revisions[0].name;
  }

  /**
   * Adds traffic targets in one step. While traffic is still the implicit default (100% to the
   * latest revision), targets that carry a percent replace it; 0% targets (e.g. a tag) are added
   * next to it. Percents must sum to 100 afterwards.
   */
  public addTraffic(...targets: TrafficTargetProps[]): void {
    const explicit = this.currentProps.traffic ?? [];
    const carriesPercent = targets.some((t) => (t.percent ?? 0) > 0);
    const base = explicit.length > 0 ? explicit : carriesPercent ? [] : [{ latestRevision: true, percent: 100 }];
    this.update({ traffic: [...base, ...targets] });
  }

  /** Adds an earlier revision (synthesized when a traffic target names it or `retain` is set). */
  public addRevision(revision: RevisionProps): void {
    this.update({ revisions: [...(this.currentProps.revisions ?? []), revision] });
  }

  /** Adds a container to the current template. */
  public addContainer(container: ContainerProps): void {
    this.update({ containers: [...this.currentProps.containers, container] });
  }

  /**
   * Adds an environment variable to a container of the current template.
   * @param containerName @default the serving container (the one with a port, or the only one)
   */
  public addEnv(name: string, value: string, containerName?: string): void {
    const containers = this.currentProps.containers;
    const index = containerName === undefined ? servingContainerIndex(containers) : containers.findIndex((c) => c.name === containerName);
    if (index < 0) throw new Error(`KService "${this.name}" has no container named "${containerName}"`);
    const updated = containers.map((c, i) => (i === index ? { ...c, env: withEnv(c.env, name, value) } : c));
    this.update({ containers: updated });
  }

  private update(change: Partial<KServiceProps>): void {
    this.render({ ...this.currentProps, ...change });
  }

  /** Validates first (throwing leaves the tree untouched), then replaces the children. */
  private render(props: KServiceProps): void {
    const spec = compileServiceSpec(props, this.node.id);
    for (const child of [...this.node.children]) this.node.tryRemoveChild(child.node.id);
    this.currentRevisions = spec.revisions.map((r) => new Revision(this, r.name, { spec: r }));
    this.currentRoute = new Route(this, 'Route', { spec: spec.route });
    this.currentProps = props;
    this.currentSpec = spec;
  }
}

function withEnv(env: ContainerProps['env'], name: string, value: string): ContainerProps['env'] {
  if (Array.isArray(env)) return [...env, { name, value }];
  return { ...((env as Record<string, string> | undefined) ?? {}), [name]: value };
}
