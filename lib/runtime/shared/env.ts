/**
 * Typed readers for environment variables. Every reader throws `ConfigError` naming the variable
 * and what was wrong, so a bad Deployment shows one clear line instead of a stack trace.
 */

export type Env = NodeJS.ProcessEnv;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`environment variable ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Unset and empty count as missing, as in Knative (Go's envconfig treats "" as unset). */
function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function envString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function envOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export function envRequiredString(env: Env, name: string): string {
  const value = raw(env, name);
  if (value === undefined) throw new ConfigError(name, 'is required');
  return value;
}

export interface NumberBounds {
  readonly min?: number;
  readonly max?: number;
}

/** A whole number; fallback when unset (omit it to make the variable required). */
export function envInt(env: Env, name: string, fallback?: number, bounds: NumberBounds = {}): number {
  const n = envNumber(env, name, fallback, bounds);
  if (!Number.isInteger(n)) throw new ConfigError(name, `must be a whole number, got "${env[name]}"`);
  return n;
}

/** Any finite number (fractions allowed, e.g. drain seconds in tests). */
export function envNumber(env: Env, name: string, fallback?: number, bounds: NumberBounds = {}): number {
  const text = raw(env, name);
  if (text === undefined) {
    if (fallback === undefined) throw new ConfigError(name, 'is required');
    return fallback;
  }
  const n = Number(text);
  if (!Number.isFinite(n)) throw new ConfigError(name, `must be a number, got "${text}"`);
  if (bounds.min !== undefined && n < bounds.min) throw new ConfigError(name, `must be >= ${bounds.min}, got ${n}`);
  if (bounds.max !== undefined && n > bounds.max) throw new ConfigError(name, `must be <= ${bounds.max}, got ${n}`);
  return n;
}

/** A TCP port, 0 allowed (= let the OS pick; handy in tests). */
export function envPort(env: Env, name: string, fallback: number): number {
  return envInt(env, name, fallback, { min: 0, max: 65535 });
}

/** Comma-separated list, blanks dropped. */
export function envList(env: Env, name: string): string[] {
  return (raw(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
