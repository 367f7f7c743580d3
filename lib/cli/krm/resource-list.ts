/**
 * The KRM function wire format (kustomize cmd/config/docs/api-conventions/functions-spec.md): one
 * `ResourceList` on stdin with `items` and an optional `functionConfig`. Each item becomes a
 * `SourceDocument` of its own, so the compiler's checks run on it unchanged and its problems can be
 * traced back to the item (and to the file the orchestrator read it from).
 */
import { Document, isMap, isSeq, visit, type Node } from 'yaml';
import { Schema, arrayOf } from '../../model/schema/builders';
import type { Diagnostic } from '../diagnostics';
import { SourceDocument, parseYamlText } from '../source';
import { validateDocument } from '../validate';

/** functions-spec.md's ResourceList GVKs (v1, and v1beta1 that older orchestrators send). */
export const RESOURCE_LIST_API_VERSIONS = ['config.kubernetes.io/v1', 'config.kubernetes.io/v1beta1'] as const;
export const RESOURCE_LIST_KIND = 'ResourceList';

/**
 * Annotations the orchestrators set on items (functions-spec.md "Internal Annotations"; kyaml
 * kio/kioutil/kioutil.go; kustomize api/internal/plugins/utils/utils.go and its
 * `buildMetadata: [originAnnotations]`).
 */
export const KrmAnnotations = {
  PATH: 'internal.config.kubernetes.io/path',
  INDEX: 'internal.config.kubernetes.io/index',
  LEGACY_PATH: 'config.kubernetes.io/path',
  LEGACY_INDEX: 'config.kubernetes.io/index',
  ORIGIN: 'config.kubernetes.io/origin',
} as const;

/**
 * Prefixes of the orchestrators' own annotations (ids, paths, indexes, kustomize's resource id).
 * They are taken off Knative items before compiling: the compiler copies a Service's annotations
 * onto its objects, and `kservice compile` on the same files never sees them.
 */
const ORCHESTRATOR_PREFIXES = ['internal.config.kubernetes.io/', 'config.kubernetes.io/', 'config.k8s.io/', 'kustomize.config.k8s.io/'];

const STDIN_NAME = '<stdin>';

const resourceListSchema: Schema = {
  type: 'object',
  properties: {
    apiVersion: { enum: [...RESOURCE_LIST_API_VERSIONS] },
    kind: { const: RESOURCE_LIST_KIND },
    items: arrayOf({ type: 'object' }),
    functionConfig: { type: 'object' },
  },
  required: ['apiVersion', 'kind', 'items'],
};

/** The object an item or the functionConfig is: what a result's `resourceRef` names. */
export interface ResourceRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** Where the orchestrator read an object from, for a result's `file`. */
export interface FileRef {
  readonly path: string;
  readonly index?: number;
}

export interface KrmObject {
  /** As the compiler sees it: label `items[N]` (or `functionConfig`), orchestrator annotations removed. */
  readonly doc: SourceDocument;
  /**
   * What is re-emitted when the object passes through: the node as received (comments and layout
   * kept), or its plain value when it holds an alias, whose anchor may be in an item that is not
   * emitted (a Service).
   */
  readonly emitted: unknown;
  readonly ref?: ResourceRef;
  readonly file?: FileRef;
}

export interface ResourceList {
  readonly apiVersion: string;
  readonly items: readonly KrmObject[];
  readonly functionConfig?: KrmObject;
}

/** Parses stdin; a text that is not one ResourceList gives diagnostics (about `<stdin>`) instead. */
export function parseResourceList(text: string): { list?: ResourceList; diagnostics: Diagnostic[] } {
  const { documents, diagnostics } = parseYamlText(STDIN_NAME, text);
  if (diagnostics.length > 0) return { diagnostics };
  if (documents.length !== 1) {
    const message = `must be one ${RESOURCE_LIST_KIND} document (the KRM function input), found ${documents.length} documents`;
    return { diagnostics: [{ file: STDIN_NAME, line: 1, col: 1, path: '', message }] };
  }
  const source = documents[0];
  const problems = validateDocument(source, resourceListSchema);
  if (problems.length > 0) return { diagnostics: problems };
  const root = source.yaml.contents;
  const value = source.value as { apiVersion: string; items: unknown[]; functionConfig?: unknown };
  const itemsNode = isMap(root) ? root.get('items', true) : undefined;
  const nodes = isSeq(itemsNode) ? (itemsNode.items as Node[]) : [];
  const items = nodes.map((node, i) => krmObject(source, node, value.items[i], `items[${i}]`));
  const configNode = isMap(root) ? (root.get('functionConfig', true) as Node | undefined) : undefined;
  const functionConfig = configNode && value.functionConfig !== undefined
    ? krmObject(source, configNode, value.functionConfig, 'functionConfig')
    : undefined;
  return { list: { apiVersion: value.apiVersion, items, functionConfig }, diagnostics: [] };
}

