/**
 * Rules of Knative's validating webhook that span several fields, so a JSON schema cannot state
 * them (knative/serving pkg/apis/serving/v1 *_validation.go, reference sections 1, 6, 7, 11).
 * They run on documents the schema accepted and report with the document's own field paths.
 */
import { AUTOSCALING_PREFIX } from './schema/annotations';
import { parseAutoscaling, ALIASES } from '../contract/autoscaling';
import type { ServingConfig } from '../contract/config';
import { renderHostTemplate } from '../contract/config';
import {
  addedCapabilitiesProblem,
  imageReferenceProblem,
  queueSidecarAnnotationProblems,
  revisionNamePrefixProblem,
  timeoutSecondsProblem,
} from '../model/knative-rules';
import { MAX_NAME_LENGTH } from '../contract/naming';
import type { PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import type { KnativeRevisionSpec, KnativeRevisionTemplate, KnativeService } from './knative-types';
import { SourceDocument, diagnosticAt } from './source';

type Report = (segments: PathSegments, message: string, atKey?: boolean) => void;

function reporterFor(doc: SourceDocument, out: Diagnostic[]): Report {
  return (segments, message, atKey) => out.push(diagnosticAt(doc, segments, message, atKey));
}

/** Checks a Service document; returns its problems. */
export function checkService(doc: SourceDocument, config: ServingConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporterFor(doc, out);
  const service = doc.value as KnativeService;
  checkTemplateName(service, report);
  checkTraffic(service, config, report);
  checkRevisionSpec(service.spec.template.spec, ['spec', 'template', 'spec'], config, report);
  checkAutoscaling(service.spec.template, ['spec', 'template', 'metadata', 'annotations'], config, report);
  checkQueueSidecarAnnotations(service.spec.template.metadata?.annotations, ['spec', 'template', 'metadata', 'annotations'], report);
  return out;
}

/** Checks a Revision document's spec and annotations. */
export function checkRevisionDocument(doc: SourceDocument, config: ServingConfig): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporterFor(doc, out);
  const revision = doc.value as { metadata: { annotations?: Record<string, string> }; spec: KnativeRevisionSpec };
  checkRevisionSpec(revision.spec, ['spec'], config, report);
  checkAutoscaling({ metadata: revision.metadata, spec: revision.spec }, ['metadata', 'annotations'], config, report);
  checkQueueSidecarAnnotations(revision.metadata.annotations, ['metadata', 'annotations'], report);
  return out;
}

function checkQueueSidecarAnnotations(annotations: Record<string, string> | undefined, at: PathSegments, report: Report): void {
  for (const { key, message } of queueSidecarAnnotationProblems(annotations ?? {})) report([...at, key], message);
}

/** A BYO revision name must start with the service name and a dash (knative/serving pkg/apis/serving/v1/revision_validation.go). */
function checkTemplateName(service: KnativeService, report: Report): void {
  const name = service.spec.template.metadata?.name;
  if (name === undefined) return;
  const problem = revisionNamePrefixProblem(service.metadata.name, name);
  if (problem) report(['spec', 'template', 'metadata', 'name'], problem);
}

function checkTraffic(service: KnativeService, config: ServingConfig, report: Report): void {
  const traffic = service.spec.traffic;
  if (traffic === undefined || traffic.length === 0) return;
  const tagOwner = new Map<string, number>();
  let sum = 0;
  traffic.forEach((target, i) => {
    const at = (field?: string): PathSegments => (field ? ['spec', 'traffic', i, field] : ['spec', 'traffic', i]);
    sum += target.percent ?? 0;
    if (target.configurationName !== undefined) {
      report(at('configurationName'), 'is not allowed in a Service (its configuration is implied); use latestRevision: true', true);
    }
    if (target.revisionName !== undefined && target.latestRevision === true) {
      report(at('latestRevision'), 'may not be true when revisionName is set');
    }
    if (target.revisionName === undefined && target.latestRevision === false) {
      report(at('latestRevision'), 'may not be false when revisionName is not set');
    }
    if (target.tag !== undefined) {
      const first = tagOwner.get(target.tag);
      if (first !== undefined) report(at('tag'), `"${target.tag}" is already used by spec.traffic[${first}]`);
      else tagOwner.set(target.tag, i);
      checkTagHostName(service.metadata.name, target.tag, config, (m) => report(at('tag'), m));
    }
  });
  if (sum !== 100) report(['spec', 'traffic'], `percents must sum to 100, but they sum to ${sum}`);
}

