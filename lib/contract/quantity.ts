/**
 * Kubernetes resource quantities as k8s.io/apimachinery reads and writes them
 * (pkg/api/resource/quantity.go ParseQuantity and CanonicalizeBytes, amount.go, suffix.go):
 * the canonical form the API server stores and Knative's reconcilers write, so the compiled
 * manifests equal the live objects field for field (a GitOps engine diffing Git with the cluster
 * sees no change that is not one), plus the milli-unit arithmetic the queue-proxy's
 * resource-percentage needs.
 *
 * Hand-written: apimachinery is Go, the library's only runtime dependencies are ajv and yaml, and
 * no well-kept npm package implements apimachinery's canonical printing (@kubernetes/client-node's
 * helper converts to a JavaScript number and prints nothing). The rules below follow the Go source
 * step by step, quirks included, and test/oracle/quantity-apimachinery.test.ts compares them with
 * the real package on random and edge-case quantities. Values are BigInts, so "1Ei" stays exact.
 */

/** A quantity's syntax; also the pattern of the pod spec schema's quantities (model/schema/builders.ts). */
export const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

/** resource.Format: which family of suffixes a quantity is printed with (the one it was written with). */
type Format = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/**
 * A parsed quantity: value = mantissa × 10^exponent, exact, rounded up (away from zero) to
 * nano-units as ParseQuantity rounds. `kept` is the text Go keeps (Quantity.s) when the input was
 * already in canonical form; it is printed as written, even "+1", "01" or "1E3".
 */
interface Parsed {
  readonly mantissa: bigint;
  readonly exponent: number;
  readonly format: Format;
  readonly kept?: string;
}

const DECIMAL_SI = new Map([['n', -9], ['u', -6], ['m', -3], ['', 0], ['k', 3], ['M', 6], ['G', 9], ['T', 12], ['P', 15], ['E', 18]]);
const SI_SUFFIX = new Map([...DECIMAL_SI].map(([suffix, exponent]) => [exponent, suffix]));
const BINARY_SI = new Map([['Ki', 10], ['Mi', 20], ['Gi', 30], ['Ti', 40], ['Pi', 50], ['Ei', 60]]);
const BINARY_SUFFIX = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const INT64_MAX = (1n << 63n) - 1n;
const NANO = -9;
/** maxInt64Factors: the decimal digits an int64 always holds (math.go). */
const MAX_INT64_DIGITS = 18;
const SUFFIX_LETTERS = 'eEinumkKMGTP';

/** True when `text` (surrounding space ignored) is a quantity Kubernetes accepts. */
export function isQuantity(text: string): boolean {
  return parseQuantity(text) !== undefined;
}

/**
 * The quantity as the API server stores it (resource.Quantity's JSON decoding, then String()):
 * `1000m` → `1`, `1.5` → `1500m`, `1024Mi` → `1Gi`, the number 0.5 → `500m`. Undefined when
 * malformed. A number is read as the JSON number JavaScript writes for it.
 */
export function canonicalQuantity(value: string | number): string | undefined {
  const parsed = parseQuantity(value);
  return parsed === undefined ? undefined : formatParsed(parsed);
}

/**
 * The quantity in milli-units, rounded up as Quantity.MilliValue does, saturating at the int64
 * range (knative/serving pkg/reconciler/revision/resources/queue.go computeResourceRequirements
 * takes MaxInt64-1 for such values; both end at the queue-proxy's upper bound); undefined when
 * malformed.
 */
export function parseMilli(text: string): bigint | undefined {
  const q = parseQuantity(text);
  if (q === undefined) return undefined;
  const shift = q.exponent + 3;
  const saturated = q.mantissa < 0n ? -INT64_MAX : INT64_MAX;
  // Checked before multiplying: the exponent may be in the millions.
  if (q.mantissa !== 0n && shift > MAX_INT64_DIGITS + 1) return saturated;
  const milli = shift >= 0 ? q.mantissa * 10n ** BigInt(shift) : divideAwayFromZero(q.mantissa, 10n ** BigInt(-shift));
  return milli > INT64_MAX || milli < -INT64_MAX ? saturated : milli;
}

