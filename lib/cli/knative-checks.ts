/**
 * The Knative document rules the construct props cannot carry, and the bridge to the model's parse
 * for Revision documents. Every rule the constructs also apply lives once in lib/model (parse.ts,
 * parse-revision.ts) or lib/contract and runs here through the model's own parser, or, for
 * Services, by `new KService` on the props as graph.ts builds the graph; this file keeps only what
 * a Service document can say and the props cannot: `configurationName` in traffic.
 */
import type { ServingConfig } from '../contract/config';
import { Labels } from '../contract/constants';
import { serviceDataPlane } from '../model/data-plane';
import { parseRevision } from '../model/parse-revision';
import type { PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import { templatePath, templateToProps } from './knative-to-props';
import type { KnativeRevision, KnativeRevisionTemplate, KnativeService } from './knative-types';
import { namespaceOf } from './knative-types';
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
 * Checks a Revision document with the model's parse of a revision (the one the constructs apply to
 * each revision: template, autoscaling and data-plane rules). For the documents no built service
 * routes (compile.ts): a routed one is parsed as that service's `revisions[i]` instead.
 */
export function checkRevisionDocument(doc: SourceDocument, config: ServingConfig): Diagnostic[] {
  const revision = doc.value as KnativeRevision;
  const template: KnativeRevisionTemplate = { metadata: revision.metadata, spec: revision.spec };
  const serviceName = revision.metadata.labels?.[Labels.SERVICE] ?? '';
  const ctx = { serviceName, namespace: namespaceOf(revision.metadata), config, dataPlane: serviceDataPlane({}) };
  const { errors } = parseRevision(templateToProps(template), revision.metadata.name, undefined, [], ctx);
  return errors.problems.map((p) => diagnosticAt(doc, templatePath(p.segments), p.message));
}

function checkConfigurationNames(service: KnativeService, report: Report): void {
  (service.spec.traffic ?? []).forEach((target, i) => {
    if (target.configurationName !== undefined) {
      report(['spec', 'traffic', i, 'configurationName'], 'is not allowed in a Service (its configuration is implied); use latestRevision: true', true);
    }
  });
}
