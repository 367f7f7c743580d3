/**
 * The public API report (api/cdk8s-kservice.api.md, scripts/api-report.mjs): the declarations the
 * package ships, checked in so that a change to the public surface is a visible diff. Fails when
 * lib/index.ts's surface changed without the report; `npm run api:update` rewrites it. Also keeps
 * the surface within what jsii can represent in other languages (aws.github.io/jsii
 * specification/2-type-system): no mapped, utility or conditional types.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiReport, REPORT } from '../../scripts/api-report.mjs';
import { DECLARATION_IMPORTS, publicDeclarations } from '../../scripts/public-declarations.mjs';

let declarations: string;

/** The declarations without comments, whose prose may say `Record<` or `?` freely. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/**
 * Type constructs jsii cannot represent (its maps are index signatures, `{ [key: string]: T }`,
 * which stay allowed): the utility types, mapped types (`{ [K in ...]: ... }`), `keyof` and indexed
 * access (`T["port"]`), and conditional types (`T extends U ? X : Y`, `infer`).
 */
const NOT_JSII: readonly (readonly [string, RegExp])[] = [
  ['utility type', /\b(Omit|Pick|Partial|Required|Readonly|Record|Exclude|Extract|NonNullable|ReturnType|Parameters|InstanceType)</],
  ['mapped type', /\[\s*\w+\s+in\s/],
  ['keyof', /\bkeyof\b/],
  ['indexed access type', /\w\[["'\w]/],
  ['conditional type', /\bextends\b[^{};]*\?[^:;]*:|\binfer\s/],
];

/** Each line of `text` that uses a construct of NOT_JSII, with the construct's name. */
function nonJsiiTypes(text: string): string[] {
  return code(text).split('\n').flatMap((line) => NOT_JSII.filter(([, re]) => re.test(line)).map(([what]) => `${what}: ${line.trim()}`));
}

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

  it('has no mapped, utility or conditional types (jsii cannot represent them)', () => {
    expect(nonJsiiTypes(declarations)).toEqual([]);
  });

  it('finds each construct jsii cannot represent, and not the index-signature maps it can', () => {
    const bad = [
      'export interface Probe extends Omit<IProbe, "httpGet"> {',
      'type PortOptional<T> = { [K in keyof T]?: T[K] };',
      'readonly port?: T["port"];',
      'readonly labels?: Record<string, string>;',
      'type Unwrap<T> = T extends Promise<infer U> ? U : T;',
    ];
    expect(bad.map((line) => nonJsiiTypes(line).length > 0)).toEqual(bad.map(() => true));
    const fine = [
      'readonly labels?: { readonly [key: string]: string };',
      'export interface RevisionProps extends RevisionTemplateProps {',
      'readonly scheme?: "HTTP" | "HTTPS";',
      '/** Record<string, string> in prose, or a question? yes: */',
    ];
    expect(fine.flatMap(nonJsiiTypes)).toEqual([]);
  });
});
