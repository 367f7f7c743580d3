import { describe, expect, it } from 'vitest';
import { parsePromText } from '../../../lib/runtime/shared/prom-text';

describe('parsePromText with only the metrics a scrape reads', () => {
  const page = [
    '# HELP activator_requests_per_second Requests per second',
    '# TYPE activator_requests_per_second gauge',
    'activator_requests_per_second{namespace="a",revision="r1"} 4',
    'kservice_cold_start_seconds_bucket{namespace="a",revision="r1",le="+Inf"} 2',
    'process_cpu_seconds_total 12.5',
    'activator_average_concurrent_requests{namespace="a",revision="r1"} 1.5',
    '',
  ].join('\n');

  it('returns just those samples, in page order', () => {
    const only = new Set(['activator_requests_per_second', 'activator_average_concurrent_requests']);
    expect(parsePromText(page, only)).toEqual([
      { name: 'activator_requests_per_second', labels: { namespace: 'a', revision: 'r1' }, value: 4 },
      { name: 'activator_average_concurrent_requests', labels: { namespace: 'a', revision: 'r1' }, value: 1.5 },
    ]);
    expect(parsePromText(page)).toHaveLength(4);
  });

  it('skips the other lines unparsed, but still rejects a wanted line that is broken, by line number', () => {
    const text = 'other_metric{broken="x 1\nwanted 2\nwanted{a="b"} nope\n';
    expect(() => parsePromText(text)).toThrow(/line 1/);
    expect(() => parsePromText(text, new Set(['wanted']))).toThrow('prometheus text line 3: expected a sample value, got "nope"');
    expect(parsePromText('other_metric{broken="x 1\nwanted 2\n', new Set(['wanted']))).toEqual([{ name: 'wanted', labels: {}, value: 2 }]);
  });

  it('still rejects a line that has no metric name', () => {
    expect(() => parsePromText('wanted 1\n{a="b"} 2\n', new Set(['wanted']))).toThrow('prometheus text line 2: expected a metric name');
  });
});
