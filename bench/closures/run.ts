/**
 * What esbuild's keepNames costs on the request path, against source maps for readable stack
 * traces, and what avoiding closures saves (issue 21). Not part of `npm run bench`'s report:
 * `npx tsx bench/closures/run.ts` prints one table (ns per simulated request, and the first
 * stack frame a logged error would show).
 *
 * The runtime bundle (scripts/build-runtime.mjs) is minified, and keepNames is on so stack
 * traces and logged errors name functions. esbuild implements keepNames by wrapping every
 * function expression that gets a name (`const f = () => …`, class-field arrows, object-literal
 * arrows) in `__name(fn, "f")`: an Object.defineProperty each time the closure is created. The
 * workload (./workload.ts) creates an exchange's 8 listeners + 3 callbacks per request, as
 * the forwarder did before it moved to static listeners, against the static form.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type BuildOptions, buildSync } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, '.tmp', 'bench', 'closures');

interface Variant {
  readonly name: string;
  readonly keepNames: boolean;
  readonly sourcemap: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'minified, keepNames (as shipped)', keepNames: true, sourcemap: false },
  { name: 'minified, no keepNames', keepNames: false, sourcemap: false },
  { name: 'minified, no keepNames, source map (--enable-source-maps)', keepNames: false, sourcemap: true },
];

/** The image's Node when `npm run image` has unpacked it (the newest), else this one. */
function imageNode(): string {
  const unpacked = path.join(ROOT, 'dist-image', 'unpacked');
  if (!existsSync(unpacked)) return process.execPath;
  const candidates = readdirSync(unpacked)
    .map((d) => path.join(unpacked, d, 'rootfs', 'nodejs', 'bin', 'node'))
    .filter((p) => existsSync(p))
    .sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs);
  return candidates[0] ?? process.execPath;
}

function measure(node: string, variant: Variant, file: string): Record<string, number | string> {
  const flags = ['--max-semi-space-size=2', ...(variant.sourcemap ? ['--enable-source-maps'] : [])];
  const started = process.hrtime.bigint();
  const out = execFileSync('taskset', ['-c', '0', node, ...flags, file], { encoding: 'utf8', env: { ...process.env } });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { ...JSON.parse(out), wallMs };
}

/**
 * The start-up side of the trade (every cold start runs it): requiring each role's real bundle,
 * as shipped (keepNames) and without keepNames but with an external source map that
 * `--enable-source-maps` loads.
 */
function startUp(node: string, reps: number): void {
  console.log('');
  console.log('| role bundle | bundle KiB | map KiB | require, keepNames, ms | require, source map + --enable-source-maps, ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const role of ['queue-proxy', 'activator']) {
    const entry = path.join(ROOT, 'lib', 'runtime', role, 'main.ts');
    const files = { keep: path.join(OUT, `${role}-keep.js`), map: path.join(OUT, `${role}-map.js`) };
    const common: BuildOptions = { entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, logLevel: 'warning' };
    buildSync({ ...common, outfile: files.keep, keepNames: true });
    buildSync({ ...common, outfile: files.map, keepNames: false, sourcemap: true });
    const requireMs = (file: string, flags: string[]) => {
      const times = Array.from({ length: reps }, () => {
        const started = process.hrtime.bigint();
        execFileSync('taskset', ['-c', '0', node, '--max-semi-space-size=2', ...flags, '-e', `require(${JSON.stringify(file)})`]);
        return Number(process.hrtime.bigint() - started) / 1e6;
      });
      return times.sort((x, y) => x - y)[Math.floor(reps / 2)];
    };
    const kib = (file: string) => (statSync(file).size / 1024).toFixed(0);
    console.log(
      `| ${role} | ${kib(files.keep)} | ${kib(`${files.map}.map`)} | ${requireMs(files.keep, []).toFixed(1)} | ${requireMs(files.map, ['--enable-source-maps']).toFixed(1)} |`,
    );
  }
}

function main(): void {
  mkdirSync(OUT, { recursive: true });
  const node = imageNode();
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const reps = Number(process.env.REPS ?? 3);
  console.log(`node ${version} (${node === process.execPath ? 'this machine' : 'the image'}), ${reps} runs each, pinned to CPU 0`);
  console.log('| bundle | closures, ns/request | static listeners, ns/request | Error().stack, ns | first frame |');
  console.log('|---|---:|---:|---:|---|');
  for (const variant of VARIANTS) {
    const file = path.join(OUT, `${variant.keepNames ? 'keep' : 'plain'}${variant.sourcemap ? '-map' : ''}.js`);
    buildSync({
      entryPoints: [path.join(__dirname, 'workload.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      keepNames: variant.keepNames,
      sourcemap: variant.sourcemap,
      logLevel: 'warning',
    });
    const runs = Array.from({ length: reps }, () => measure(node, variant, file));
    const median = (key: string) => runs.map((r) => Number(r[key])).sort((x, y) => x - y)[Math.floor(reps / 2)];
    console.log(
      `| ${variant.name} | ${median('closureNs').toFixed(0)} | ${median('staticNs').toFixed(0)} | ${median('stackNs').toFixed(0)} | \`${runs[0].frame}\` |`,
    );
  }
  startUp(node, Math.max(5, reps));
}

main();
