/**
 * `kservice compile`: documents in, manifests out. The pipeline collects every problem of a run
 * (config, history, YAML syntax, schema, Knative's cross-field rules, construct validation) and
 * fails with all of them at once; only a clean run produces output and a new history.
 */
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { CompileOptions } from './args';
import { LoadedConfig, loadConfigFile } from './config-file';
import { Diagnostic, DiagnosticError } from './diagnostics';
import { buildGraph, type GraphService } from './graph';
import { EMPTY_HISTORY, PlannedEntry, frozenHistoryProblems, loadHistory, serializeHistory, withServices } from './history';
import { checkRevisionDocument, checkService } from './knative-checks';
import { serviceToProps } from './knative-to-props';
import type { KnativeRevision, KnativeService } from './knative-types';
import { knativeKindOf, namespaceOf } from './knative-types';
import { OutputFile, PASSTHROUGH_FILE, SYSTEM_FILE } from './output';
import { ownerOf, resolveLineup } from './revisions';
import { revisionSchema, serviceSchema } from './schema/knative';
import { domainMappingSchema, isDomainMapping } from './schema/domain-mapping';
import { parseDomainMapping, type DomainMappingSpec } from '../model/domain-mapping';
import { buildDomainMappingRoute, domainMappingIngressName } from '../builders/domain-mapping';
import { ReadResult, SourceDocument, diagnosticAt, readInputs } from './source';
import { validateDocument } from './validate';

export interface CompileResult {
  /** In stream order: pass-through documents, the system, then one file per service. */
  readonly files: readonly OutputFile[];
  /** The rewritten history, when `--history` was given without `--frozen-history`. */
  readonly history?: { readonly file: string; readonly content: string };
}

/**
 * What another front end (the KRM function, lib/cli/krm/) has read itself instead of
 * `options.inputs` and `options.configFile`: the documents, and the serving config.
 */
export interface GivenSources {
  readonly input?: ReadResult;
  readonly config?: LoadedConfig;
}

/** Runs the whole compile; throws `DiagnosticError` with every problem when the input is bad. */
export async function compile(options: CompileOptions, readStdin: () => Promise<string | Uint8Array>, given: GivenSources = {}): Promise<CompileResult> {
  const diagnostics: Diagnostic[] = [];
  const config = given.config ?? (await loadConfigFile(options.configFile));
  diagnostics.push(...config.diagnostics);
  const loaded = options.historyFile ? await loadHistory(options.historyFile) : { history: EMPTY_HISTORY, diagnostics: [] };
  diagnostics.push(...loaded.diagnostics);
  const input = given.input ?? withoutOwnFiles(await readInputs(options.inputs, readStdin), [options.configFile, options.historyFile]);
  diagnostics.push(...input.diagnostics);

  const sorted = sortDocuments(inNamespace(input.documents, options.namespace));
  const services = validServices(sorted.services, diagnostics);
  const revisions = validRevisions(sorted.revisions, sorted.services, diagnostics);
  const mappings = validDomainMappings(sorted.domainMappings, diagnostics);

  const graphServices: GraphService[] = [];
  const historyEntries: PlannedEntry[] = [];
  for (const doc of services) {
    const service = doc.value as KnativeService;
    const key = serviceKey(namespaceOf(service.metadata), service.metadata.name);
    const lineup = resolveLineup(doc, loaded.history, revisions.byService.get(key) ?? [], diagnostics);
    if (!lineup) continue;
    historyEntries.push({ entry: lineup.historyEntry, current: lineup.revisions.current, doc });
    graphServices.push({ doc, origins: lineup.origins, props: serviceToProps(service, lineup.revisions, config.props) });
  }
  // The constructs apply the model's rules as the graph is built (new KService), once per service;
  // building even when other documents have problems reports every problem in this one run. Not
  // with a broken --config, whose problems would only be repeated for each service.
  const graph = config.diagnostics.length === 0 ? buildGraph(graphServices, config.props) : undefined;
  diagnostics.push(...(graph?.diagnostics ?? []));
  // A Revision document the graph built (as a service's `revisions[i]`) had its model rules
  // applied there; every other one is checked alone, so it is parsed once either way.
  const parsedInGraph = new Set(graph ? graphServices.flatMap((s) => s.origins.map((o) => o.doc)) : []);
  for (const doc of revisions.valid) if (!parsedInGraph.has(doc)) diagnostics.push(...checkRevisionDocument(doc, config.config));
  // A history that could not be read would make every service look new: its own problems say enough.
  const frozen = options.frozenHistory && options.historyFile && loaded.diagnostics.length === 0
    ? frozenHistoryProblems(loaded.history, options.historyFile, historyEntries)
    : [];
  diagnostics.push(...frozen);
  if (diagnostics.length > 0 || !graph) {
    throw new DiagnosticError(inInputOrder(diagnostics, input.documents), frozen.length > 0 ? frozenHistoryHint(options) : undefined);
  }

  const files: OutputFile[] = [];
  if (sorted.passthrough.length > 0) {
    files.push({ name: PASSTHROUGH_FILE, documents: sorted.passthrough.map(passThrough) });
  }
  files.push({ name: SYSTEM_FILE, documents: graph.system.map(toYaml) });
  for (const service of graph.services) files.push({ name: `${service.namespace}-${service.name}.yaml`, documents: service.objects.map(toYaml) });
  for (const m of mappings) files.push({ name: domainMappingFileName(m.spec), documents: [toYaml(buildDomainMappingRoute(m.spec, config.config))] });
  if (options.outDir !== undefined) assertUniqueFileNames(files, graphServices, mappings);
  // Frozen and unchanged: there is nothing to write, and the checkout may well be read-only.
  const history = options.historyFile && !options.frozenHistory
    ? { file: options.historyFile, content: serializeHistory(withServices(loaded.history, historyEntries.map((p) => p.entry))) }
    : undefined;
  return { files, history };
}