/** resource.NewMilliQuantity(milli, BinarySI).String(), the form Knative writes computed resources in. */
export function formatMilliBinarySI(milli: bigint): string {
  return formatParsed({ mantissa: milli, exponent: -3, format: 'BinarySI' });
}

function parseQuantity(value: string | number): Parsed | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? parseText(JSON.stringify(value)) : undefined;
  // UnmarshalJSON trims surrounding space before ParseQuantity.
  const text = value.trim();
  return QUANTITY.test(text) ? parseText(text) : undefined;
}

/** ParseQuantity (quantity.go), for text that matches QUANTITY. */
function parseText(text: string): Parsed | undefined {
  if (text === '0') return { mantissa: 0n, exponent: 0, format: 'DecimalSI', kept: text };
  const parts = scan(text);
  const suffix = parts && interpretSuffix(parts.suffix);
  if (parts === undefined || suffix === undefined) return undefined;
  return int64Parse(text, parts, suffix) ?? exactParse(parts, suffix);
}

interface Parts {
  readonly negative: boolean;
  /** Integer digits, leading zeros removed ('0' when none are left). */
  readonly num: string;
  /** Fraction digits as written. */
  readonly denom: string;
  readonly suffix: string;
}

interface Suffix {
  readonly base: 2 | 10;
  readonly exponent: number;
  readonly format: Format;
}

/** parseQuantityString: sign, integer digits without leading zeros, fraction digits, suffix. */
function scan(text: string): Parts | undefined {
  let pos = 0;
  const negative = text[0] === '-';
  if (text[0] === '-' || text[0] === '+') pos++;
  while (text[pos] === '0') pos++;
  const numEnd = digitsEnd(text, pos);
  const num = text.slice(pos, numEnd) || '0';
  pos = numEnd;
  let denom = '';
  if (text[pos] === '.') {
    const denomEnd = digitsEnd(text, pos + 1);
    denom = text.slice(pos + 1, denomEnd);
    pos = denomEnd;
  }
  const suffixStart = pos;
  while (pos < text.length && SUFFIX_LETTERS.includes(text[pos])) pos++;
  if (text[pos] === '-' || text[pos] === '+') pos++;
  return digitsEnd(text, pos) === text.length ? { negative, num, denom, suffix: text.slice(suffixStart) } : undefined;
}

function digitsEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && text[i] >= '0' && text[i] <= '9') i++;
  return i;
}

/** suffixHandler.interpret (suffix.go): SI and binary suffixes, or e/E and an int64, kept as Go's int32. */
function interpretSuffix(suffix: string): Suffix | undefined {
  const decimal = DECIMAL_SI.get(suffix);
  if (decimal !== undefined) return { base: 10, exponent: decimal, format: 'DecimalSI' };
  const binary = BINARY_SI.get(suffix);
  if (binary !== undefined) return { base: 2, exponent: binary, format: 'BinarySI' };
  if (!/^[eE][+-]?\d+$/.test(suffix)) return undefined;
  const exponent = BigInt(suffix.slice(1));
  if (exponent > INT64_MAX || exponent < -INT64_MAX - 1n) return undefined; // strconv.ParseInt fails
  return { base: 10, exponent: Number(BigInt.asIntN(32, exponent)), format: 'DecimalExponent' };
}

/**
 * ParseQuantity's int64 fast path: taken when the digits surely fit an int64, the value needs no
 * rounding and does not overflow. Only here does Go keep the text as written, when it is already
 * canonical by its test (no multiple of 1000 in the digits, no leading zero, an exponent that is
 * a multiple of 3, or an odd count of binary units).
 */
function int64Parse(text: string, parts: Parts, suffix: Suffix): Parsed | undefined {
  const { num, denom } = parts;
  const binary = suffix.base === 2;
  if (binary && denom !== '') return undefined;
  const precision = binary
    ? 15 - num.length - Math.trunc((suffix.exponent * 3) / 10) - 1
    : MAX_INT64_DIGITS - (num.length + denom.length);
  const scale = binary ? 0 : suffix.exponent - denom.length;
  if (precision < 0 || scale < NANO) return undefined;
  const shifted = num + denom;
  const value = BigInt(shifted);
  const magnitude = binary ? value << BigInt(suffix.exponent) : value;
  if (magnitude > INT64_MAX) return undefined;
  const canonical = binary
    ? (value & 7n) !== 0n
    : scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
  return {
    mantissa: parts.negative ? -magnitude : magnitude,
    exponent: scale,
    format: suffix.format,
    ...(canonical ? { kept: text } : {}),
  };
}