/**
 * One object of the list as a document of its own. Its nodes keep their ranges in stdin, so the
 * compiler's `locate` works on it unchanged (results name fields by path; these lines are stdin's).
 */
function krmObject(list: SourceDocument, node: Node, value: unknown, label: string): KrmObject {
  const yaml = new Document() as Document.Parsed;
  yaml.contents = node as Document.Parsed['contents'];
  const doc: SourceDocument = { file: label, index: 0, yaml, lineCounter: list.lineCounter, value: withoutOrchestratorAnnotations(value) };
  return { doc, emitted: holdsAlias(node) ? value : node, ref: resourceRef(value), file: fileRef(value) };
}

function holdsAlias(node: Node): boolean {
  let found = false;
  visit(node, {
    Alias: () => {
      found = true;
      return visit.BREAK;
    },
  });
  return found;
}

function metadataOf(value: unknown): { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown> } {
  const metadata = (value as { metadata?: unknown } | null)?.metadata;
  return metadata && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata : {};
}

function annotationsOf(value: unknown): Record<string, unknown> {
  const annotations = metadataOf(value).annotations;
  return annotations && typeof annotations === 'object' && !Array.isArray(annotations) ? annotations : {};
}

function resourceRef(value: unknown): ResourceRef | undefined {
  const { apiVersion, kind } = (value ?? {}) as { apiVersion?: unknown; kind?: unknown };
  const { name, namespace } = metadataOf(value);
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  return {
    apiVersion,
    kind,
    name: typeof name === 'string' ? name : '',
    ...(typeof namespace === 'string' ? { namespace } : {}),
  };
}

/**
 * The file the object came from: kpt's path and index annotations (internal, or the legacy ones),
 * else the path of kustomize's origin annotation. kustomize's bare `config.kubernetes.io/index`
 * counts the list, not a file, so an index is only taken together with its path.
 */
function fileRef(value: unknown): FileRef | undefined {
  const annotations = annotationsOf(value);
  for (const [pathKey, indexKey] of [[KrmAnnotations.PATH, KrmAnnotations.INDEX], [KrmAnnotations.LEGACY_PATH, KrmAnnotations.LEGACY_INDEX]]) {
    const path = annotations[pathKey];
    if (typeof path !== 'string' || path === '') continue;
    const index = Number(annotations[indexKey]);
    return Number.isInteger(index) && index >= 0 ? { path, index } : { path };
  }
  const origin = annotations[KrmAnnotations.ORIGIN];
  const originPath = typeof origin === 'string' ? /^path: *["']?([^"'\n]+?)["']? *$/m.exec(origin)?.[1] : undefined;
  return originPath ? { path: originPath } : undefined;
}

/** The value with the orchestrators' annotations taken off (the `annotations` key too, when nothing else was in it). */
function withoutOrchestratorAnnotations(value: unknown): unknown {
  const annotations = metadataOf(value).annotations;
  if (!annotations || typeof annotations !== 'object' || Array.isArray(annotations)) return value;
  const kept = Object.entries(annotations).filter(([key]) => !ORCHESTRATOR_PREFIXES.some((p) => key.startsWith(p)));
  if (kept.length === Object.keys(annotations).length) return value;
  const { annotations: _annotations, ...metadata } = metadataOf(value);
  return { ...(value as object), metadata: kept.length > 0 ? { ...metadata, annotations: Object.fromEntries(kept) } : metadata };
}
