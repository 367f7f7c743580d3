/**
 * Reading YAML inputs: files, directories (recursively, *.yaml/*.yml, sorted) and stdin, split into
 * documents that remember where they came from, so any later finding can be reported as
 * `file:line:col`.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Alias, Document, LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseAllDocuments, visit, type Node } from 'yaml';
import { formatPath, type PathSegments } from '../problems';
import { Diagnostic } from './diagnostics';
import { decodeText } from './encoding';

export const STDIN = '-';
const STDIN_NAME = '<stdin>';

export interface SourceDocument {
  /** The file name as the user wrote it (or `<stdin>`). */
  readonly file: string;
  /** 0-based position among the file's non-empty documents. */
  readonly index: number;
  readonly yaml: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** Plain JSON-like value of the document. */
  readonly value: unknown;
}

export interface ReadResult {
  readonly documents: SourceDocument[];
  readonly diagnostics: Diagnostic[];
}

/** Parses one YAML text; syntax errors become diagnostics with their position. */
export function parseYamlText(file: string, text: string): ReadResult {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  const diagnostics: Diagnostic[] = [];
  const documents: SourceDocument[] = [];
  for (const yaml of docs) {
    for (const error of yaml.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      diagnostics.push({ file, line, col, path: '', message: `YAML syntax error: ${error.message}` });
    }
    if (yaml.errors.length > 0 || isEmptyDocument(yaml)) continue;
    const aliasProblem = findAliasProblem(yaml);
    if (aliasProblem) {
      const { line, col } = lineCounter.linePos(aliasProblem.alias.range?.[0] ?? 0);
      diagnostics.push({ file, line, col, path: '', message: aliasProblem.message });
      continue;
    }
    const value = toPlainValue(yaml);
    if (typeof value === 'string') {
      const { line, col } = lineCounter.linePos(firstAlias(yaml)?.range?.[0] ?? yaml.contents?.range?.[0] ?? 0);
      diagnostics.push({ file, line, col, path: '', message: value });
      continue;
    }
    documents.push({ file, index: documents.length, yaml, lineCounter, value: value.ok });
  }
  return { documents, diagnostics };
}

/** How many alias expansions a document may need; yaml's own guard against "billion laughs". */
export const MAX_ALIAS_COUNT = 100;

/**
 * Aliases the yaml library would only fail on while converting (with a bare ReferenceError and
 * no position): one without an anchor before it, and one inside the node it refers to, which
 * would make the value a cycle that no Kubernetes object can be. One pass in document order
 * with the anchors seen so far (yaml's Alias.resolve walks the whole document per alias, which
 * a file of many aliases would make quadratic).
 */
function findAliasProblem(yaml: Document.Parsed): { alias: Alias; message: string } | undefined {
  let found: { alias: Alias; message: string } | undefined;
  forEachAlias(yaml, (alias, target) => {
    if (target === undefined) {
      found = { alias, message: `YAML alias *${alias.source} has no anchor &${alias.source} before it` };
    } else if (contains(target, alias)) {
      found = { alias, message: `YAML alias *${alias.source} is inside the node it refers to (the value would be endless)` };
    }
    return found !== undefined;
  });
  return found;
}

/** Calls `each` with every alias and the node it refers to, in document order, until it returns true. */
function forEachAlias(yaml: Document.Parsed, each: (alias: Alias, target: Node | undefined) => boolean): void {
  const anchors = new Map<string, Node>();
  visit(yaml, {
    Node: (_key, node) => {
      if (isAlias(node)) return each(node, anchors.get(node.source)) ? visit.BREAK : undefined;
      if (node.anchor) anchors.set(node.anchor, node);
      return undefined;
    },
  });
}

function contains(outer: Node, inner: Node): boolean {
  const [start, , end] = outer.range ?? [0, 0, 0];
  const at = inner.range?.[0] ?? -1;
  return at >= start && at < end;
}

/** The document as plain data, or the message for a document that expands too much. */
function toPlainValue(yaml: Document.Parsed): { ok: unknown } | string {
  try {
    return { ok: yaml.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (error) {
    if (error instanceof ReferenceError && /alias count/i.test(error.message)) {
      return `YAML aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} expansions; a "billion laughs" document?)`;
    }
    throw error;
  }
}

/** The first alias that refers to a collection holding aliases itself: where an expansion starts to multiply. */
function firstAlias(yaml: Document.Parsed): Alias | undefined {
  const aliases: Alias[] = [];
  forEachAlias(yaml, (alias) => {
    aliases.push(alias);
    return false;
  });
  const offsets = aliases.map((a) => a.range?.[0] ?? -1);
  let nested: Alias | undefined;
  forEachAlias(yaml, (alias, target) => {
    if (target && isCollection(target) && anyOffsetWithin(offsets, target)) nested = alias;
    return nested !== undefined;
  });
  return nested ?? aliases[0];
}

/** Whether a sorted list of offsets has one inside a node's range (binary search). */
function anyOffsetWithin(sorted: readonly number[], node: Node): boolean {
  const [start, , end] = node.range ?? [0, 0, 0];
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < start) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] < end;
}