/**
 * ParseQuantity's inf.Dec path: the exact value, non-zero values rounded up to a nano-unit
 * ("if you want some resources, you should get some"), binary ones capped at the int64 maximum.
 */
function exactParse(parts: Parts, suffix: Suffix): Parsed {
  let mantissa = BigInt(parts.num + parts.denom);
  let exponent = -parts.denom.length;
  if (suffix.base === 10) exponent += suffix.exponent;
  else mantissa <<= BigInt(suffix.exponent);
  let format = suffix.format;
  if (mantissa !== 0n && exponent < NANO) {
    const drop = NANO - exponent;
    // Fewer digits than dropped places: a value below one nano-unit, which rounds up to one.
    mantissa = drop > mantissa.toString().length ? 1n : divideAwayFromZero(mantissa, 10n ** BigInt(drop));
    exponent = NANO;
  }
  if (format === 'BinarySI') {
    if (compareWithInteger(mantissa, exponent, INT64_MAX) > 0) [mantissa, exponent] = [INT64_MAX, 0];
    if (mantissa !== 0n && compareWithInteger(mantissa, exponent, 1n) < 0) format = 'DecimalSI';
  }
  return { mantissa: parts.negative ? -mantissa : mantissa, exponent, format };
}

/** CanonicalizeBytes: binary suffixes only for whole values of at least 1024 in magnitude. */
function formatParsed(q: Parsed): string {
  if (q.kept !== undefined) return q.kept;
  if (q.mantissa === 0n) return '0';
  if (q.format === 'BinarySI') return formatBinary(q) ?? formatDecimal(q.mantissa, q.exponent, 'DecimalSI');
  return formatDecimal(q.mantissa, q.exponent, q.format);
}

/** AsCanonicalBase1024Bytes: the whole value without its factors of 1024, and their suffix. */
function formatBinary(q: Parsed): string | undefined {
  const magnitude = q.mantissa < 0n ? -q.mantissa : q.mantissa;
  if (compareWithInteger(magnitude, q.exponent, 1024n) < 0) return undefined;
  const divisor = q.exponent < 0 ? 10n ** BigInt(-q.exponent) : 1n;
  if (q.mantissa % divisor !== 0n) return undefined; // not whole: Go prints it in decimal SI
  let value = q.exponent < 0 ? q.mantissa / divisor : q.mantissa * 10n ** BigInt(q.exponent);
  let times = 0;
  while (value % 1024n === 0n) {
    value /= 1024n;
    times++;
  }
  return `${value}${BINARY_SUFFIX[times] ?? ''}`;
}

/**
 * AsCanonicalBytes: trailing zeros moved into the exponent, then the exponent lowered to a
 * multiple of 3. Decimal SI has suffixes from n to E only; above E Go prints no suffix at all
 * ("1000E" is stored as "1"), and so does this.
 */
function formatDecimal(mantissa: bigint, exponent: number, format: Format): string {
  let m = mantissa;
  let e = exponent;
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  while (e % 3 !== 0) {
    m *= 10n;
    e--;
  }
  const suffix = format === 'DecimalExponent' ? (e === 0 ? '' : `e${e}`) : (SI_SUFFIX.get(e) ?? '');
  return `${m}${suffix}`;
}

/** Sign of mantissa × 10^exponent − integer, for a non-negative mantissa. */
function compareWithInteger(mantissa: bigint, exponent: number, integer: bigint): number {
  const [left, right] = exponent >= 0
    ? [mantissa * 10n ** BigInt(exponent), integer]
    : [mantissa, integer * 10n ** BigInt(-exponent)];
  return left === right ? 0 : left > right ? 1 : -1;
}

/** value / divisor rounded away from zero (inf.RoundUp, negativeScaleInt64). */
function divideAwayFromZero(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  if (quotient * divisor === value) return quotient;
  return value < 0n ? quotient - 1n : quotient + 1n;
}