/**
 * The --config and --history files are never input: `kservice compile . --history
 * kservice-history.yaml` (the Argo CD plugin's default) must not pass them through as manifests,
 * nor report their problems twice.
 */
function withoutOwnFiles(input: ReadResult, own: readonly (string | undefined)[]): ReadResult {
  const skipped = new Set(own.filter((f): f is string => f !== undefined).map((f) => path.resolve(f)));
  const kept = (file: string) => !skipped.has(path.resolve(file));
  return { documents: input.documents.filter((d) => kept(d.file)), diagnostics: input.diagnostics.filter((d) => kept(d.file)) };
}

/** What a frozen-history failure tells the user to run: the same compile, without --frozen-history. */
export function frozenHistoryHint(options: CompileOptions): string {
  return [
    `The history is frozen (--frozen-history). To record the new revisions, run the same compile without it and commit ${options.historyFile}:`,
    `  ${updateCommand(options)}`,
  ].join('\n');
}

/** The compile command line that rewrites the history: these options, without --frozen-history. */
export function updateCommand(options: CompileOptions): string {
  const args = ['kservice', 'compile', ...options.inputs];
  if (options.outDir !== undefined) args.push('-o', options.outDir);
  if (options.namespace !== undefined) args.push('--namespace', options.namespace);
  if (options.configFile !== undefined) args.push('--config', options.configFile);
  if (options.historyFile !== undefined) args.push('--history', options.historyFile);
  return args.map(shellQuote).join(' ');
}

/** POSIX shell quoting: plain words as they are, anything else in single quotes. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Knative documents without a namespace get `--namespace`, as `kubectl apply -n` would place them
 * (a GitOps engine applies them to its destination namespace). Only the plain value changes: the
 * document's YAML, and so every position reported in it, stays as written.
 */
