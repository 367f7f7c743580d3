// vitest globalSetup for the cluster suite: builds the control-plane binaries
// when they are missing, so `npm run test:cluster` works from a fresh clone.
import { ensureBinaries } from './binaries';

export default async function setup(): Promise<void> {
  const bins = await ensureBinaries();
  process.stderr.write(`control-plane binaries: ${bins.dir}\n`);
}
