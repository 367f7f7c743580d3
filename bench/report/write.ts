/** Writes the report files: docs/benchmarks.md, docs/bench/*.svg and the README section. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BenchResults } from '../results';
import { CHART_FILES, latencyChart, synthesisChart } from './charts';
import { benchmarksMarkdown, readmeSection } from './markdown';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

export function writeReports(root: string, results: BenchResults): string[] {
  const written: string[] = [];
  const write = (file: string, text: string) => {
    const full = path.join(root, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    written.push(file);
  };
  write(CHART_FILES.latency, latencyChart(results));
  write(CHART_FILES.synthesis, synthesisChart(results));
  write('docs/benchmarks.md', benchmarksMarkdown(results));
  if (replaceReadmeSection(path.join(root, 'README.md'), readmeSection(results))) written.push('README.md');
  else console.log(`bench: README.md has no ${START} … ${END} markers; left untouched`);
  return written;
}

/** Replaces the text between the markers; false (and no write) when they are missing. */
export function replaceReadmeSection(file: string, section: string): boolean {
  if (!existsSync(file)) return false;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END, start + START.length);
  if (start < 0 || end < 0) return false;
  writeFileSync(file, `${text.slice(0, start + START.length)}\n${section}\n${text.slice(end)}`);
  return true;
}
