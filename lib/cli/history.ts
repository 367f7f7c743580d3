/**
 * The revision history file: a lockfile committed next to the manifests that remembers, per
 * service, the Configuration generation and each revision's name and template. It lets a
 * controller-less compile number revisions the way Knative's configuration controller does:
 * a changed template makes revision `NAME-0000<generation+1>` (or keeps its BYO name), an
 * unchanged one keeps the current revision, and earlier revisions stay routable by name.
 */
import { promises as fs } from 'node:fs';
import { stringify } from 'yaml';
import { Names } from '../contract/naming';
import { canonicalPodQuantities } from '../model/quantities';
import { formatPath, type PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import type { KnativeRevisionTemplate } from './knative-types';
import { HISTORY_API_VERSION, HISTORY_KIND, historySchema } from './schema/history';
import { SourceDocument, diagnosticAt, parseYamlText, readText } from './source';
import { validateDocument } from './validate';

export interface HistoryRevision {
  readonly name: string;
  readonly generation: number;
  /** The revision template (`spec.template`), keys sorted. */
  readonly template: KnativeRevisionTemplate;
}

export interface HistoryService {
  readonly namespace: string;
  readonly name: string;
  /** The Configuration generation: how many template changes the service has seen. */
  readonly generation: number;
  readonly revisions: readonly HistoryRevision[];
}

export interface RevisionHistory {
  readonly services: readonly HistoryService[];
  /** Where each service entry sits in the file, for error positions; absent for a new history. */
  readonly source?: SourceDocument;
}

export const EMPTY_HISTORY: RevisionHistory = { services: [] };

/** Reads a history file; a file that does not exist yet is an empty history. */
export async function loadHistory(file: string): Promise<{ history: RevisionHistory; diagnostics: Diagnostic[] }> {
  const exists = await fs.stat(file).then(() => true, () => false);
  if (!exists) return { history: EMPTY_HISTORY, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  const text = await readText(file, diagnostics);
  if (text === undefined) return { history: EMPTY_HISTORY, diagnostics };
  return parseHistory(file, text);
}

export function parseHistory(file: string, text: string): { history: RevisionHistory; diagnostics: Diagnostic[] } {
  const { documents, diagnostics } = parseYamlText(file, text);
  if (diagnostics.length > 0) return { history: EMPTY_HISTORY, diagnostics };
  if (documents.length !== 1) {
    const message = `must hold exactly one ${HISTORY_KIND} document, found ${documents.length}`;
    return { history: EMPTY_HISTORY, diagnostics: [{ file, line: 1, col: 1, path: '', message }] };
  }
  const source = documents[0];
  const schemaProblems = validateDocument(source, historySchema);
  if (schemaProblems.length > 0) return { history: EMPTY_HISTORY, diagnostics: schemaProblems };
  const history: RevisionHistory = { services: (source.value as { services: HistoryService[] }).services, source };
  return { history, diagnostics: checkHistory(history, source) };
}

/** Consistency a hand edit could break: unique entries and generations that only go up. */
function checkHistory(history: RevisionHistory, source: SourceDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, number>();
  history.services.forEach((service, s) => {
    const key = `${service.namespace}/${service.name}`;
    const first = seen.get(key);
    if (first !== undefined) out.push(diagnosticAt(source, ['services', s], `${key} is already listed at services[${first}]`));
    else seen.set(key, s);
    const names = new Set<string>();
    let previous = 0;
    service.revisions.forEach((revision, r) => {
      const at = ['services', s, 'revisions', r];
      if (names.has(revision.name)) out.push(diagnosticAt(source, [...at, 'name'], `revision "${revision.name}" is listed twice`));
      names.add(revision.name);
      if (revision.generation <= previous) {
        out.push(diagnosticAt(source, [...at, 'generation'], `must be greater than the previous revision's generation (${previous})`));
      }
      if (revision.generation > service.generation) {
        out.push(diagnosticAt(source, [...at, 'generation'], `must not exceed the service's generation (${service.generation})`));
      }
      previous = revision.generation;
    });
  });
  return out;
}

export function findService(history: RevisionHistory, namespace: string, name: string): { entry: HistoryService; index: number } | undefined {
  const index = history.services.findIndex((s) => s.namespace === namespace && s.name === name);
  return index < 0 ? undefined : { entry: history.services[index], index };
}

/** What the history says about a service's current template. */
export type RevisionPlan =
  | { readonly kind: 'ok'; readonly name: string; readonly generation: number; readonly entry: HistoryService }
  | { readonly kind: 'conflict'; readonly name: string };

/**
 * Knative's configuration generation, replayed: an unchanged template keeps the latest revision;
 * a changed one bumps the generation and names the new revision `NAME-%05d` (or its BYO name).
 * A BYO name already used by a different template is a conflict, as it is in Knative.
 */
export function planRevision(
  previous: HistoryService,
  service: string,
  template: KnativeRevisionTemplate,
): RevisionPlan {
  const normalized = normalize(template) as KnativeRevisionTemplate;
  const latest = previous.revisions[previous.revisions.length - 1];
  if (sameRevisionTemplate(latest.template, normalized)) {
    return { kind: 'ok', name: latest.name, generation: latest.generation, entry: previous };
  }
  const generation = previous.generation + 1;
  const name = template.metadata?.name ?? Names.revision(service, generation);
  const existing = previous.revisions.find((r) => r.name === name);
  if (existing && !sameRevisionTemplate(existing.template, normalized)) return { kind: 'conflict', name };
  // A BYO name that already has this very template is reused, as Knative finds it by name.
  const revisions = existing ? previous.revisions : [...previous.revisions, { name, generation, template: normalized }];
  return { kind: 'ok', name, generation: existing?.generation ?? generation, entry: { ...previous, generation, revisions } };
}

/** The entry of a service the history has not seen yet. */
export function firstEntry(namespace: string, name: string, revision: HistoryRevision): HistoryService {
  return { namespace, name, generation: revision.generation, revisions: [revision] };
}

/** Replaces (or adds) service entries; the result is sorted so the file diffs cleanly. */
export function withServices(history: RevisionHistory, entries: readonly HistoryService[]): RevisionHistory {
  const byKey = new Map(history.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const entry of entries) byKey.set(`${entry.namespace}/${entry.name}`, entry);
  const services = [...byKey.values()].sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name));
  return { services };
}

