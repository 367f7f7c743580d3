/** The report's charts, from the results JSON: latency percentiles per path, synthesis time against N. */
import { BenchResults } from '../results';
import { barChart, lineChart } from './svg';

export const CHART_FILES = { latency: 'docs/bench/latency.svg', synthesis: 'docs/bench/synthesis.svg' } as const;

export function latencyChart(results: BenchResults): string {
  const d = results.sections.dataplane;
  const rps = d?.setup.fixedRateRps ?? 1000;
  const paths = (d?.paths ?? []).filter((p) => !p.skipped);
  const groups = paths.map((p) => ({ label: shortLabel(p.label), values: [p.p50Ms, p.p95Ms, p.p99Ms] }));
  return barChart(`Latency at ${rps} rps on loopback (median of ${d?.setup.repetitions ?? 0} runs)`, 'ms', ['p50', 'p95', 'p99'], groups);
}

export function synthesisChart(results: BenchResults): string {
  const points = results.sections.synthesis?.points ?? [];
  return lineChart('Synthesis time against number of services (2 revisions each)', 'services', 'ms', [
    { label: 'our constructs (synthYaml)', points: points.map((p) => [p.services, p.oursMs] as const) },
    { label: 'baseline (literals + yaml)', points: points.map((p) => [p.services, p.baselineMs] as const) },
  ]);
}

/** "(b) our queue-proxy" -> "our queue-proxy": the chart's group labels are short. */
const shortLabel = (label: string) => label.replace(/^\([a-z]\)\s*/, '').replace(' + queue-proxy', ' + QP').replace(" queue-proxy (Go)", ' QP (Go)');
