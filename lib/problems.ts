/**
 * Bad input is reported as a list of problems, each tied to a property path, and raised once as a
 * single error after every check has run, so users fix everything in one round and nothing is
 * half-synthesized.
 */
export interface Problem {
  /** Property path, e.g. `traffic[1].percent` or `spec.template.spec.containers[0].ports[0]`. */
  readonly path: string;
  readonly message: string;
}

export class ValidationError extends Error {
  constructor(readonly subject: string, readonly problems: readonly Problem[]) {
    super(`${subject} is invalid:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

/** Collects problems while checks run; `throwIfAny` raises them together. */
export class ProblemList {
  private readonly items: Problem[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }

  /** Adds every problem of a nested check under a path prefix. */
  addAll(prefix: string, problems: readonly Problem[]): void {
    for (const p of problems) this.add(joinPath(prefix, p.path), p.message);
  }

  get list(): readonly Problem[] {
    return this.items;
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  throwIfAny(subject: string): void {
    if (!this.empty) throw new ValidationError(subject, this.items);
  }
}

export function joinPath(prefix: string, path: string): string {
  if (!prefix) return path;
  if (!path) return prefix;
  return path.startsWith('[') ? prefix + path : `${prefix}.${path}`;
}