function isEmptyDocument(yaml: Document.Parsed): boolean {
  return yaml.contents === null || (isScalar(yaml.contents) && yaml.contents.value === null);
}

/**
 * Expands the command-line inputs into files (directories recursively, sorted by path) and parses
 * them all, collecting every problem instead of stopping at the first.
 */
export async function readInputs(inputs: readonly string[], readStdin: () => Promise<string | Uint8Array>): Promise<ReadResult> {
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const input of inputs) {
    const files = input === STDIN ? [STDIN] : await expandInput(input, diagnostics);
    for (const file of files) {
      const text = file === STDIN ? decodeText(STDIN_NAME, await readStdin(), diagnostics) : await readText(file, diagnostics);
      if (text === undefined) continue;
      const result = parseYamlText(file === STDIN ? STDIN_NAME : file, text);
      documents.push(...result.documents);
      diagnostics.push(...result.diagnostics);
    }
  }
  return { documents, diagnostics };
}

async function expandInput(input: string, diagnostics: Diagnostic[]): Promise<string[]> {
  const stat = await fs.stat(input).catch(() => undefined);
  if (stat === undefined) {
    diagnostics.push({ file: input, line: 0, col: 0, path: '', message: 'no such file or directory' });
    return [];
  }
  // A file named explicitly is checked (regular file or not) when it is read.
  if (!stat.isDirectory()) return [input];
  const found = await listYamlFiles(input);
  if (found.length === 0) {
    diagnostics.push({ file: input, line: 0, col: 0, path: '', message: 'directory holds no *.yaml or *.yml files' });
  }
  return found;
}

async function listYamlFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listYamlFiles(full)));
    else if (/\.ya?ml$/.test(entry.name) && (await isRegularFile(entry, full))) files.push(full);
  }
  // Plain code-unit order, not locale order, so output does not depend on the machine.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Only regular files are read from a folder: a FIFO or socket named `*.yaml` would block the
 * read forever, a device could be endless. A symbolic link counts as what it points to.
 */
async function isRegularFile(entry: { isFile(): boolean; isSymbolicLink(): boolean }, full: string): Promise<boolean> {
  if (entry.isFile()) return true;
  if (!entry.isSymbolicLink()) return false;
  return fs.stat(full).then((s) => s.isFile(), () => false);
}

/** Reads a named file as text; anything but a regular file in UTF-8 (or UTF-16 with a BOM) is refused. */
export async function readText(file: string, diagnostics: Diagnostic[]): Promise<string | undefined> {
  const bytes = await readRegularFile(file, diagnostics);
  return bytes === undefined ? undefined : decodeText(file, bytes, diagnostics);
}

async function readRegularFile(file: string, diagnostics: Diagnostic[]): Promise<Buffer | undefined> {
  const fail = (message: string) => {
    diagnostics.push({ file, line: 0, col: 0, path: '', message });
    return undefined;
  };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, before the check
  // below could refuse it. It changes nothing for regular files.
  const handle = await fs.open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0)).catch((error: NodeJS.ErrnoException) => error);
  if (handle instanceof Error) {
    return fail(handle.code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${handle.code ?? handle.message}`);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) return fail('is a directory, not a file');
    if (!stat.isFile()) return fail(`is not a regular file (${fileKind(stat)}); only regular files and - (stdin) are read`);
    return await handle.readFile();
  } catch (error) {
    return fail(`cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  } finally {
    await handle.close();
  }
}

function fileKind(stat: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/**
 * Where a value sits in its document. Walks the YAML nodes along `segments` as far as they exist;
 * with `atKey`, points at the last key rather than its value (unknown fields, bad keys). A path
 * that runs out (a missing field) points at the deepest node that exists.
 */
export function locate(doc: SourceDocument, segments: PathSegments, atKey = false): { line: number; col: number } {
  let node: Node | null = doc.yaml.contents;
  let offset = node?.range?.[0] ?? 0;
  for (let i = 0; i < segments.length && node; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      const keyNode = pair.key as Node;
      if (last && atKey) {
        offset = keyNode.range?.[0] ?? offset;
        break;
      }
      node = (pair.value as Node | null) ?? null;
      offset = node?.range && !(isScalar(node) && node.value === null) ? node.range[0] : keyNode.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      node = item;
      offset = item.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return doc.lineCounter.linePos(offset);
}

/** A diagnostic for a field of a document. */
export function diagnosticAt(doc: SourceDocument, segments: PathSegments, message: string, atKey = false): Diagnostic {
  const { line, col } = locate(doc, segments, atKey);
  return { file: doc.file, line, col, path: formatPath(segments), message };
}
