/**
 * Which revisions a service has: the current template's revision (named and numbered from the
 * history, Revision documents and Knative's naming rule) and the earlier revisions its traffic
 * names (from Revision documents or the history). A traffic target naming a revision found
 * nowhere is reported with the names that are known.
 */
import { Labels } from '../contract/constants';
import type { PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import { HistoryService, RevisionHistory, findService, firstEntry, normalize, planRevision, sameRevisionTemplate } from './history';
import { Names } from '../contract/naming';
import { unknownRevisionMessage } from '../model/knative-rules';
import type { ResolvedRevisions } from './knative-to-props';
import type { KnativeRevision, KnativeRevisionTemplate, KnativeService } from './knative-types';
import { namespaceOf } from './knative-types';
import { SourceDocument, diagnosticAt } from './source';

/** Where a revision's template was read, to report construct problems about it. */
export interface RevisionOrigin {
  readonly doc: SourceDocument;
  /**
   * Path of the template (metadata + spec) inside `doc`: a history entry's `template`, or the
   * document root of a Revision document, which has the same shape.
   */
  readonly templatePath: PathSegments;
}

export interface Lineup {
  readonly revisions: ResolvedRevisions;
  /** Origins of `revisions.earlier`, index for index. */
  readonly origins: readonly RevisionOrigin[];
  /** The service's new history entry. */
  readonly historyEntry: HistoryService;
}

interface KnownRevision {
  readonly name: string;
  readonly template: KnativeRevisionTemplate;
  readonly origin: RevisionOrigin;
}

/** The service a Revision document belongs to, by its labels. */
export function ownerOf(revision: KnativeRevision): string | undefined {
  return revision.metadata.labels[Labels.SERVICE] ?? revision.metadata.labels[Labels.CONFIGURATION];
}

export function revisionDocumentTemplate(revision: KnativeRevision): KnativeRevisionTemplate {
  const { labels, annotations } = revision.metadata;
  return { metadata: { name: revision.metadata.name, labels, annotations }, spec: revision.spec };
}

export function resolveLineup(
  serviceDoc: SourceDocument,
  history: RevisionHistory,
  revisionDocs: readonly SourceDocument[],
  diagnostics: Diagnostic[],
): Lineup | undefined {
  const service = serviceDoc.value as KnativeService;
  const namespace = namespaceOf(service.metadata);
  const name = service.metadata.name;
  const fromDocs = revisionDocs.map((doc): KnownRevision => {
    const revision = doc.value as KnativeRevision;
    return { name: revision.metadata.name, template: revisionDocumentTemplate(revision), origin: { doc, templatePath: [] } };
  });
  const previous = findService(history, namespace, name);
  const current = currentRevision(serviceDoc, previous?.entry, fromDocs, diagnostics);
  if (!current) return undefined;

  const fromHistory = (previous?.entry.revisions ?? []).map((r, i): KnownRevision => ({
    name: r.name,
    template: r.template,
    origin: { doc: history.source!, templatePath: ['services', previous!.index, 'revisions', i, 'template'] },
  }));
  const known = new Map<string, KnownRevision>();
  for (const r of [...fromHistory, ...fromDocs]) known.set(r.name, r);

  const earlier: KnownRevision[] = [];
  let ok = true;
  (service.spec.traffic ?? []).forEach((target, i) => {
    const wanted = target.revisionName;
    if (wanted === undefined || wanted === current.name || earlier.some((r) => r.name === wanted)) return;
    const found = known.get(wanted);
    if (found) {
      earlier.push(found);
      return;
    }
    ok = false;
    // The model's message (the constructs say the same), plus where the CLI finds revisions.
    diagnostics.push(diagnosticAt(serviceDoc, ['spec', 'traffic', i, 'revisionName'],
      `${unknownRevisionMessage(wanted, [current.name, ...known.keys()])} (add it as a Revision document or keep it in --history)`));
  });
  if (!ok) return undefined;
  return {
    revisions: { current: current.name, generation: current.generation, earlier: earlier.map(({ name: n, template }) => ({ name: n, template })) },
    origins: earlier.map((r) => r.origin),
    historyEntry: current.entry,
  };
}

/**
 * Names and numbers the current template's revision. Without a history entry, a Revision document
 * with the same spec is taken to be the current revision (it was exported from the cluster), and
 * otherwise numbering continues after the highest generation the documents used.
 */
function currentRevision(
  serviceDoc: SourceDocument,
  previous: HistoryService | undefined,
  fromDocs: readonly KnownRevision[],
  diagnostics: Diagnostic[],
): { name: string; generation: number; entry: HistoryService } | undefined {
  const service = serviceDoc.value as KnativeService;
  const namespace = namespaceOf(service.metadata);
  const template = service.spec.template;
  const byoName = template.metadata?.name;
  if (previous === undefined) {
    const same = fromDocs.find((r) => sameRevisionTemplate({ spec: r.template.spec }, { spec: template.spec }) && (byoName === undefined || byoName === r.name));
    const generation = same
      ? generationOf(same, service.metadata.name)
      : 1 + Math.max(0, ...fromDocs.map((r) => generationOf(r, service.metadata.name)));
    const name = same?.name ?? byoName ?? Names.revision(service.metadata.name, generation);
    const clash = !same && fromDocs.find((r) => r.name === name);
    if (clash) {
      diagnostics.push(diagnosticAt(serviceDoc, byoName ? ['spec', 'template', 'metadata', 'name'] : ['spec', 'template'],
        `revision "${name}" is also given as a Revision document (${clash.origin.doc.file}) with a different spec`));
      return undefined;
    }
    const entry = firstEntry(namespace, service.metadata.name, { name, generation, template: normalize(template) as KnativeRevisionTemplate });
    return { name, generation, entry };
  }
  const plan = planRevision(previous, service.metadata.name, template);
  if (plan.kind === 'conflict') {
    diagnostics.push(diagnosticAt(serviceDoc, ['spec', 'template', 'metadata', 'name'],
      `revision "${plan.name}" already exists in the history with a different template; give the changed template a new name`));
    return undefined;
  }
  return { name: plan.name, generation: plan.generation, entry: plan.entry };
}

/** configurationGeneration label, else the number in `NAME-00007`, else 0. */
function generationOf(revision: KnownRevision, service: string): number {
  const label = revision.template.metadata?.labels?.[Labels.CONFIGURATION_GENERATION];
  if (label !== undefined && /^\d+$/.test(label)) return Number(label);
  const match = new RegExp(`^${service}-(\\d{5})$`).exec(revision.name);
  return match ? Number(match[1]) : 0;
}
