/**
 * `npx tsx bench/scale/replacement.ts [N]`: only the scale section's "activator replaced while
 * scraping" case (./run.ts runReplacementUnderScrapeLoad), to reproduce a write-path regression
 * in a minute. Prints the run's figures as JSON.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runReplacementUnderScrapeLoad } from './run';

const n = Number(process.argv[2] ?? 1000);
runReplacementUnderScrapeLoad(mkdtempSync(path.join(tmpdir(), 'scale-replacement-')), n).then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
