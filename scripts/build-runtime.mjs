#!/usr/bin/env node
// Bundles the runtime into dist-runtime/, one file per role plus a tiny dispatcher, all run by
// plain `node` without node_modules:
//   dist-runtime/kservice-runtime.js   the entry point: loads only dist-runtime/<role>.js
//   dist-runtime/queue-proxy.js        lib/runtime/main.ts with the queue-proxy bundled in
//   dist-runtime/activator.js          ... with the activator
//   dist-runtime/autoscaler.js         ... with the autoscaler (and @kubernetes/client-node)
//   dist-runtime/krm.js                the compiler as a KRM function (lib/cli/krm/main.ts), so the
//                                      image also serves as kustomize's and kpt's container function
// One bundle per role because V8 parses a whole file when it is loaded: the queue-proxy, in
// every pod, no longer parses 2 MB of control-plane code (docs/runtime-performance.md).
//   node scripts/build-runtime.mjs              # minified, function names kept (default)
//   node scripts/build-runtime.mjs --no-minify  # readable, for debugging
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist-runtime');
const minify = !process.argv.includes('--no-minify');
/** The roles of lib/runtime/main.ts (its RUNNERS), each imported there as `./<role>/main`. */
const ROLES = ['activator', 'autoscaler', 'queue-proxy'];

/**
 * In the bundle of `role`, the other roles' modules are left out: each becomes a stub that says
 * where that role lives (the dispatcher never asks a bundle for another role).
 */
function otherRolesLeftOut(role) {
  const runtimeMain = join(root, 'lib', 'runtime', 'main.ts');
  return {
    name: 'other-roles-left-out',
    setup(b) {
      b.onResolve({ filter: /^\.\/[a-z-]+\/main$/ }, (args) => {
        const other = args.path.slice(2, -'/main'.length);
        if (!ROLES.includes(other) || other === role || args.importer !== runtimeMain) return undefined;
        return { path: other, namespace: 'other-role' };
      });
      b.onLoad({ filter: /.*/, namespace: 'other-role' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`the ${args.path} role is in dist-runtime/${args.path}.js: run kservice-runtime.js ${args.path}`)});`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Built-in modules a role's bundle loads only when first used. The queue-proxy starts in every pod
 * on every cold start, and Node 26 spends ~15-20 ms of it loading node:http2 (with node:tls) and
 * node:https, which only h2c revisions and HTTPS readiness probes use (docs/runtime-performance.md,
 * "Queue-proxy start"). The modules import them at the top as usual; here each such import becomes a
 * module of getters that loads the real one on the first property read. Hand-written because
 * esbuild has no option for it (its `external` keeps the `require` at the top).
 */
const LAZY_BUILTINS = { 'queue-proxy': ['node:http2', 'node:https'] };

function lazyBuiltins(role) {
  const lazy = LAZY_BUILTINS[role] ?? [];
  return {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => (lazy.includes(args.path) && args.namespace !== 'lazy-builtin' ? { path: args.path, namespace: 'lazy-builtin' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async (args) => {
        // The export names of the build's Node; one the runtime's Node lacks reads as undefined, as it would anyway.
        const names = Object.keys(await import(args.path)).filter((name) => name !== 'default');
        return {
          contents: `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(args.path)}));\n`
            + `for (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });\n`,
          loader: 'js',
        };
      });
    },
  };
}

async function bundleRole(role) {
  return bundle(join(root, 'lib', 'runtime', 'main.ts'), role, [otherRolesLeftOut(role), lazyBuiltins(role)]);
}

/**
 * `kservice krm` (lib/cli/krm/main.ts): the compiler with cdk8s and the constructs, in a file of
 * its own so no role ever parses it; minified like the roles, names kept.
 */
async function bundleKrm() {
  return bundle(join(root, 'lib', 'cli', 'krm', 'main.ts'), KRM, []);
}

/** One bundle: `name.js` from `entry`, in memory (written by the caller). */
async function bundle(entry, name, plugins) {
  const result = await build({
    entryPoints: [entry],
    outfile: join(outdir, `${name}.js`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    plugins,
    // Measured on the queue-proxy (docs/runtime-metrics.md): minified ~130 ms vs ~160 ms from
    // exec to listening — that start-up is part of every cold start. keepNames keeps function
    // and class names in stack traces readable.
    minify,
    keepNames: minify,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    // Written below through a temporary file and a rename, so a test run that starts the runtime
    // while another run rebuilds it never reads half a file.
    write: false,
  });
  const [output] = result.outputFiles;
  return { file: `${name}.js`, contents: output.contents, inputs: Object.keys(result.metafile.inputs).length };
}

/** The command the dispatcher sends to dist-runtime/krm.js instead of a role. */
const KRM = 'krm';

// Plain JavaScript, written here rather than bundled: it must stay a few lines that load nothing
// but the role's own file. An unknown or missing role goes to any role bundle, whose main()
// prints the usage.
const DISPATCHER = `'use strict';
// Generated by scripts/build-runtime.mjs: kservice-runtime <${ROLES.join('|')}> loads only ./<role>.js;
// kservice-runtime ${KRM} (the KRM function, as \`kservice ${KRM}\`) loads ./${KRM}.js. So does no argument
// with stdin not a terminal: kustomize and kpt run a container function's image without arguments,
// a ResourceList on stdin (functions-spec.md), and every role is always started with its name.
const ROLES = ${JSON.stringify([...ROLES, KRM])};
function main(args, env) {
  if (args.length === 0 && !process.stdin.isTTY) args = [${JSON.stringify(KRM)}];
  const role = ROLES.includes(args[0]) ? args[0] : ROLES[0];
  return require('./' + role + '.js').main(args, env);
}
exports.main = main;
if (require.main === module) main(process.argv.slice(2), process.env).then((code) => process.exit(code));
`;

function writeAtomically(file, contents) {
  const path = join(outdir, file);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

mkdirSync(outdir, { recursive: true });
const outputs = await Promise.all([...ROLES.map(bundleRole), bundleKrm()]);
for (const output of outputs) writeAtomically(output.file, output.contents);
// The dispatcher last: its mtime tells test set-ups the whole directory is fresh.
writeAtomically('kservice-runtime.js', DISPATCHER);

for (const { file, contents, inputs } of outputs) {
  console.log(`${relative(root, join(outdir, file))}: ${(contents.length / 1024).toFixed(1)} KiB (${inputs} inputs, ${minify ? 'minified' : 'not minified'})`);
}
console.log(`${relative(root, join(outdir, 'kservice-runtime.js'))}: ${DISPATCHER.length} bytes (dispatcher)`);
