/**
 * Parser of the Prometheus text exposition format (version 0.0.4), for the autoscaler's scrapes of
 * queue-proxy and activator `/metrics`; and a renderer of gauges in that format, for the
 * queue-proxy.
 *
 * Hand-written: the format is a few lines of grammar, and the npm parsers
 * (parse-prometheus-text-format, prometheus-query) are unmaintained. Comments (# HELP / # TYPE)
 * are skipped; histogram and summary series come out as their plain `_bucket`/`_sum`/`_count`
 * samples.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PromTextError extends Error {
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(`prometheus text line ${line}: ${problem}`);
    this.name = 'PromTextError';
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * The samples of `text`; with `only`, just the samples of those metric names: every other line is
 * skipped after its name is read, before its labels and value are parsed (an activator's page has
 * series of every revision, of which a scrape reads a few metrics).
 */
export function parsePromText(text: string, only?: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  let lineNo = 0;
  for (let start = 0; start <= text.length; ) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    const line = text.slice(start, end).trim();
    start = end + 1;
    lineNo++;
    if (line === '' || line.startsWith('#')) continue;
    if (only && !only.has(metricName(line, lineNo))) continue;
    samples.push(parseSampleLine(line, lineNo));
  }
  return samples;
}

function metricName(line: string, lineNo: number): string {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new PromTextError(lineNo, `expected a metric name, got "${line}"`);
  return name;
}

/** The value of the first sample called `name` whose labels include `labels`. */
export function findSample(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const match = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  return match?.value;
}

function parseSampleLine(line: string, lineNo: number): Sample {
  const name = metricName(line, lineNo);
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest, lineNo);
    labels = parsed.labels;
    rest = rest.slice(parsed.consumed);
  }
  const [valueText] = rest.trim().split(/\s+/); // a timestamp may follow; it is ignored
  const value = parseValue(valueText, lineNo);
  return { name, labels, value };
}

function parseValue(text: string | undefined, lineNo: number): number {
  switch (text) {
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  const value = Number(text);
  if (text === undefined || text === '' || Number.isNaN(value)) {
    throw new PromTextError(lineNo, `expected a sample value, got "${text ?? ''}"`);
  }
  return value;
}

/** Parses `{a="x",b="y\"z"}` at the start of `text`; returns the labels and characters used. */
function parseLabels(text: string, lineNo: number): { labels: Record<string, string>; consumed: number } {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, consumed: i + 1 };
    const name = LABEL_NAME.exec(text.slice(i))?.[0];
    if (!name) throw new PromTextError(lineNo, `bad label name at column ${i + 1}`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new PromTextError(lineNo, `expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        i++;
        value += text[i] === 'n' ? '\n' : text[i];
      } else {
        value += text[i];
      }
    }
    if (i >= text.length) throw new PromTextError(lineNo, `unterminated value of label ${name}`);
    labels[name] = value;
    i++; // past closing quote
  }
}

/** Content-Type of the text exposition format. */
export const PROM_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One gauge with one series, its value read when rendered. */
export interface GaugeFamily {
  readonly name: string;
  readonly help: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: () => number;
}

/**
 * Renders gauges (HELP, TYPE, one sample each). Hand-written for the queue-proxy, which runs in
 * every pod: prom-client's registry added ~9 MB to its resident memory for seven gauges
 * (docs/runtime-performance.md); the format of a gauge is three lines.
 */
export function renderGauges(families: readonly GaugeFamily[]): string {
  let text = '';
  for (const family of families) {
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} gauge\n`;
    text += `${family.name}${renderLabels(family.labels)} ${formatValue(family.value())}\n`;
  }
  return text;
}

function renderLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
