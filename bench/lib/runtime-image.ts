/**
 * The runtime as it ships: the image built by `npm run image` (dist-image/runtime.tar), unpacked
 * by test/support/runtime-image.ts, and run directly (no chroot) with the image's own node
 * (/nodejs/bin/node inside the root filesystem), its flags and its bundle, as its Entrypoint says.
 * The measured queue-proxy and activator are then the Node version and V8 flags users get, not
 * the machine's Node.
 */
import * as path from 'node:path';
import { ensureRuntimeImage, imageEnv, unpackImage } from '../../test/support/runtime-image';

export interface RuntimeCommand {
  /** The node binary inside the unpacked image. */
  readonly node: string;
  /** The entrypoint's node flags and bundle, paths mapped into the unpacked root filesystem. */
  readonly args: readonly string[];
  /** The image's Env, without the entries that name paths inside the image root (PATH, SSL_CERT_FILE). */
  readonly env: Readonly<Record<string, string>>;
  /** e.g. "image sha256:f04b3fef6d77 (node --max-semi-space-size=2)". */
  readonly description: string;
}

const HOST_PATH_ENTRIES = new Set(['PATH', 'SSL_CERT_FILE']);

let resolved: RuntimeCommand | undefined;

/** Builds the image when stale (flock'ed, shared with the tests), unpacks it once per digest. */
export function imageRuntime(): RuntimeCommand {
  if (resolved) return resolved;
  const image = unpackImage(ensureRuntimeImage());
  const [node, ...rest] = image.config.config.Entrypoint;
  const inRoot = (p: string) => (p.startsWith('/') ? path.join(image.rootfs, p) : p);
  const env = Object.fromEntries(Object.entries(imageEnv(image.config)).filter(([k]) => !HOST_PATH_ENTRIES.has(k)));
  const flags = rest.filter((a) => a.startsWith('-'));
  resolved = {
    node: inRoot(node),
    args: rest.map(inRoot),
    env,
    description: `image ${image.digest.slice(0, 19)} (${path.basename(node)} ${flags.join(' ')})`.trim(),
  };
  return resolved;
}

/** Why the image cannot be used (its build failed), or undefined. */
export function imageRuntimeUnavailable(): string | undefined {
  try {
    imageRuntime();
    return undefined;
  } catch (err) {
    return `runtime image not available: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`;
  }
}
