/**
 * Bad input is reported as a list of problems, each tied to the path of the field it is about, and
 * raised once as a single error after every check has run, so users fix everything in one round
 * and nothing is half-synthesized.
 *
 * A path is kept as segments (keys and indices), never as text to be parsed back: the CLI walks
 * the segments to a line and column, messages show them formatted (`traffic[1].percent`).
 */

/** A path of keys and indices, as used to address a value in a parsed document. */
export type PathSegments = readonly (string | number)[];

/** One piece of bad input: where it is and what is wrong with it. */
export interface Problem {
  /** Where, from the root of the checked input: `['traffic', 1, 'percent']`. */
  readonly segments: PathSegments;
  /** The same path as text, for messages: `traffic[1].percent`, `annotations["a/b"]`. */
  readonly path: string;
  readonly message: string;
}

export function problemAt(segments: PathSegments, message: string): Problem {
  return { segments, path: formatPath(segments), message };
}

export class ValidationError extends Error {
  constructor(readonly subject: string, readonly problems: readonly Problem[]) {
    super(`${subject} is invalid:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

/**
 * The one shape of a rule's answer: no problem, or any number of them, with paths relative to the
 * value the rule looked at. Modelled on Knative's `*apis.FieldError` (knative.dev/pkg
 * apis/field_error.go, as composed in knative.dev/serving pkg/apis/serving/v1/revision_validation.go):
 * a rule returns its errors, `also` joins the errors of several rules, and `via` puts them under
 * the field, index or key the caller handed the rule (ViaField/ViaIndex/ViaKey in one). Nothing
 * stops at the first problem.
 */
export class FieldErrors {
  static readonly none = new FieldErrors([]);

  private constructor(private readonly items: readonly Problem[]) {}

  /** One problem at a path relative to the value checked (none: the value itself). */
  static of(message: string, ...segments: PathSegments): FieldErrors {
    return new FieldErrors([problemAt(segments, message)]);
  }

  /** Errors at paths already relative to the value checked (e.g. a schema's or a contract parser's). */
  static from(problems: readonly { readonly segments: PathSegments; readonly message: string }[]): FieldErrors {
    return problems.length === 0 ? FieldErrors.none : new FieldErrors(problems.map((p) => problemAt(p.segments, p.message)));
  }

  /** These errors and the others', in order. */
  also(...others: readonly (FieldErrors | undefined)[]): FieldErrors {
    const more = others.flatMap((o) => (o ? o.items : []));
    return more.length === 0 ? this : new FieldErrors([...this.items, ...more]);
  }

  /** These errors under a field, index or key of the caller's value. */
  via(...segments: PathSegments): FieldErrors {
    if (this.items.length === 0 || segments.length === 0) return this;
    return new FieldErrors(this.items.map((p) => problemAt([...segments, ...p.segments], p.message)));
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  get problems(): readonly Problem[] {
    return this.items;
  }

  throwIfAny(subject: string): void {
    if (!this.empty) throw new ValidationError(subject, this.items);
  }
}

/** A parsed value and the problems met while parsing it (the value is defaulted where they were). */
export interface Parsed<T> {
  readonly value: T;
  readonly errors: FieldErrors;
}

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
 * The inverse of `formatPath`, for tools and tests that hold a path as text
 * (`spec.template.spec.containers[0].image`, `annotations["a/b"]`). The library itself keeps
 * segments and never parses a path back.
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
