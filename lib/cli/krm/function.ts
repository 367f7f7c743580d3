/**
 * `kservice krm`: the compiler as a KRM function (kustomize
 * cmd/config/docs/api-conventions/functions-spec.md), for kustomize (`transformers:` with an exec
 * or container function) and kpt (a Kptfile pipeline). A ResourceList comes in on stdin; every
 * `serving.knative.dev/v1` Service and Revision item is replaced by what `kservice compile` emits
 * for it, the serving-system objects included, and every other item passes through as received
 * (its comments and the orchestrator's annotations too). Nothing here judges a document: the items
 * go through the same `compile` as files do, and its diagnostics become `results`.
 *
 * Output, on success: the passed-through items in their order, then the system, then each service's
 * objects: compile's stream order. Generated objects carry the path and index annotations
 * (internal and legacy) of the file `kservice compile -o` would write them to (serving-system.yaml,
 * NAMESPACE-NAME.yaml), so kpt writes them to those files and kustomize, which drops these
 * annotations from its output, keeps them apart by their ids.
 *
 * On bad input: every problem as a result (severity error, resourceRef, field.path, file.path and
 * file.index when the orchestrator said where the item came from), and the same lines on stderr;
 * the items pass through unchanged, nothing is compiled, and the exit code is 1.
 *
 * The revision history is read, never written (the orchestrator's checkout may be read-only, and a
 * function's output is only the ResourceList): `functionConfig.history` names the lockfile that
 * `kservice compile --history` keeps, read relative to the working directory (kustomize runs exec
 * functions in the kustomization's directory; a container function needs it mounted). It is a
 * path, not an item, because the lockfile has no metadata.name (kustomize refuses such a resource)
 * and an item would be deleted (kpt) or applied (kustomize) depending on whether it is emitted. A
 * run that would change it fails like `kservice compile --frozen-history`, with the compile
 * command that updates it.
 */
import { Document, YAMLMap, YAMLSeq, parse } from 'yaml';
import { compile, updateCommand } from '../compile';
import { configFromDocument } from '../config-file';
import { Diagnostic, DiagnosticError, formatDiagnostics } from '../diagnostics';
import { decodeText } from '../encoding';
import { knativeKindOf } from '../knative-types';
import { isDomainMapping } from '../schema/domain-mapping';
import { OutputFile, PASSTHROUGH_FILE } from '../output';
import { KrmAnnotations, KrmObject, ResourceList, parseResourceList } from './resource-list';
import { KrmResult, formatResult, toResults } from './results';

const PROGRAM = 'kservice krm';

export interface KrmIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string | Uint8Array>;
}

/** Runs the function; returns the exit code (0, or 1 when there were problems). */
export async function runKrm(io: KrmIo): Promise<number> {
  const diagnostics: Diagnostic[] = [];
  const text = decodeText('<stdin>', await io.readStdin(), diagnostics);
  const parsed = text === undefined ? { diagnostics } : parseResourceList(text);
  if (!parsed.list) {
    // Not a ResourceList: there is no list to answer with, so only stderr says why.
    io.stderr(`${formatDiagnostics(parsed.diagnostics)}\n${PROGRAM}: stdin must be a config.kubernetes.io/v1 ResourceList; nothing was written\n`);
    return 1;
  }
  const list = parsed.list;
  // What compile consumes: Knative Services, Revisions and DomainMappings; everything else passes on.
  const knative = list.items.filter((item) => knativeKindOf(item.doc.value) !== undefined || isDomainMapping(item.doc.value));
  const config = list.functionConfig ? configFromDocument(list.functionConfig.doc, 'functionConfig') : undefined;
  const historyFile = historyOf(list.functionConfig);
  const options = { inputs: [], historyFile, frozenHistory: historyFile !== undefined };
  try {
    // stdin is read already; compile reads only the documents given here.
    const given = { input: { documents: knative.map((i) => i.doc), diagnostics: [] }, config };
    const result = await compile(options, () => Promise.resolve(''), given);
    const items = [...list.items.filter((item) => !knative.includes(item)).map((i) => i.emitted), ...generated(result.files)];
    io.stdout(writeList(list, items, []));
    return 0;
  } catch (error) {
    if (!(error instanceof DiagnosticError)) throw error;
    const labelled = new Map<string, KrmObject>(list.items.map((item) => [item.doc.file, item]));
    if (list.functionConfig) labelled.set(list.functionConfig.doc.file, list.functionConfig);
    // compile hints only at a frozen history (the command that updates it); here that is a result of its own.
    const results = [...toResults(error.diagnostics, labelled), ...(error.hint ? [frozenResult(list, knative, historyFile!)] : [])];
    io.stdout(writeList(list, list.items.map((i) => i.emitted), results));
    io.stderr(`${results.map(formatResult).join('\n')}\n${PROGRAM}: ${results.length} problem${results.length === 1 ? '' : 's'} found; the items were passed on uncompiled\n`);
    return 1;
  }
}

function historyOf(functionConfig: KrmObject | undefined): string | undefined {
  const history = (functionConfig?.doc.value as { history?: unknown } | undefined)?.history;
  return typeof history === 'string' && history !== '' ? history : undefined;
}

/** compile's objects (not its pass-through file: those items pass on as received), with the file each belongs to. */
function generated(files: readonly OutputFile[]): unknown[] {
  return files
    .filter((file) => file.name !== PASSTHROUGH_FILE)
    .flatMap((file) => file.documents.map((text, index) => withFileAnnotations(parse(text) as Record<string, unknown>, file.name, index)));
}

function withFileAnnotations(object: Record<string, unknown>, file: string, index: number): Record<string, unknown> {
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const annotations = {
    ...((metadata.annotations ?? {}) as Record<string, string>),
    [KrmAnnotations.PATH]: file,
    [KrmAnnotations.INDEX]: String(index),
    [KrmAnnotations.LEGACY_PATH]: file,
    [KrmAnnotations.LEGACY_INDEX]: String(index),
  };
  return { ...object, metadata: { ...metadata, annotations } };
}

/** The output list: the input's apiVersion and functionConfig, the given items, and the results when there are any. */
function writeList(list: ResourceList, items: readonly unknown[], results: readonly KrmResult[]): string {
  const out = new Document(undefined, { aliasDuplicateObjects: false });
  const root = new YAMLMap();
  root.set('apiVersion', list.apiVersion);
  root.set('kind', 'ResourceList');
  const seq = new YAMLSeq();
  for (const item of items) seq.items.push(out.createNode(item));
  root.set('items', seq);
  if (list.functionConfig) root.set('functionConfig', out.createNode(list.functionConfig.emitted));
  if (results.length > 0) root.set('results', out.createNode(results));
  out.contents = root;
  return out.toString({ lineWidth: 0 });
}

/** The lockfile would change: the compile command that records the new revisions, on the files the items came from when the orchestrator said. */
function frozenResult(list: ResourceList, knative: readonly KrmObject[], historyFile: string): KrmResult {
  const files = [...new Set(knative.map((i) => i.file?.path).filter((p): p is string => p !== undefined))].sort();
  const command = updateCommand({
    inputs: files.length > 0 ? files : ['KNATIVE_YAML...'],
    configFile: list.functionConfig?.file?.path ?? 'KSERVICE_CONFIG.yaml',
    historyFile,
  });
  return {
    message: `would change, and the KRM function only reads it: record the new revisions with \`${command}\` (on the same Knative YAML and this KServiceConfig) and commit ${historyFile}`,
    severity: 'error',
    file: { path: historyFile },
  };
}
