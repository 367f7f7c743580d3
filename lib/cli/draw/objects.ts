/**
 * Reading the manifests a picture is drawn from, by field path, with the problems a reader of
 * hand-written or synthesized YAML must be told about: where (file, line, column) and which field.
 * Objects the compiler itself made have no source: a wrong field there is a bug, said as such.
 */
import type { PathSegments } from '../../problems';
import type { Diagnostic } from '../diagnostics';
import { diagnosticAt, type SourceDocument } from '../source';

/** One manifest; `source` when it came from the user's files rather than from `kservice compile`. */
export interface SourcedObject {
  readonly value: Record<string, unknown>;
  readonly source?: SourceDocument;
}

export class ObjectReader {
  constructor(readonly object: SourcedObject, private readonly problems: Diagnostic[]) {}

  get kind(): string {
    return typeof this.object.value.kind === 'string' ? this.object.value.kind : '';
  }

  get apiVersion(): string {
    return typeof this.object.value.apiVersion === 'string' ? this.object.value.apiVersion : '';
  }

  get name(): string {
    return this.optionalString(['metadata', 'name']) ?? '';
  }

  get namespace(): string {
    return this.optionalString(['metadata', 'namespace']) ?? 'default';
  }

  label(key: string): string | undefined {
    return this.optionalString(['metadata', 'labels', key]);
  }

  annotation(key: string): string | undefined {
    return this.optionalString(['metadata', 'annotations', key]);
  }

  at(segments: PathSegments): unknown {
    let value: unknown = this.object.value;
    for (const segment of segments) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string | number, unknown>)[segment];
    }
    return value;
  }

  optionalString(segments: PathSegments): string | undefined {
    const value = this.at(segments);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    this.problem(segments, `must be a string, got ${describe(value)}`);
    return undefined;
  }

  requiredString(segments: PathSegments): string | undefined {
    const value = this.at(segments);
    if (value === undefined || value === null) {
      this.problem(segments, 'is required to draw the route');
      return undefined;
    }
    return this.optionalString(segments);
  }

  optionalNumber(segments: PathSegments): number | undefined {
    const value = this.at(segments);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    this.problem(segments, `must be a number, got ${describe(value)}`);
    return undefined;
  }

  /** A list field; absent is empty, anything else is a problem. */
  list(segments: PathSegments): unknown[] {
    const value = this.at(segments);
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    this.problem(segments, `must be a list, got ${describe(value)}`);
    return [];
  }

  problem(segments: PathSegments, message: string): void {
    const { source } = this.object;
    if (!source) throw new Error(`kservice compile made a ${this.kind} ${this.name} whose ${segments.join('.')} ${message}`);
    this.problems.push(diagnosticAt(source, segments, message));
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}
