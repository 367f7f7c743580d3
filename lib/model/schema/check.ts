/**
 * Schema validation with ajv, turning ajv's errors into problems that name the field the way a
 * user writes it (`spec.traffic[1].percent`). The construct props are checked with it directly
 * (`schemaProblems`); the CLI adds each problem's line and column (lib/cli/validate.ts).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { problemAt, type Problem } from '../../problems';
import { Schema } from './builders';

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
// Our own annotation: the message to show when the schema it sits on fails (see schema/builders.ts).
ajv.addKeyword({ keyword: 'hint', schemaType: 'string' });

const compiled = new Map<Schema, ValidateFunction>();

export function validatorFor(schema: Schema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * `not`/`propertyNames` wrappers repeat what their inner error already says, and `if` branches
 * report "must match then schema"; those add nothing for a user.
 */
export function isReportable(error: ErrorObject): boolean {
  if (error.keyword === 'if') return false;
  if (error.keyword === 'propertyNames') return false;
  return true;
}

/**
 * A value that did not come from a file (construct props) checked against a schema: each problem
 * with its field path, e.g. `containers[0].readinessProbe.httpGet.port`.
 */
export function schemaProblems(value: unknown, schema: Schema): Problem[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).filter(isReportable).map((error) => {
    const { segments, message } = describeError(value, error, []);
    return problemAt(segments, message);
  });
}

/** Where an error is (path segments; `atKey` for a problem with the key itself) and what to say. */
export function describeError(value: unknown, error: ErrorObject, basePath: (string | number)[]): { segments: (string | number)[]; message: string; atKey: boolean } {
  const segments = [...basePath, ...pointerToSegments(value, error.instancePath)];
  const hint = (error.parentSchema as { hint?: string } | undefined)?.hint;
  switch (error.keyword) {
    case 'required':
      return { segments: [...segments, (error.params as { missingProperty: string }).missingProperty], message: 'required field is missing', atKey: false };
    case 'additionalProperties':
      return { segments: [...segments, (error.params as { additionalProperty: string }).additionalProperty], message: 'unknown field', atKey: true };
    case 'not':
      if ((error.params as { propertyName?: string }).propertyName !== undefined || error.propertyName !== undefined) {
        const name = error.propertyName ?? (error.params as { propertyName: string }).propertyName;
        return { segments: [...segments, name], message: hint ?? 'this key is not allowed here', atKey: true };
      }
      return { segments, message: hint ?? 'has a value that is not allowed', atKey: false };
    default:
      return { segments, message: messageFor(error, hint), atKey: error.propertyName !== undefined };
  }
}

function messageFor(error: ErrorObject, hint: string | undefined): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'type':
      return typeMessage(String(params.type), error.data);
    case 'enum':
      return hint ?? `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters long`;
    case 'minItems':
      return `must have at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`;
    case 'minimum':
    case 'maximum':
      return hint ?? `must be ${error.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}`;
    case 'pattern':
      return hint ?? `must match the pattern ${String(params.pattern)}`;
    default:
      return hint ?? error.message ?? 'is invalid';
  }
}

const ARTICLES: Record<string, string> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeMessage(expected: string, data: unknown): string {
  const names = expected.split(',').map((t) => ARTICLES[t] ?? t);
  const message = `must be ${names.join(' or ')}`;
  // YAML turns 1, true and 1.5 into non-strings; Kubernetes wants quoted strings for annotations.
  if (expected === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    return `${message} (quote it: "${String(data)}")`;
  }
  return message;
}

/** JSON pointer -> path segments; a segment is a number where the value there is a list. */
function pointerToSegments(root: unknown, pointer: string): (string | number)[] {
  if (pointer === '') return [];
  const segments: (string | number)[] = [];
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      segments.push(Number(key));
      current = current[Number(key)];
    } else {
      segments.push(key);
      current = current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
    }
  }
  return segments;
}
