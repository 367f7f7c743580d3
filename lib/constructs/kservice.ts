import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { servingContainerIndex } from '../model/parse-revision';
import type { RevisionSpec, ServiceSpec } from '../model/spec';
import type { ContainerProps, KServiceProps, RevisionProps, TrafficTargetProps } from '../model/kservice-props';
import { isDns1035Label, isDns1123Label, MAX_NAME_LENGTH } from '../contract/naming';
import { problemAt, ValidationError } from '../problems';
import { compileServiceSpec } from '../model/parse';
import { Revision, type IRevision } from './revision';
import { Route, type IRoute } from './route';

/**
 * The resolved model of a KService (internal: for the CLI and tests). Not a public property: the
 * model is not a promise to users, and a model handed in would bypass validation.
 */
const SPECS = new WeakMap<KService, () => ServiceSpec>();

/** The resolved model a KService's objects are built from, after every mutator call. */
export function serviceSpecOf(service: KService): ServiceSpec {
  const spec = SPECS.get(service);
  if (!spec) throw new Error(`${service.node.path} is not a KService of this module`);
  return spec();
}

/**
 * A Knative Service compiled ahead of time: the current template's revision (and every earlier
 * revision that is routed or retained) plus the route, as plain manifests.
 *
 * As on any cdk8s construct, the objects land in the chart's namespace unless `namespace` is set,
 * and the service is named after the construct id unless `name` is set.
 *
 * Props are validated and resolved first; on bad input one `ValidationError` lists every problem
 * with its property path and nothing is added to the tree. Each `add*` mutator re-validates the
 * whole service, or throws and leaves the service as it was.
 *
 * The child objects are created once and their bodies are computed when the app is synthesized
 * (as cdk8s-plus does), so `addJsonPatch` and `metadata.add*` calls on them survive later `add*`
 * calls; revisions and tags that an `add*` call brings in get new objects.
 *
 * Owner references are not emitted: they need the owners' UIDs, which only exist in a cluster.
 */
export class KService extends Construct {
  private currentProps: KServiceProps;
  private currentSpec!: ServiceSpec;
  private readonly revisionsByName = new Map<string, Revision>();
  private readonly currentRoute: Route;

  constructor(scope: Construct, id: string, props: KServiceProps) {
    super(scope, id);
    SPECS.set(this, () => this.currentSpec);
    this.currentProps = props;
    try {
      this.currentSpec = this.compile(props);
    } catch (error) {
      // Bad props leave no trace in the tree, not even this (empty) construct.
      scope.node.tryRemoveChild(id);
      throw error;
    }
    this.addMissingRevisions();
    this.currentRoute = new Route(this, 'Route', { spec: () => this.currentSpec.route });
  }

  /** Service name. */
  public get name(): string {
    return this.currentSpec.name;
  }

  /** The `namespace` prop, else the chart's namespace, else `default`. */
  public get namespace(): string {
    return this.currentSpec.namespace;
  }

  /** The props as they stand after every mutator call. */
  public get props(): KServiceProps {
    return this.currentProps;
  }

  /** Synthesized revisions, the current template's first. */
  public get revisions(): readonly IRevision[] {
    return this.currentSpec.revisions.map((r) => this.revisionsByName.get(r.name)!);
  }