/** The tag's route Service is named by the tag template; it must still be a valid name. */
function checkTagHostName(service: string, tag: string, config: ServingConfig, report: (m: string) => void): void {
  const host = renderHostTemplate(config.tagTemplate, { Tag: tag, Name: service });
  if (host.length > MAX_NAME_LENGTH) {
    report(`makes the route name "${host}" ${host.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`);
  }
}

function checkRevisionSpec(spec: KnativeRevisionSpec, at: PathSegments, config: ServingConfig, report: Report): void {
  checkContainers(spec, at, report);
  checkVolumes(spec, at, report);
  checkTimeouts(spec, at, config, report);
}

function checkContainers(spec: KnativeRevisionSpec, at: PathSegments, report: Report): void {
  const names = new Map<string, number>();
  const withPort: number[] = [];
  spec.containers.forEach((container, i) => {
    if (container.name !== undefined) {
      const first = names.get(container.name);
      if (first !== undefined) report([...at, 'containers', i, 'name'], `"${container.name}" is already used by containers[${first}]`);
      else names.set(container.name, i);
    }
    if (container.name === 'queue-proxy') report([...at, 'containers', i, 'name'], '"queue-proxy" is reserved for the sidecar');
    const image = imageReferenceProblem(container.image);
    if (image) report([...at, 'containers', i, 'image'], image);
    const capabilities = addedCapabilitiesProblem(container.securityContext?.capabilities?.add);
    if (capabilities) report([...at, 'containers', i, 'securityContext', 'capabilities', 'add'], capabilities);
    if ((container.ports ?? []).length > 0) withPort.push(i);
  });
  if (spec.containers.length > 1 && withPort.length !== 1) {
    const where = withPort.length === 0 ? 'none does' : `containers ${withPort.join(' and ')} do`;
    report([...at, 'containers'], `exactly one container must declare a port when there are several (${where})`);
  }
}

function checkVolumes(spec: KnativeRevisionSpec, at: PathSegments, report: Report): void {
  const volumes = new Map<string, number>();
  (spec.volumes ?? []).forEach((volume, i) => {
    const first = volumes.get(volume.name);
    if (first !== undefined) report([...at, 'volumes', i, 'name'], `"${volume.name}" is already used by volumes[${first}]`);
    else volumes.set(volume.name, i);
  });
  spec.containers.forEach((container, c) => {
    (container.volumeMounts ?? []).forEach((mount, m) => {
      if (!volumes.has(mount.name)) {
        report([...at, 'containers', c, 'volumeMounts', m, 'name'], `no volume named "${mount.name}" in volumes`);
      }
    });
  });
}

/**
 * Only timeoutSeconds has a bound (max-revision-timeout-seconds, knative/serving
 * pkg/apis/serving/v1/revision_validation.go validateTimeoutSeconds); Knative sets none on the
 * response-start and idle timeouts, so neither do we.
 */
function checkTimeouts(spec: KnativeRevisionSpec, at: PathSegments, config: ServingConfig, report: Report): void {
  const problem = timeoutSecondsProblem(spec.timeoutSeconds, config.maxRevisionTimeoutSeconds);
  if (problem) report([...at, 'timeoutSeconds'], problem);
}

/**
 * Autoscaling annotations through the same parser the constructs and the runtime use, so the three
 * agree; its problems name the annotation key (canonical or as written).
 */
function checkAutoscaling(template: KnativeRevisionTemplate, at: PathSegments, config: ServingConfig, report: Report): void {
  const annotations = template.metadata?.annotations ?? {};
  const autoscaling = Object.fromEntries(Object.entries(annotations).filter(([k]) => k.startsWith(AUTOSCALING_PREFIX)));
  const cc = template.spec.containerConcurrency ?? config.containerConcurrency;
  for (const problem of parseAutoscaling(autoscaling, config, cc).problems) {
    report([...at, writtenKey(problem.path, annotations)], problem.message);
  }
}

/** The key as the user wrote it: a canonical key may have been given as its camelCase alias. */
function writtenKey(key: string, annotations: Record<string, string>): string {
  if (key in annotations) return key;
  const alias = Object.keys(ALIASES).find((a) => ALIASES[a] === key && a in annotations);
  return alias ?? key;
}
