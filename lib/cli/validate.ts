/**
 * Schema validation of a parsed document: the model's schema check (lib/model/schema/check.ts),
 * with each problem placed at its line and column in the file.
 */
import type { ErrorObject } from 'ajv';
import { describeError, isReportable, validatorFor } from '../model/schema/check';
import type { Schema } from '../model/schema/builders';
import { Diagnostic } from './diagnostics';
import { SourceDocument, diagnosticAt } from './source';

/** Validates a document against a schema; returns one diagnostic per distinct problem. */
export function validateDocument(doc: SourceDocument, schema: Schema, basePath: (string | number)[] = []): Diagnostic[] {
  const validate = validatorFor(schema);
  if (validate(doc.value)) return [];
  return (validate.errors ?? []).filter(isReportable).map((error) => toDiagnostic(doc, error, basePath));
}

function toDiagnostic(doc: SourceDocument, error: ErrorObject, basePath: (string | number)[]): Diagnostic {
  const { segments, message, atKey } = describeError(doc.value, error, basePath);
  return diagnosticAt(doc, segments, message, atKey);
}
