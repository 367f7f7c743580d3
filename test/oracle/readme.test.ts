/**
 * The README's "Differences from Knative" section is generated from oracle/allowed-differences.yaml
 * (the list the differential suite accepts), so the two cannot drift: regenerate with
 * `node scripts/generate-differences.mjs`. Part of `npm test` (no Go needed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations
import { README, loadEntries, renderDifferences, withSection } from '../../scripts/generate-differences.mjs';
import { loadAllowlist } from './support/compare';

describe('README differences section', () => {
  it('is the text generated from oracle/allowed-differences.yaml', () => {
    const readme = readFileSync(README as string, 'utf8');
    expect(withSection(readme, renderDifferences(loadEntries())), 'run node scripts/generate-differences.mjs').toBe(readme);
  });

  it('lists every allowlist entry, each with a title and a reason', () => {
    const entries = loadAllowlist();
    expect(entries.length).toBeGreaterThan(0);
    const readme = readFileSync(README as string, 'utf8');
    for (const entry of entries) {
      expect(entry.title.trim(), 'title').not.toBe('');
      expect(entry.text.trim().length, `${entry.title}: reason`).toBeGreaterThan(20);
      expect(Boolean(entry.match ?? entry.setting ?? entry.decisions ?? entry.scope), `${entry.title}: matches something`).toBe(true);
      expect(readme).toContain(`**${entry.title}**`);
    }
  });
});
