/**
 * The one place the CLI meets the constructs: every compiled service becomes a `KService` in its
 * own chart of one cdk8s App, and a `ServingSystem` in that App computes the system objects (RBAC
 * from all services). The constructs' `ValidationError`s are mapped back to document positions.
 */
import { ApiObject, App, Chart, DependencyGraph } from 'cdk8s';
import type { ServingConfigProps } from '../contract/config';
import { KService } from '../constructs/kservice';
import { ServingSystem } from '../constructs/serving-system';
import type { KServiceProps } from '../model/kservice-props';
import { formatPath, parsePath, ValidationError, type PathSegments, type Problem } from '../problems';
import { Diagnostic } from './diagnostics';
import { propsPathToDocument, type DocumentPlace } from './knative-to-props';
import type { RevisionOrigin } from './revisions';
import { SourceDocument, diagnosticAt } from './source';

export interface GraphService {
  readonly doc: SourceDocument;
  readonly props: KServiceProps;
  /** Origins of `props.revisions`, index for index. */
  readonly origins: readonly RevisionOrigin[];
}

export interface Graph {
  readonly system: readonly unknown[];
  readonly services: readonly { readonly namespace: string; readonly name: string; readonly objects: readonly unknown[] }[];
  readonly diagnostics: Diagnostic[];
}

export function buildGraph(services: readonly GraphService[], config: ServingConfigProps): Graph {
  const app = new App();
  const diagnostics: Diagnostic[] = [];
  const charts: { namespace: string; name: string; chart: Chart }[] = [];
  for (const service of services) {
    const name = service.props.name!;
    const namespace = service.props.namespace!;
    const chart = new Chart(app, `${namespace}.${name}`);
    try {
      new KService(chart, name, service.props);
      charts.push({ namespace, name, chart });
    } catch (error) {
      diagnostics.push(...validationDiagnostics(service, error));
    }
  }
  if (diagnostics.length > 0) return { system: [], services: [], diagnostics };
  const systemChart = new Chart(app, 'serving-system');
  try {
    // RBAC is normally added by a synth-time validation hook; toJson() does not run hooks.
    new ServingSystem(systemChart, 'serving', { config }).addRbac();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const message = error.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    return { system: [], services: [], diagnostics: [{ file: '--config', line: 0, col: 0, path: '', message }] };
  }
  const synthesized = synthesizeCharts(app, [systemChart, ...charts.map((c) => c.chart)]);
  return {
    system: synthesized[0],
    services: charts.map(({ namespace, name }, i) => ({ namespace, name, objects: synthesized[i + 1] })),
    diagnostics,
  };
}

/**
 * Every chart's objects, as `chart.toJson()` renders them, with the app prepared once.
 *
 * `Chart.toJson()` first prepares and validates the whole App (cdk8s infers chart and object
 * dependencies and runs every construct's validations), so one call per service chart made the
 * CLI quadratic (1,000 services: ~19 s). Our constructs declare no dependencies, so here the
 * validations run once and each chart's objects come in cdk8s' own dependency order
 * (`DependencyGraph`, as `Chart.toJson` uses); an app with dependencies keeps cdk8s' path.
 */
function synthesizeCharts(app: App, charts: readonly Chart[]): unknown[][] {
  const constructs = app.node.findAll();
  if (constructs.some((c) => c.node.dependencies.length > 0)) return charts.map((chart) => chart.toJson());
  const errors = constructs.flatMap((c) => c.node.validate().map((e) => `[${c.node.path}] ${e}`));
  if (errors.length > 0) throw new Error(`Validation failed with the following errors:\n  ${errors.join('\n  ')}`);
  return charts.map((chart) => chartObjects(chart).map((o) => o.toJson()));
}

function chartObjects(chart: Chart): ApiObject[] {
  return new DependencyGraph(chart.node)
    .topology()
    .filter((c): c is ApiObject => ApiObject.isApiObject(c) && Chart.of(c) === chart);
}

function validationDiagnostics(service: GraphService, error: unknown): Diagnostic[] {
  if (!(error instanceof ValidationError)) throw error;
  return error.problems.map((p) => problemToDiagnostic(service, p));
}

/**
 * Where a model problem (props path and message) points in the documents, and what the CLI says:
 * the model's message, prefixed only for problems that --config caused. The model's paths are
 * segments; a path as text is accepted for callers that only have the formatted one (tests).
 */
export function documentProblem(path: PathSegments | string, message: string): { readonly place: DocumentPlace; readonly message: string } {
  const segments = typeof path === 'string' ? parsePath(path) : path;
  // Problems with the serving config (e.g. a tag template making bad host names) are about this
  // service's names but caused by --config; say so.
  if (segments[0] === 'config') return { place: { in: 'service', segments: ['metadata', 'name'] }, message: `${formatPath(segments)} (--config): ${message}` };
  return { place: propsPathToDocument(segments), message };
}

/** A construct problem, placed at the document field (or history entry) it came from. */
export function problemToDiagnostic(service: GraphService, problem: Problem): Diagnostic {
  const { place, message: said } = documentProblem(problem.segments, problem.message);
  if (place.in === 'service') return diagnosticAt(service.doc, place.segments, said);
  const origin = service.origins[place.index];
  if (!origin) return diagnosticAt(service.doc, ['spec', 'traffic'], `${problem.path}: ${said}`);
  return diagnosticAt(origin.doc, [...origin.templatePath, ...place.segments], said);
}
