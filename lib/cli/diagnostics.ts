/**
 * What the CLI tells a user about bad input: `FILE:LINE:COL PATH: MESSAGE`, one per line, every
 * problem of a run at once. A `DiagnosticError` carries them to the top, where they are printed
 * without a stack trace.
 */
export interface Diagnostic {
  readonly file: string;
  /** 1-based; 0 when the problem has no place in a file (e.g. a missing file). */
  readonly line: number;
  readonly col: number;
  /** Field path inside the document, e.g. `spec.traffic[1].percent`; '' for the document itself. */
  readonly path: string;
  readonly message: string;
}

export class DiagnosticError extends Error {
  /** `hint`: what to do about them, printed after the problems (e.g. the command that updates a frozen history). */
  constructor(readonly diagnostics: readonly Diagnostic[], readonly hint?: string) {
    super(formatDiagnostics(diagnostics));
    this.name = 'DiagnosticError';
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return d.path ? `${where} ${d.path}: ${d.message}` : `${where}: ${d.message}`;
}

export function formatDiagnostics(diagnostics: readonly Diagnostic[]): string {
  return sortDiagnostics(diagnostics).map(formatDiagnostic).join('\n');
}

/** File order as given, then by position, so the report reads top to bottom. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const fileOrder = new Map<string, number>();
  for (const d of diagnostics) if (!fileOrder.has(d.file)) fileOrder.set(d.file, fileOrder.size);
  const unique = new Map<string, Diagnostic>();
  for (const d of diagnostics) unique.set(formatDiagnostic(d), d);
  return [...unique.values()].sort(
    (a, b) =>
      fileOrder.get(a.file)! - fileOrder.get(b.file)! ||
      a.line - b.line ||
      a.col - b.col ||
      a.path.localeCompare(b.path) ||
      a.message.localeCompare(b.message),
  );
}

