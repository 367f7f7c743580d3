/**
 * Kubernetes resource quantities (k8s.io/apimachinery pkg/api/resource/quantity.go): parsing to
 * milli-units and printing in the canonical form, just what the queue-proxy's resources need
 * (Knative's resource-percentage annotation scales the user container's requests and limits).
 *
 * Hand-written: the library's only runtime dependencies are ajv and yaml, and no well-kept npm
 * package implements apimachinery's canonical printing; @kubernetes/client-node's helper (a dev
 * dependency here, used by the runtime) converts to a JavaScript number and prints nothing.
 * Milli-units are BigInts so "1Ei" stays exact.
 */

/** A quantity's syntax; also the pattern of the pod spec schema's quantities (model/schema/builders.ts). */
export const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const BINARY: Readonly<Record<string, bigint>> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL_EXPONENT: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const DECIMAL_SUFFIX: Readonly<Record<number, string>> = { [-3]: 'm', 0: '', 3: 'k', 6: 'M', 9: 'G', 12: 'T', 15: 'P', 18: 'E' };
const BINARY_SUFFIXES = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const;

/** True when `text` is a quantity Kubernetes accepts (same grammar as resource.ParseQuantity). */
export function isQuantity(text: string): boolean {
  return QUANTITY.test(text.trim());
}

/** The quantity in milli-units, rounded up as Quantity.MilliValue does; undefined if malformed. */
export function parseMilli(text: string): bigint | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, sign, number, suffix = ''] = m;
  const [whole, fraction = ''] = number.split('.');
  // value = digits × 10^-fraction.length × multiplier × 1000 (milli)
  let numerator = BigInt(`${whole || '0'}${fraction}`) * 1000n;
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix in BINARY) numerator *= BINARY[suffix];
  else {
    const exponent = suffix in DECIMAL_EXPONENT ? DECIMAL_EXPONENT[suffix] : Number(suffix.slice(1));
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  const milli = (numerator + denominator - 1n) / denominator;
  return sign === '-' ? -milli : milli;
}

/**
 * resource.NewMilliQuantity(milli, BinarySI).String(): whole numbers of at least 1024 in the
 * largest binary suffix that divides them (Ki … Ei), everything else (fractions, small numbers)
 * in decimal SI (m, '', k, M, …).
 */
export function formatMilliBinarySI(milli: bigint): string {
  const negative = milli < 0n;
  const abs = negative ? -milli : milli;
  const sign = negative ? '-' : '';
  if (abs % 1000n === 0n && abs / 1000n >= 1024n) {
    const value = abs / 1000n;
    for (const suffix of BINARY_SUFFIXES) {
      if (value % BINARY[suffix] === 0n) return `${sign}${value / BINARY[suffix]}${suffix}`;
    }
    return `${sign}${value}`;
  }
  let mantissa = abs;
  let exponent = -3;
  while (mantissa !== 0n && mantissa % 1000n === 0n && exponent < 18) {
    mantissa /= 1000n;
    exponent += 3;
  }
  return `${sign}${mantissa}${mantissa === 0n ? '' : DECIMAL_SUFFIX[exponent]}`;
}
