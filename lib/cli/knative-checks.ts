/**
 * The Knative document rules the construct props cannot carry, and the bridge to the model's rules
 * for Revision documents. Every rule the constructs also apply lives once in lib/model
 * (validate-props.ts, knative-rules.ts) or lib/contract (autoscaling.ts) and is called from here
 * or, for Services, by `new KService` on the props as graph.ts builds the graph; this file keeps
 * only what a Service document can say and the props cannot: `configurationName` in traffic.
 */
import { AUTOSCALING_ANNOTATION_PREFIX, parseAutoscaling, writtenAnnotationKey } from '../contract/autoscaling';
import type { ServingConfig } from '../contract/config';
import { validateTemplate } from '../model/validate-props';
import { ProblemList, parsePath, type PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import { templatePath, templateToProps } from './knative-to-props';
import type { KnativeRevisionSpec, KnativeRevisionTemplate, KnativeService } from './knative-types';
import { SourceDocument, diagnosticAt } from './source';

type Report = (segments: PathSegments, message: string, atKey?: boolean) => void;

function reporterFor(doc: SourceDocument, out: Diagnostic[]): Report {
  return (segments, message, atKey) => out.push(diagnosticAt(doc, segments, message, atKey));
}

/** Checks a Service document for what its props cannot carry; returns its problems. */
export function checkService(doc: SourceDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporterFor(doc, out);
  const service = doc.value as KnativeService;
  checkConfigurationNames(service, report);
  return out;
}

/**
 * Checks a Revision document with the model's template rules (the same the constructs apply to a
 * revision) and the shared autoscaling parser, even when no traffic names it.
 */
export function checkRevisionDocument(doc: SourceDocument, config: ServingConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporterFor(doc, out);
  const revision = doc.value as { metadata: { annotations?: Record<string, string> }; spec: KnativeRevisionSpec };
  const template: KnativeRevisionTemplate = { metadata: revision.metadata, spec: revision.spec };
  const problems = new ProblemList();
  validateTemplate(templateToProps(template), '', config.maxRevisionTimeoutSeconds, problems);
  for (const p of problems.list) report(templatePath(parsePath(p.path)), p.message);
  checkAutoscaling(template, ['metadata', 'annotations'], config, report);
  return out;
}

function checkConfigurationNames(service: KnativeService, report: Report): void {
  (service.spec.traffic ?? []).forEach((target, i) => {
    if (target.configurationName !== undefined) {
      report(['spec', 'traffic', i, 'configurationName'], 'is not allowed in a Service (its configuration is implied); use latestRevision: true', true);
    }
  });
}

/**
 * Autoscaling annotations through the same parser the constructs and the runtime use, so the three
 * agree; its problems name the annotation key (canonical or as written).
 */
function checkAutoscaling(template: KnativeRevisionTemplate, at: PathSegments, config: ServingConfig, report: Report): void {
  const annotations = template.metadata?.annotations ?? {};
  const autoscaling = Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith(AUTOSCALING_ANNOTATION_PREFIX)));
  const cc = template.spec.containerConcurrency ?? config.containerConcurrency;
  for (const problem of parseAutoscaling(autoscaling, config, cc).problems) {
    report([...at, writtenAnnotationKey(problem.path, annotations)], problem.message);
  }
}
