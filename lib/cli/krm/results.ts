/**
 * The compiler's diagnostics as KRM function results (kustomize
 * cmd/config/docs/api-conventions/functions-spec.md, `Result`): the item's `resourceRef`, the
 * field path the compiler names, and the file the orchestrator read the item from. The same
 * results, one per line, go to stderr, which kustomize shows its user (it does not print results).
 */
import { Diagnostic, sortDiagnostics } from '../diagnostics';
import type { FileRef, KrmObject, ResourceRef } from './resource-list';

export interface KrmResult {
  readonly message: string;
  readonly severity: 'error' | 'warning' | 'info';
  readonly resourceRef?: ResourceRef;
  readonly field?: { readonly path: string };
  readonly file?: FileRef;
}

/** Where a diagnostic's `file` label leads: an item, the functionConfig, or a real file (the history). */
export type ObjectsByLabel = ReadonlyMap<string, KrmObject>;

/** The label graph.ts gives problems of the serving config as a whole; here that is the functionConfig. */
const CONFIG_LABEL = '--config';

export function toResults(diagnostics: readonly Diagnostic[], objects: ObjectsByLabel): KrmResult[] {
  return sortDiagnostics(diagnostics).map((d) => toResult(d, objects.get(d.file === CONFIG_LABEL ? 'functionConfig' : d.file)));
}

function toResult(d: Diagnostic, object: KrmObject | undefined): KrmResult {
  if (object === undefined) {
    // A file the function read itself (the history): its own path, and the position in it.
    const where = d.line > 0 ? `line ${d.line}, column ${d.col}${d.path ? `, ${d.path}` : ''}` : d.path;
    return { message: where ? `${where}: ${d.message}` : d.message, severity: 'error', file: { path: d.file } };
  }
  return {
    message: d.message,
    severity: 'error',
    ...(object.ref ? { resourceRef: object.ref } : {}),
    ...(object.ref && d.path ? { field: { path: d.path } } : {}),
    ...(object.file ? { file: object.file } : {}),
  };
}

/** One line per result for stderr: `FILE[#INDEX] (KIND NAMESPACE/NAME) FIELD: MESSAGE`. */
export function formatResult(result: KrmResult): string {
  const file = result.file ? `${result.file.path}${result.file.index !== undefined ? `#${result.file.index}` : ''}` : '';
  const ref = result.resourceRef
    ? `${result.resourceRef.kind} ${result.resourceRef.namespace ? `${result.resourceRef.namespace}/` : ''}${result.resourceRef.name}`
    : '';
  const where = [file, file && ref ? `(${ref})` : ref].filter(Boolean).join(' ');
  const field = result.field ? ` ${result.field.path}` : '';
  return `${where}${field}: ${result.message}`;
}
