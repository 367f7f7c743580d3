import { describe, expect, it } from 'vitest';
import { findSample, parsePromText, PromTextError, renderGauges } from '../../../lib/runtime/shared/prom-text';

describe('parsePromText', () => {
  it('reads samples with and without labels, skipping comments', () => {
    const text = [
      '# HELP queue_average_concurrent_requests Average requests in flight',
      '# TYPE queue_average_concurrent_requests gauge',
      'queue_average_concurrent_requests{destination_namespace="default",destination_revision="hello-00001"} 4.5',
      '',
      'process_uptime 12',
      'x_bucket{le="+Inf"} 3 1700000000000',
      'weird{a="q\\"uote",b="back\\\\slash",c="new\\nline",} NaN',
      'neg -Inf',
    ].join('\n');
    const samples = parsePromText(text);
    expect(samples.slice(0, 3)).toEqual([
      { name: 'queue_average_concurrent_requests', labels: { destination_namespace: 'default', destination_revision: 'hello-00001' }, value: 4.5 },
      { name: 'process_uptime', labels: {}, value: 12 },
      { name: 'x_bucket', labels: { le: '+Inf' }, value: 3 },
    ]);
    expect(samples[3].labels).toEqual({ a: 'q"uote', b: 'back\\slash', c: 'new\nline' });
    expect(samples[3].value).toBeNaN();
    expect(samples[4].value).toBe(-Infinity);
    expect(findSample(samples, 'queue_average_concurrent_requests', { destination_revision: 'hello-00001' })).toBe(4.5);
    expect(findSample(samples, 'queue_average_concurrent_requests', { destination_revision: 'other' })).toBeUndefined();
  });

  it.each([
    ['9metric 1', 1, 'metric name'],
    ['ok 1\nm{a=1} 2', 2, 'expected ="'],
    ['m{a="x} 1', 1, 'unterminated'],
    ['m abc', 1, 'sample value'],
    ['m', 1, 'sample value'],
  ])('reports line and problem for %j', (text, line, problem) => {
    try {
      parsePromText(text);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PromTextError);
      expect((err as PromTextError).line).toBe(line);
      expect((err as Error).message).toContain(problem);
    }
  });
});

// Added with the queue-proxy's hand-written gauge renderer (performance work): what it renders,
// the autoscaler's parser reads back, escapes included.
describe('renderGauges', () => {
  it('renders HELP, TYPE and one sample per gauge that parsePromText reads back', () => {
    const text = renderGauges([
      { name: 'queue_depth', help: 'Requests waiting\nnow', labels: { destination_revision: 'a"b\\c' }, value: () => 3 },
      { name: 'process_uptime', help: 'Seconds', labels: {}, value: () => Infinity },
    ]);
    expect(text).toBe(
      '# HELP queue_depth Requests waiting\\nnow\n# TYPE queue_depth gauge\nqueue_depth{destination_revision="a\\"b\\\\c"} 3\n' +
        '# HELP process_uptime Seconds\n# TYPE process_uptime gauge\nprocess_uptime +Inf\n',
    );
    expect(parsePromText(text)).toEqual([
      { name: 'queue_depth', labels: { destination_revision: 'a"b\\c' }, value: 3 },
      { name: 'process_uptime', labels: {}, value: Infinity },
    ]);
  });
});