/** A service's entry as this run would record it, its current revision, and the Service document it comes from. */
export interface PlannedEntry {
  readonly entry: HistoryService;
  readonly current: string;
  readonly doc: SourceDocument;
}

/**
 * `--frozen-history` (used by `kservice compile`, the KRM function and the Argo CD plugin, where
 * the checkout is read-only): the history as read must already hold every entry this run would
 * record. One problem per service whose entry would change (a new service, a changed template),
 * naming the revisions that would be recorded; none when the lockfile would stay as it is.
 * Compared by content, not by bytes: a file that only differs in formatting is not rewritten.
 */
export function frozenHistoryProblems(history: RevisionHistory, file: string, planned: readonly PlannedEntry[]): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const exists = history.source !== undefined;
  for (const { entry, current, doc } of planned) {
    const previous = findService(history, entry.namespace, entry.name)?.entry;
    if (previous === undefined) {
      const recorded = entry.revisions.map(describeRevision).join(', ');
      problems.push(diagnosticAt(doc, ['metadata', 'name'], `Service ${entry.namespace}/${entry.name} is not in the history ${file}: ${recorded} would be recorded`));
    } else if (!sameTemplate(previous, entry)) {
      problems.push(diagnosticAt(doc, ['spec', 'template'], describeChange(previous, entry, current, file)));
    }
  }
  if (!exists && problems.length > 0) {
    const count = problems.length;
    const message = `does not exist; --frozen-history needs the committed history file, and ${count} service${count === 1 ? '' : 's'} would be recorded in it`;
    problems.unshift({ file, line: 0, col: 0, path: '', message });
  }
  return problems;
}

function describeRevision(revision: HistoryRevision): string {
  return `revision ${revision.name} (generation ${revision.generation})`;
}

/** What changed in a known service: the template fields, and the revision that would be recorded. */
function describeChange(previous: HistoryService, next: HistoryService, currentName: string, file: string): string {
  const latest = previous.revisions[previous.revisions.length - 1];
  const current = next.revisions.find((r) => r.name === currentName) ?? next.revisions[next.revisions.length - 1];
  const fields = changedPaths(latest.template, current.template).map((p) => formatPath(p) || '(the whole template)');
  const shown = fields.length > MAX_FIELDS_SHOWN ? [...fields.slice(0, MAX_FIELDS_SHOWN), `and ${fields.length - MAX_FIELDS_SHOWN} more`] : fields;
  const added = next.revisions.filter((r) => !previous.revisions.some((p) => p.name === r.name));
  const outcome = added.length > 0
    ? `${added.map(describeRevision).join(', ')} would be recorded`
    // A BYO name whose template comes back: Knative reuses that revision, and the generation still goes up.
    : `revision ${current.name} would become current again, the generation going from ${previous.generation} to ${next.generation}`;
  return `the template changed since ${file} was written (${shown.join(', ')}, against revision ${latest.name}): ${outcome}`;
}

const MAX_FIELDS_SHOWN = 5;

/** The paths (inside a revision template) where two templates differ: leaves, or a whole list whose length changed. */
export function changedPaths(before: unknown, after: unknown, at: PathSegments = []): PathSegments[] {
  if (sameTemplate(before, after)) return [];
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, i) => changedPaths(item, after[i], [...at, i]));
  }
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(compareStrings);
    return keys.flatMap((key) => changedPaths(before[key], after[key], [...at, key]));
  }
  return [at];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const HEADER = [
  '# Revision history of `kservice compile --history`: which revisions each service has had.',
  '# Commit it next to the manifests, like a lockfile. The compiler appends to it; do not edit by hand.',
].join('\n');

export function serializeHistory(history: RevisionHistory): string {
  const body = {
    apiVersion: HISTORY_API_VERSION,
    kind: HISTORY_KIND,
    services: history.services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      generation: s.generation,
      revisions: s.revisions.map((r) => ({ name: r.name, generation: r.generation, template: normalize(r.template) })),
    })),
  };
  return `${HEADER}\n${stringify(body, { lineWidth: 0 })}`;
}

/**
 * Two templates make the same revision when they are equal with every quantity in canonical form.
 * Knative's webhook decodes the template into resource.Quantity values and stores them re-encoded
 * (knative.dev/serving pkg/webhook defaulting: the patch from the request to the re-marshalled
 * object), so editing `cpu: 1000m` to `cpu: "1"` leaves the Configuration's spec, and its
 * generation, as they were. The history keeps the spelling it first recorded.
 */
export function sameRevisionTemplate(a: KnativeRevisionTemplate, b: KnativeRevisionTemplate): boolean {
  return sameTemplate(withCanonicalQuantities(a), withCanonicalQuantities(b));
}

function withCanonicalQuantities(template: KnativeRevisionTemplate): KnativeRevisionTemplate {
  return template.spec ? { ...template, spec: canonicalPodQuantities(template.spec) } : template;
}

export function sameTemplate(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
}

/** Sorted keys at every level: one spelling per template, whatever order the YAML used. */
export function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => compareStrings(a, b));
    return Object.fromEntries(entries.map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export { HISTORY_API_VERSION, HISTORY_KIND };
