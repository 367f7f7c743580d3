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

/** A path of keys and indices, as used to address a value in a parsed document. */
export type PathSegments = readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['spec', 'traffic', 1, 'percent']` -> `spec.traffic[1].percent`; odd keys are quoted. */
export function formatPath(segments: PathSegments): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * The inverse of `formatPath` and of the paths in `ValidationError` problems
 * (`spec.template.spec.containers[0].image`, `annotations["a/b"]`).
 */
export function parsePath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  const token = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\['([^']*)'\]/gy;
  let match: RegExpExecArray | null;
  while (token.lastIndex < path.length && (match = token.exec(path)) !== null) {
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else if (match[3] !== undefined) segments.push(JSON.parse(match[3]) as string);
    else segments.push(match[4]);
  }
  return segments;
}