function inNamespace(documents: readonly SourceDocument[], namespace: string | undefined): readonly SourceDocument[] {
  if (namespace === undefined) return documents;
  return documents.map((doc) => {
    const metadata = (doc.value as { metadata?: unknown }).metadata;
    if ((knativeKindOf(doc.value) === undefined && !isDomainMapping(doc.value)) || !isRecord(metadata) || metadata.namespace !== undefined) return doc;
    return { ...doc, value: { ...(doc.value as object), metadata: { ...metadata, namespace } } };
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A document re-emitted as parsed (comments kept), without its own `---`/`...` markers. */
function passThrough(doc: SourceDocument): string {
  const copy = doc.yaml.clone();
  if (copy.directives) {
    copy.directives.docStart = null;
    copy.directives.docEnd = false;
  }
  return copy.toString({ lineWidth: 0 });
}

/** `NS-NAME.yaml` is ambiguous in theory (a-b/c vs a/b-c); two services must not share a file. */
function assertUniqueFileNames(files: readonly OutputFile[], services: readonly GraphService[], mappings: readonly ValidDomainMapping[]): void {
  const seen = new Set<string>();
  const clashes: Diagnostic[] = [];
  files.forEach((file) => {
    if (seen.has(file.name)) {
      const service = services.find((s) => `${s.props.namespace}-${s.props.name}.yaml` === file.name);
      const mapping = mappings.find((m) => domainMappingFileName(m.spec) === file.name);
      const doc = service?.doc ?? mapping?.doc;
      if (doc) clashes.push(diagnosticAt(doc, ['metadata', 'name'], `its output file ${file.name} is also another ${service ? 'service' : 'DomainMapping'}'s; rename one of them`));
    }
    seen.add(file.name);
  });
  if (clashes.length > 0) throw new DiagnosticError(clashes);
}

/**
 * Problems of earlier input files first, as the files were given: the model's problems are found
 * after every file's schema problems. Other files (--config, --history) keep their place in front.
 */
function inInputOrder(diagnostics: readonly Diagnostic[], documents: readonly SourceDocument[]): Diagnostic[] {
  const order = new Map<string, number>();
  for (const doc of documents) if (!order.has(doc.file)) order.set(doc.file, order.size);
  return [...diagnostics].sort((a, b) => (order.get(a.file) ?? -1) - (order.get(b.file) ?? -1));
}

function toYaml(object: unknown): string {
  return stringify(object, { lineWidth: 0 });
}

function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

interface SortedDocuments {
  readonly services: SourceDocument[];
  readonly revisions: SourceDocument[];
  readonly domainMappings: SourceDocument[];
  readonly passthrough: SourceDocument[];
}

function sortDocuments(documents: readonly SourceDocument[]): SortedDocuments {
  const sorted: SortedDocuments = { services: [], revisions: [], domainMappings: [], passthrough: [] };
  for (const doc of documents) {
    const kind = knativeKindOf(doc.value);
    if (kind === 'Service') sorted.services.push(doc);
    else if (kind === 'Revision') sorted.revisions.push(doc);
    else if (isDomainMapping(doc.value)) sorted.domainMappings.push(doc);
    else sorted.passthrough.push(doc);
  }
  return sorted;
}

/** Services that pass the schema and the document-only rules; a name given twice is an error. */
function validServices(docs: readonly SourceDocument[], diagnostics: Diagnostic[]): SourceDocument[] {
  const valid: SourceDocument[] = [];
  const seen = new Map<string, SourceDocument>();
  for (const doc of docs) {
    const schemaProblems = validateDocument(doc, serviceSchema);
    if (schemaProblems.length > 0) {
      diagnostics.push(...schemaProblems);
      continue;
    }
    const service = doc.value as KnativeService;
    const key = serviceKey(namespaceOf(service.metadata), service.metadata.name);
    const first = seen.get(key);
    if (first) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'name'], `Service ${key} is already defined at ${where(first)}`));
      continue;
    }
    seen.set(key, doc);
    const problems = checkService(doc);
    diagnostics.push(...problems);
    if (problems.length === 0) valid.push(doc);
  }
  return valid;
}

interface ValidRevisions {
  /** Every Revision document that passes the schema (the model's rules are applied later, once). */
  readonly valid: readonly SourceDocument[];
  /** Those that also name a Service of the input, uniquely, grouped by that service. */
  readonly byService: ReadonlyMap<string, SourceDocument[]>;
}

