/**
 * The package's public API (lib/index.ts): the constructs, their props and value types, and
 * ValidationError; no builders or internal helpers, no export shadowing a global, one name per
 * concept. Types leave nothing at runtime, so the runtime exports are the values users can import.
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../lib';

describe('public API', () => {
  it('exports exactly the constructs, their value types and ValidationError', () => {
    expect(Object.keys(api).sort()).toEqual(
      ['AutoscalingClass', 'AutoscalingMetric', 'DEFAULT_RUNTIME_IMAGE', 'DataPlane', 'Ingress', 'KService', 'ServingSystem', 'ValidationError', 'Visibility'].sort(),
    );
  });

  it('shadows no global', () => {
    expect(Object.keys(api).filter((name) => name in globalThis)).toEqual([]);
  });

  it('ValidationError lists problems by property path', () => {
    const error = new api.ValidationError('KService "x"', [{ segments: ['timeout'], path: 'timeout', message: 'must be a Duration' }]);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('KService "x" is invalid:\n  - timeout: must be a Duration');
  });
});
