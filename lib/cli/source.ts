/**
 * Reading YAML inputs: files, directories (recursively, *.yaml/*.yml, sorted) and stdin, split into
 * documents that remember where they came from, so any later finding can be reported as
 * `file:line:col`.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Document, LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Node } from 'yaml';
import { Diagnostic, PathSegments, formatPath } from './diagnostics';

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
    documents.push({ file, index: documents.length, yaml, lineCounter, value: yaml.toJS({ maxAliasCount: 100 }) });
  }
  return { documents, diagnostics };
}

function isEmptyDocument(yaml: Document.Parsed): boolean {
  return yaml.contents === null || (isScalar(yaml.contents) && yaml.contents.value === null);
}

/**
 * Expands the command-line inputs into files (directories recursively, sorted by path) and parses
 * them all, collecting every problem instead of stopping at the first.
 */
export async function readInputs(inputs: readonly string[], readStdin: () => Promise<string>): Promise<ReadResult> {
  const documents: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const input of inputs) {
    const files = input === STDIN ? [STDIN] : await expandInput(input, diagnostics);
    for (const file of files) {
      const text = file === STDIN ? await readStdin() : await readText(file, diagnostics);
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
    else if (/\.ya?ml$/.test(entry.name)) files.push(full);
  }
  // Plain code-unit order, not locale order, so output does not depend on the machine.
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function readText(file: string, diagnostics: Diagnostic[]): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(error as Error).message}`;
    diagnostics.push({ file, line: 0, col: 0, path: '', message: reason });
    return undefined;
  }
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