  /** The route's objects: one Service per traffic name, and VirtualServices or HTTPRoutes. */
  public get route(): IRoute {
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

  /** Validates first (throwing leaves the service as it was), then adds the objects now needed. */
  private update(change: Partial<KServiceProps>): void {
    const props = { ...this.currentProps, ...change };
    const spec = this.compile(props);
    this.checkKeepsObjects(spec);
    this.currentProps = props;
    this.currentSpec = spec;
    this.addMissingRevisions();
    this.currentRoute.addMissingServices();
  }

  /** The props with the chart's namespace and the construct id filled in, validated and resolved. */
  private compile(props: KServiceProps): ServiceSpec {
    checkNameFromId(props, this.node.id);
    const namespace = isObject(props) && props.namespace === undefined ? chartNamespace(this) : undefined;
    if (namespace !== undefined) checkChartNamespace(namespace, props.name ?? this.node.id);
    return compileServiceSpec(namespace === undefined ? props : { ...props, namespace }, this.node.id);
  }

  private addMissingRevisions(): void {
    for (const { name } of this.currentSpec.revisions) {
      if (this.revisionsByName.has(name)) continue;
      const revision = new Revision(this, name, { spec: () => this.revisionSpec(name) });
      this.revisionsByName.set(name, revision);
      // A revision added after the route sits after it in the tree; the dependency puts its objects
      // back before the route's in the output, as when the same props are given at once. Only then:
      // the CLI's fast synthesis (lib/cli/graph.ts) relies on constructs declaring no dependencies.
      this.currentRoute?.node.addDependency(revision);
    }
  }

  private revisionSpec(name: string): RevisionSpec {
    return this.currentSpec.revisions.find((r) => r.name === name)!;
  }

  /**
   * Existing objects are never taken back: an update must keep every synthesized revision (with
   * the data plane and autoscaling class that decided its objects) and every traffic name. The
   * `add*` mutators only add, so this guards against a future mutator breaking that.
   */
  private checkKeepsObjects(spec: ServiceSpec): void {
    for (const [name, revision] of this.revisionsByName) {
      const now = spec.revisions.find((r) => r.name === name);
      const before = revision.spec;
      if (!now || now.dataPlane !== before.dataPlane || now.autoscaling.class !== before.autoscaling.class) {
        throw new Error(`KService "${this.name}": revision "${name}" is already synthesized and this change would remove it or change its objects`);
      }
    }
    const tags = new Set(spec.route.names.map((n) => n.tag));
    const lost = this.currentSpec.route.names.filter((n) => !tags.has(n.tag));
    if (lost.length > 0) throw new Error(`KService "${this.name}": this change would remove the route's "${lost[0].hostName}" Service, which already exists`);
  }
}

/** The nearest enclosing Chart's namespace, if it has one. */
function chartNamespace(scope: Construct): string | undefined {
  const chart = [...scope.node.scopes].reverse().find((s) => Chart.isChart(s)) as Chart | undefined;
  return chart?.namespace;
}

/** A chart namespace that cannot be one is reported as the chart's, not as a `namespace` prop the user never set. */
function checkChartNamespace(namespace: string, serviceName: string): void {
  if (isDns1123Label(namespace)) return;
  const message = `not set, and the chart's namespace "${namespace}" is not a DNS-1123 label (lowercase letters, digits and "-", at most ${MAX_NAME_LENGTH} characters); fix the chart's namespace or set \`namespace\``;
  throw new ValidationError(`KService "${serviceName}"`, [problemAt(['namespace'], message)]);
}

/**
 * A construct id that cannot be a service name gets one error that says what to do, instead of
 * the name and host-name errors the compiler would give for it.
 */
function checkNameFromId(props: KServiceProps, id: string): void {
  if (!isObject(props) || props.name !== undefined || isDns1035Label(id)) return;
  const suggestion = dnsLabelFrom(id);
  const example = suggestion ? `, e.g. name: '${suggestion}'` : '';
  const message =
    `not set, and the construct id "${id}" cannot be the service name (a DNS-1035 label: lowercase letters, digits and "-", ` +
    `starting with a letter, at most ${MAX_NAME_LENGTH} characters); set \`name\`${example}`;
  throw new ValidationError(`KService "${id}"`, [problemAt(['name'], message)]);
}

/** `HelloWorld` -> `hello-world`; undefined when no label comes out. */
function dnsLabelFrom(id: string): string | undefined {
  const label = id
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+|-+$/g, '')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/-+$/, '');
  return isDns1035Label(label) ? label : undefined;
}

function isObject(props: unknown): props is KServiceProps {
  return typeof props === 'object' && props !== null && !Array.isArray(props);
}

function withEnv(env: ContainerProps['env'], name: string, value: string): ContainerProps['env'] {
  if (Array.isArray(env)) return [...env, { name, value }];
  return { ...((env as Record<string, string> | undefined) ?? {}), [name]: value };
}
