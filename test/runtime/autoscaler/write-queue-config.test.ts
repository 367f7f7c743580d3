import { describe, expect, it } from 'vitest';
import { readWriteQueueConfig } from '../../../lib/runtime/autoscaler/config';
import { WriteQueueDefaults } from '../../../lib/runtime/kube/work-queue';

describe('readWriteQueueConfig', () => {
  it("defaults to Knative's autoscaler: 4 workers, 10 qps, burst 20, backoff 5 ms to 1000 s", () => {
    expect(readWriteQueueConfig({})).toEqual({ workers: 4, qps: 10, burst: 20, backoffBaseMs: 5, backoffMaxMs: 1_000_000 });
    expect(WriteQueueDefaults).toMatchObject({ workers: 4, qps: 10, burst: 20 });
  });

  it("reads Knative's KUBE_API_QPS / KUBE_API_BURST and the queue's own variables", () => {
    const env = { KUBE_API_QPS: '2.5', KUBE_API_BURST: '7', AUTOSCALER_WRITE_WORKERS: '1', AUTOSCALER_WRITE_BACKOFF_BASE_MS: '50', AUTOSCALER_WRITE_BACKOFF_MAX_MS: '60000' };
    expect(readWriteQueueConfig(env)).toEqual({ workers: 1, qps: 2.5, burst: 7, backoffBaseMs: 50, backoffMaxMs: 60_000 });
  });

  it('names the variable of a bad value', () => {
    expect(() => readWriteQueueConfig({ KUBE_API_QPS: '0' })).toThrow('environment variable KUBE_API_QPS: must be >= 0.001, got 0');
    expect(() => readWriteQueueConfig({ KUBE_API_BURST: '1.5' })).toThrow('environment variable KUBE_API_BURST: must be a whole number, got "1.5"');
    expect(() => readWriteQueueConfig({ AUTOSCALER_WRITE_WORKERS: '0' })).toThrow('environment variable AUTOSCALER_WRITE_WORKERS: must be >= 1, got 0');
    expect(() => readWriteQueueConfig({ AUTOSCALER_WRITE_BACKOFF_BASE_MS: '100', AUTOSCALER_WRITE_BACKOFF_MAX_MS: '10' })).toThrow(
      'environment variable AUTOSCALER_WRITE_BACKOFF_MAX_MS: must be >= 100, got 10',
    );
  });
});
