/**
 * lib/contract/quantity.ts against the real k8s.io/apimachinery resource.Quantity: a few lines of
 * Go around it (test/oracle/apimachinery-quantity, built and cached by
 * scripts/build-apimachinery-quantity.sh in beforeAll, so a fresh machine builds it) decode each
 * quantity as the API server decodes an object and encode it as it stores it. For every quantity
 * the TypeScript accepts, the Go must print the same text; whatever the Go refuses, the TypeScript
 * refuses. Runs in the cluster config: it needs Go, as the differential suite does.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuantity, QUANTITY } from '../../lib/contract/quantity';

const ROOT = path.join(__dirname, '..', '..');
let binary = '';

beforeAll(() => {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'build-apimachinery-quantity.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  binary = out.trim().split('\n').pop() ?? '';
}, 10 * 60_000);

type Input = string | number;
interface GoResult {
  readonly quantity?: string;
  readonly error?: string;
}

/** The Go program's answer for each input (sent as JSON strings or JSON numbers, as JavaScript writes them). */
function apimachinery(inputs: readonly Input[]): GoResult[] {
  return JSON.parse(execFileSync(binary, { input: JSON.stringify(inputs), encoding: 'utf8', maxBuffer: 64 << 20 })) as GoResult[];
}

/** Inputs where the two disagree, beyond the one documented difference (below). */
function disagreements(inputs: readonly Input[]): { input: Input; typescript?: string; go: GoResult }[] {
  const go = apimachinery(inputs);
  return inputs
    .map((input, i) => ({ input, typescript: canonicalQuantity(input), go: go[i] }))
    .filter(({ input, typescript, go: g }) => typescript !== g.quantity && !digitlessZero(input, g));
}

/**
 * The one input family the TypeScript refuses and Go accepts: a number without digits ("", "+",
 * ".", "-Ki", "m" ...), which ParseQuantity reads as zero. The schema's QUANTITY grammar (that of
 * the API's OpenAPI pattern) requires a digit; the test checks Go did read these as zero.
 */
function digitlessZero(input: Input, go: GoResult): boolean {
  return typeof input === 'string' && !QUANTITY.test(input.trim()) && !/\d/.test(input.split(/[eE]/)[0]) && go.quantity === '0';
}

it('builds against the apimachinery version the Knative oracle pins (oracle/go.mod)', () => {
  const version = (file: string) => /^\s*(?:require\s+)?k8s\.io\/apimachinery (v\S+)/m.exec(readFileSync(path.join(ROOT, file), 'utf8'))?.[1];
  expect(version('test/oracle/apimachinery-quantity/go.mod')).toBeDefined();
  expect(version('test/oracle/apimachinery-quantity/go.mod')).toBe(version('oracle/go.mod'));
});

describe('edge cases', () => {
  const cases: Input[] = [
    '0', '1000m', 1, '1', '1.5', 1.5, '1e3', '1E3', '1Ki', '1024Mi', '0.1', 0.1, '100u', '1n', '1E', '1e-3', '1e+3', '1e-12',
    '1000E', '10000E', '100E', '1000000000000000000000', '1Ei', '8Ei', '-9Ei', '1.5Ei', '1.5Gi', '0.5Ki', '1.0Ki', '1023', '1024',
    '-1024', '1025Ki', '8Ki', '.5', '5.', '5.Ki', '+1', '01', '007m', '-0', '00', '+.5', '1.000', '0.1n', '1.5e-10', '0.5m',
    '1500u', '1000u', '123456789012345678', '1234567890123456789', '12345678901234567890Ki', '0.000000000001Ki', ' 2 ', '25m',
    '400Mi', 0.30000000000000004, 1e-7, 1e21, -1.5, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 63, '1e99999999999999999999', 'lots',
    '1KiB', '5 Mi', '1.2.3', '', '1e', '1ki',
  ];
  it('every one is written as apimachinery writes it', () => {
    expect(disagreements(cases)).toEqual([]);
  });
  it('the canonical forms the issue names', () => {
    expect(['1000m', 1, '1.5', '1024Mi', '0.1', 1e3].map(canonicalQuantity)).toEqual(['1', '1', '1500m', '1Gi', '100m', '1k']);
  });
});

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
const suffix = fc.oneof(
  fc.constantFrom('', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'),
  // Exponents of up to three digits: Go's exact path multiplies by 10^exponent, so far larger
  // ones only measure how long Go takes.
  fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3)).map((parts) => parts.join('')),
);
/** Strings in the QUANTITY grammar: sign, digits (leading zeros too), a fraction, a suffix. */
const quantityText = fc
  .tuple(
    fc.constantFrom('', '+', '-'),
    fc.oneof(digits(1, 22), fc.constant('0'), fc.constantFrom('1', '5', '8', '1000', '1024', '1023', '999')),
    fc.oneof(fc.constant(''), digits(0, 12).map((d) => `.${d}`)),
    suffix,
  )
  .map(([sign, whole, fraction, s]) => `${sign}${whole}${fraction}${s}`);
const numbers = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 5000 }).map((n) => n / 1000));
/** Anything made of a quantity's characters: accepted and refused inputs alike. */
const scrambled = fc.string({ unit: fc.constantFrom(...'0123456789.+-eEinumkKMGTP '.split('')), maxLength: 8 });

describe('random quantities', () => {
  test.prop([fc.array(fc.oneof(quantityText, numbers, scrambled), { minLength: 50, maxLength: 300 })], { numRuns: 200 })(
    'the TypeScript writes what apimachinery writes, and refuses what it refuses',
    (inputs) => {
      expect(disagreements(inputs)).toEqual([]);
    },
  );
});
