// Types of scripts/api-report.mjs, for test/shared/api-report.test.ts.
/** api/cdk8s-kservice.api.md */
export declare const REPORT: string;
/** The report's text for the given declarations. */
export declare function apiReport(declarations: string): string;
