/**
 * The public API report (api/cdk8s-kservice.api.md, scripts/api-report.mjs): the declarations the
 * package ships, checked in so that a change to the public surface is a visible diff. Fails when
 * lib/index.ts's surface changed without the report; `npm run api:update` rewrites it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiReport, REPORT } from '../../scripts/api-report.mjs';
import { DECLARATION_IMPORTS, publicDeclarations } from '../../scripts/public-declarations.mjs';

let declarations: string;

beforeAll(() => {
  declarations = publicDeclarations(createRequire(__filename).resolve('dts-bundle-generator'));
}, 120_000);

describe('public API report', () => {
  it('is up to date with lib/index.ts (run `npm run api:update` and review the diff)', () => {
    expect(apiReport(declarations), 'api/cdk8s-kservice.api.md is out of date: run `npm run api:update`').toBe(readFileSync(REPORT, 'utf8'));
  });

  it('imports types only from the peer dependencies (devDependencies are inlined or absent)', () => {
    const sources = [...declarations.matchAll(/^import .* from ['"]([^'"]+)['"];$/gm)].map((m) => m[1]);
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((source) => !DECLARATION_IMPORTS.includes(source))).toEqual([]);
    expect(declarations).not.toMatch(/import\(["']/);
  });

  it('declares no internal model and no constructor that takes one', () => {
    for (const internal of ['RevisionSpec', 'RouteSpec', 'ServiceSpec', 'ResolvedAutoscaling', 'DataPlaneMode', 'RevisionConstructProps', 'RouteConstructProps', 'ServingConfig']) {
      expect(declarations, internal).not.toMatch(new RegExp(`\\b${internal}\\b`));
    }
    expect(declarations).not.toMatch(/declare class (Revision|Route) /);
  });
});
