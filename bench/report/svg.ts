/**
 * The two charts of the report, written as SVG text by hand: a grouped bar chart and a line chart
 * on log scales are a few dozen elements each, and a charting dependency (with its own renderer)
 * would outweigh the code it saves.
 */

export interface BarGroup {
  readonly label: string;
  readonly values: readonly (number | undefined)[];
}

export interface LineSeries {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

const WIDTH = 760;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 60, top: 44, bottom: 86 };
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f'];
const FONT = 'font-family="sans-serif" font-size="12"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Decade ticks: 0.01, 0.1, 1, 10, 100, 1,000. */
const fmtTick = (v: number) => (v >= 1 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(1))));
const fmtNumber = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** A log10 axis spanning whole decades around [min, max]. */
function logScale(min: number, max: number, from: number, to: number) {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const map = (v: number) => from + ((Math.log10(v) - lo) / (hi - lo)) * (to - from);
  const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
  return { map, ticks };
}

function frame(title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-family="sans-serif" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(ticks: number[], map: (v: number) => number, unit: string): string[] {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const lines = ticks.map((t) => {
    const y = map(t).toFixed(1);
    return `<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#ddd"/><text x="${x0 - 6}" y="${y}" dy="4" text-anchor="end" ${FONT}>${fmtTick(t)}</text>`;
  });
  const mid = (MARGIN.top + HEIGHT - MARGIN.bottom) / 2;
  return [...lines, `<text x="16" y="${mid}" transform="rotate(-90 16 ${mid})" text-anchor="middle" ${FONT}>${esc(unit)} (log scale)</text>`];
}

function legend(labels: readonly string[], y: number): string[] {
  let x = MARGIN.left;
  return labels.map((label, i) => {
    const at = x;
    x += 40 + label.length * 7; // about 7 px per character at 12 px sans-serif
    return `<rect x="${at}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${at + 18}" y="${y}" ${FONT}>${esc(label)}</text>`;
  });
}

export function barChart(title: string, unit: string, seriesLabels: readonly string[], groups: readonly BarGroup[]): string {
  const values = groups.flatMap((g) => g.values).filter((v): v is number => v !== undefined && v > 0);
  if (values.length === 0) return frame(title, [`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" ${FONT}>no data</text>`]);
  const bottom = HEIGHT - MARGIN.bottom;
  const { map, ticks } = logScale(Math.min(...values), Math.max(...values), bottom, MARGIN.top);
  const groupWidth = (WIDTH - MARGIN.left - MARGIN.right) / groups.length;
  const barWidth = (groupWidth * 0.75) / seriesLabels.length;
  const bars = groups.flatMap((g, gi) => {
    const gx = MARGIN.left + gi * groupWidth + groupWidth * 0.125;
    const label = `<text x="${(gx + groupWidth * 0.375).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" ${FONT}>${esc(g.label)}</text>`;
    return [label, ...g.values.map((v, si) => {
      if (v === undefined || v <= 0) return '';
      const x = (gx + si * barWidth).toFixed(1);
      const y = map(v);
      return `<rect x="${x}" y="${y.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(bottom - y).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${g.label} ${seriesLabels[si]}: ${fmtNumber(v)} ${unit}`)}</title></rect>` +
        `<text x="${(gx + si * barWidth + barWidth / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-family="sans-serif" font-size="9">${fmtNumber(v)}</text>`;
    })];
  });
  return frame(title, [...yAxis(ticks, map, unit), ...bars, ...legend(seriesLabels, HEIGHT - 24)]);
}

export function lineChart(title: string, xUnit: string, yUnit: string, series: readonly LineSeries[]): string {
  const points = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (points.length === 0) return frame(title, [`<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" ${FONT}>no data</text>`]);
  const bottom = HEIGHT - MARGIN.bottom;
  const xs = logScale(Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0])), MARGIN.left, WIDTH - MARGIN.right);
  const ys = logScale(Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1])), bottom, MARGIN.top);
  const xTicks = xs.ticks.map((t) => {
    const x = xs.map(t).toFixed(1);
    return `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${bottom}" stroke="#eee"/><text x="${x}" y="${bottom + 16}" text-anchor="middle" ${FONT}>${fmtTick(t)}</text>`;
  });
  const lines = series.flatMap((s, i) => {
    const color = COLORS[i % COLORS.length];
    const coords = s.points.map(([x, y]) => `${xs.map(x).toFixed(1)},${ys.map(y).toFixed(1)}`);
    const dots = s.points.map(([x, y]) => `<circle cx="${xs.map(x).toFixed(1)}" cy="${ys.map(y).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(`${s.label}: ${x} ${xUnit}, ${fmtNumber(y)} ${yUnit}`)}</title></circle>` +
      `<text x="${(xs.map(x) + 5).toFixed(1)}" y="${(ys.map(y) - 6).toFixed(1)}" font-family="sans-serif" font-size="9" fill="${color}">${fmtNumber(y)}</text>`);
    return [`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`, ...dots];
  });
  const xLabel = `<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${bottom + 34}" text-anchor="middle" ${FONT}>${esc(xUnit)} (log scale)</text>`;
  return frame(title, [...yAxis(ys.ticks, ys.map, yUnit), ...xTicks, xLabel, ...lines, ...legend(series.map((s) => s.label), HEIGHT - 24)]);
}