/** Revision documents that pass the schema and the document-only rules, grouped by service. */
function validRevisions(docs: readonly SourceDocument[], services: readonly SourceDocument[], diagnostics: Diagnostic[]): ValidRevisions {
  // Every Service document counts, valid or not, so an invalid Service does not also make its
  // Revisions look orphaned.
  const known = new Set(services.map((d) => {
    const metadata = (d.value as { metadata?: { name?: unknown; namespace?: unknown } }).metadata ?? {};
    return serviceKey(typeof metadata.namespace === 'string' ? metadata.namespace : 'default', String(metadata.name));
  }));
  const byService = new Map<string, SourceDocument[]>();
  const names = new Map<string, SourceDocument>();
  const valid: SourceDocument[] = [];
  for (const doc of docs) {
    const schemaProblems = validateDocument(doc, revisionSchema);
    if (schemaProblems.length > 0) {
      diagnostics.push(...schemaProblems);
      continue;
    }
    valid.push(doc);
    const revision = doc.value as KnativeRevision;
    const owner = ownerOf(revision);
    const namespace = namespaceOf(revision.metadata);
    const nameKey = serviceKey(namespace, revision.metadata.name);
    if (owner === undefined) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'labels'], 'must carry serving.knative.dev/service (or serving.knative.dev/configuration) naming its Service'));
    } else if (!known.has(serviceKey(namespace, owner))) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'labels'], `names Service ${serviceKey(namespace, owner)}, which is not in the input`));
    } else if (!revision.metadata.name.startsWith(`${owner}-`)) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'name'], `must start with "${owner}-" (the name of its Service)`));
    } else if (names.has(nameKey)) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'name'], `Revision ${nameKey} is already defined at ${where(names.get(nameKey)!)}`));
    } else {
      names.set(nameKey, doc);
      const list = byService.get(serviceKey(namespace, owner)) ?? [];
      list.push(doc);
      byService.set(serviceKey(namespace, owner), list);
    }
  }
  return { valid, byService };
}

interface ValidDomainMapping {
  readonly doc: SourceDocument;
  readonly spec: DomainMappingSpec;
}

/**
 * A mapping's route file: NS-INGRESS.yaml, the ingress name being the domain (hashed past 63
 * characters, so the file name stays short). A domain has a dot and a service name none, so a
 * mapping's file is never a service's.
 */
function domainMappingFileName(spec: DomainMappingSpec): string {
  return `${spec.namespace}-${domainMappingIngressName(spec)}.yaml`;
}

interface DomainMappingDocument {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly spec: { readonly ref: { readonly apiVersion?: string; readonly kind?: string; readonly name?: string; readonly namespace?: string } };
}

/** DomainMapping documents that pass the schema and Knative's rules; a domain mapped twice in a namespace is an error. */
function validDomainMappings(docs: readonly SourceDocument[], diagnostics: Diagnostic[]): ValidDomainMapping[] {
  const valid: ValidDomainMapping[] = [];
  const seen = new Map<string, SourceDocument>();
  for (const doc of docs) {
    const schemaProblems = validateDocument(doc, domainMappingSchema);
    diagnostics.push(...schemaProblems);
    if (schemaProblems.length > 0) continue;
    const { metadata, spec } = doc.value as DomainMappingDocument;
    const parsed = parseDomainMapping({ ...metadata, namespace: namespaceOf(metadata), ref: spec.ref });
    const problems = parsed.errors.problems.map((p) => diagnosticAt(doc, p.segments, p.message));
    diagnostics.push(...problems);
    if (problems.length > 0) continue;
    const key = serviceKey(parsed.value.namespace, parsed.value.domain);
    const first = seen.get(key);
    if (first) {
      diagnostics.push(diagnosticAt(doc, ['metadata', 'name'], `DomainMapping ${key} is already defined at ${where(first)}`));
      continue;
    }
    seen.set(key, doc);
    valid.push({ doc, spec: parsed.value });
  }
  return valid;
}

function where(doc: SourceDocument): string {
  const { line, col } = doc.lineCounter.linePos(doc.yaml.contents?.range?.[0] ?? 0);
  return `${doc.file}:${line}:${col}`;
}
