// The package's public declarations, one file: what dist-lib/index.d.ts ships (scripts/build-lib.mjs)
// and what the API report shows (scripts/api-report.mjs). One function, so the report can never
// describe other declarations than the published ones.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The packages whose declarations are copied into index.d.ts instead of imported: the library only
 * imports types from kubernetes-models (IContainer, IProbe, ... in the props), and inlining them
 * spares every user a ~25 MB dependency while keeping the props fully typed.
 */
export const INLINED_TYPES = ['kubernetes-models', '@kubernetes-models/base', '@kubernetes-models/apimachinery'];

/** The packages the public declarations may import from: the peer dependencies. */
export const DECLARATION_IMPORTS = ['cdk8s', 'constructs'];

/**
 * lib/index.ts's declarations bundled by dts-bundle-generator (a devDependency: `require` is given
 * by the caller, which says what to do when it is missing).
 */
export function publicDeclarations(dtsBundleGenerator) {
  const { generateDtsBundle } = createRequire(import.meta.url)(dtsBundleGenerator);
  const [declarations] = generateDtsBundle(
    [
      {
        filePath: join(ROOT, 'lib', 'index.ts'),
        libraries: { inlinedLibraries: INLINED_TYPES },
        output: { noBanner: true, exportReferencedTypes: false },
      },
    ],
    { preferredConfigPath: join(ROOT, 'tsconfig.build.json') },
  );
  return declarations;
}
