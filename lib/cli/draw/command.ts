/**
 * `kservice graph`: reads what `kservice compile` reads (Knative YAML, compiled with the same
 * options and the same errors) or a cdk8s app's synthesized manifests (drawn as they are), and
 * prints or writes the request path of every service in it as Mermaid, DOT or SVG. A file named
 * with -o is replaced in one rename (lib/cli/output.ts), so a failed run leaves it as it was.
 */
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { CompileOptions } from '../args';
import { compile } from '../compile';
import { DiagnosticError } from '../diagnostics';
import { knativeKindOf } from '../knative-types';
import { PASSTHROUGH_FILE, writeAll } from '../output';
import { readInputs, type ReadResult } from '../source';
import { drawObjects } from './build';
import { toMermaid } from './mermaid';
import type { SourcedObject } from './objects';
import { toDot, toSvg } from './svg';

export const GRAPH_FORMATS = ['mermaid', 'svg', 'dot'] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface GraphOptions {
  /** The compile options Knative documents are compiled with; a --history file is only read. */
  readonly compile: CompileOptions;
  readonly format: GraphFormat;
  /** Write here instead of stdout. */
  readonly outFile?: string;
}

export interface GraphIo {
  readonly stdout: (text: string) => void;
  readonly readStdin: () => Promise<string | Uint8Array>;
}

export async function runGraph(options: GraphOptions, io: GraphIo): Promise<void> {
  const text = await drawInputs(options, io.readStdin);
  if (options.outFile === undefined) io.stdout(text);
  // writeAll stages the file beside its target and renames it into place (its `history` slot is a lone file).
  else await writeAll({ files: [], history: { file: options.outFile, content: text } });
}

/** The picture of the inputs in `options.format`; throws DiagnosticError for bad input. */
export async function drawInputs(options: GraphOptions, readStdin: () => Promise<string | Uint8Array>): Promise<string> {
  const objects = await objectsOf(options.compile, readStdin);
  const drawn = drawObjects(objects);
  if (drawn.problems.length > 0) throw new DiagnosticError(drawn.problems);
  if (drawn.services === 0) {
    throw new DiagnosticError([{ file: options.compile.inputs.join(', '), line: 0, col: 0, path: '', message: NOTHING_TO_DRAW }]);
  }
  if (options.format === 'svg') return toSvg(drawn.graph);
  return options.format === 'dot' ? toDot(drawn.graph) : toMermaid(drawn.graph);
}

const NOTHING_TO_DRAW =
  'no Knative service to draw: expected serving.knative.dev/v1 Services, or the manifests kservice compile or cdk8s synth made for them (objects labelled serving.knative.dev/service)';

/**
 * Knative documents are compiled (every problem reported as compile reports it); every other
 * document is drawn as written, keeping its file and position for the problems found in it.
 */
async function objectsOf(options: CompileOptions, readStdin: () => Promise<string | Uint8Array>): Promise<SourcedObject[]> {
  const input = withoutFiles(await readInputs(options.inputs, readStdin), [options.configFile, options.historyFile]);
  if (input.diagnostics.length > 0) throw new DiagnosticError(input.diagnostics);
  const given = input.documents.map((doc): SourcedObject => ({ value: doc.value as Record<string, unknown>, source: doc }));
  if (!input.documents.some((doc) => knativeKindOf(doc.value))) return given;
  // Only the compiled result is kept: the history it would write is not (graph never writes it).
  const result = await compile({ ...options, outDir: undefined, frozenHistory: false }, readStdin, { input });
  const compiled = result.files
    .filter((f) => f.name !== PASSTHROUGH_FILE)
    .flatMap((f) => f.documents.flatMap((d) => parseAllDocuments(d).map((doc): SourcedObject => ({ value: doc.toJS() as Record<string, unknown> }))));
  return [...given.filter((o) => !knativeKindOf(o.value)), ...compiled];
}

/** As compile: the --config and --history files are never drawn, even inside an input directory. */
function withoutFiles(input: ReadResult, own: readonly (string | undefined)[]): ReadResult {
  const skipped = new Set(own.filter((f): f is string => f !== undefined).map((f) => path.resolve(f)));
  const kept = (file: string) => !skipped.has(path.resolve(file));
  return { documents: input.documents.filter((d) => kept(d.file)), diagnostics: input.diagnostics.filter((d) => kept(d.file)) };
}
