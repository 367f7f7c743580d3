/**
 * One synthesis measurement in its own process, so peak RSS belongs to this run alone:
 * `tsx bench/synthesis/child.ts <ours|baseline> <N>` prints one JSON line (SynthesisSample).
 */
import { synthesizeBaseline } from './baseline';
import { synthesizeOurs } from './ours';

export interface SynthesisSample {
  readonly mode: 'ours' | 'baseline';
  readonly services: number;
  readonly objects: number;
  readonly bytes: number;
  /** Building the objects and the YAML, after module loading. */
  readonly wallMs: number;
  /** process.resourceUsage().maxRSS of this child, MiB. */
  readonly peakRssMiB: number;
}

const SYNTHESIZERS = { ours: synthesizeOurs, baseline: synthesizeBaseline } as const;

function main(): void {
  const [mode, count] = process.argv.slice(2);
  const synthesize = SYNTHESIZERS[mode as keyof typeof SYNTHESIZERS];
  const services = Number(count);
  if (!synthesize || !Number.isInteger(services) || services < 1) {
    console.error('usage: child.ts <ours|baseline> <N>');
    process.exit(2);
  }
  const started = process.hrtime.bigint();
  const yaml = synthesize(services);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const sample: SynthesisSample = {
    mode: mode as SynthesisSample['mode'],
    services,
    objects: countDocuments(yaml),
    bytes: Buffer.byteLength(yaml),
    wallMs,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(sample) + '\n');
}

/** Documents in a YAML stream: every document starts with `apiVersion:` at column 0 in both outputs. */
function countDocuments(yaml: string): number {
  return yaml.match(/^apiVersion:/gm)?.length ?? 0;
}

if (require.main === module) main();
