#!/usr/bin/env node
// Generates the README's "Differences from Knative" section (between <!-- differences:start -->
// and <!-- differences:end -->) from oracle/allowed-differences.yaml, the one list of differences
// the differential suite (test/oracle) accepts. test/oracle/readme.test.ts checks they agree.
//
//   node scripts/generate-differences.mjs           rewrites the section in README.md
//   node scripts/generate-differences.mjs --check   exits 1 when README.md is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const README = path.join(ROOT, 'README.md');
export const ALLOWLIST = path.join(ROOT, 'oracle', 'allowed-differences.yaml');
const START = '<!-- differences:start -->';
const END = '<!-- differences:end -->';
const WIDTH = 100;

/** Greedy word wrap at WIDTH columns; continuation lines indented under the bullet's text. */
function wrap(text, firstPrefix, restPrefix) {
  const lines = [];
  let prefix = firstPrefix;
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && prefix.length + line.length + 1 + word.length > WIDTH) {
      lines.push(prefix + line);
      prefix = restPrefix;
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(prefix + line);
  return lines.join('\n');
}

/** The section's text (without the markers) for a list of allowlist entries. */
export function renderDifferences(entries) {
  const bullets = entries.map((e) => wrap(`**${e.title}** ${e.text}`, '- ', '  '));
  return [
    'Generated from `oracle/allowed-differences.yaml` (`node scripts/generate-differences.mjs`), the',
    'list the differential suite against Knative 1.23\'s own code (`test/oracle`) accepts; each is',
    'also commented next to the code that differs.',
    '',
    ...bullets,
  ].join('\n');
}

export function loadEntries(file = ALLOWLIST) {
  return parse(readFileSync(file, 'utf8')).differences;
}

/** README text with the section replaced; throws when the markers are missing. */
export function withSection(readme, section) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md: ${START} ... ${END} markers not found`);
  return `${readme.slice(0, start + START.length)}\n${section}\n${readme.slice(end)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const readme = readFileSync(README, 'utf8');
  const updated = withSection(readme, renderDifferences(loadEntries()));
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error('README.md: the "Differences from Knative" section is out of date; run node scripts/generate-differences.mjs');
      process.exit(1);
    }
  } else if (updated !== readme) {
    writeFileSync(README, updated);
    console.error('README.md: differences section regenerated');
  }
}
