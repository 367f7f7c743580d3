/**
 * `kservice-runtime krm`: the KRM function in the runtime image, so one image serves as the
 * container function too (scripts/build-runtime.mjs bundles this file as dist-runtime/krm.js; the
 * image's dispatcher loads it for `krm`). The same `kservice krm` command, arguments and exit codes.
 */
import { processIo, runCli } from '../main';

/** The dispatcher's interface: the arguments after the program (`krm ...`), resolving with the exit code. */
export function main(args: readonly string[], _env: NodeJS.ProcessEnv): Promise<number> {
  return runCli(args, processIo());
}
