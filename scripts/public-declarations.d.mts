// Types of scripts/public-declarations.mjs, for the tests that import it.
export declare const ROOT: string;
export declare const INLINED_TYPES: readonly string[];
export declare const DECLARATION_IMPORTS: readonly string[];
/** lib/index.ts's bundled declarations; `dtsBundleGenerator` is the resolved path of dts-bundle-generator. */
export declare function publicDeclarations(dtsBundleGenerator: string): string;
