// Sums vitest JSON reports into the single closing line CI reads: `N passed, N failed`.
// A missing or unreadable report counts as one failure, so a suite that crashed before writing
// its report can never look green.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const report = JSON.parse(readFileSync(file, 'utf8'));
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    // Suites that failed to load report no tests; count each as a failure.
    failed += report.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length;
  } catch (err) {
    console.error(`ci-summary: cannot read ${file}: ${err.message}`);
    failed += 1;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
