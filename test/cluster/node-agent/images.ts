// What "pulling and running an image" means for the node agent: a rule maps an image reference to
// what runs. The runtime image runs from the image itself: dist-image/runtime.tar (npm run image),
// unpacked, its entrypoint in its own read-only root filesystem as its user (image-container.ts);
// test images run test/runtime/apps/test-app.mjs as a local process. An image no rule knows makes
// the container wait with reason ErrImagePull, as on a real node.
import { resolve } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';
import { DEFAULT_RUNTIME_IMAGE } from '../../../lib/contract/constants';
import type { ContainerCommand } from './container-process';

import { REPO_ROOT, RUNTIME_BUNDLE } from '../../support/runtime-bundle';
import { ensureRuntimeImage, unpackImage, type UnpackedImage } from '../../support/runtime-image';

export { REPO_ROOT, RUNTIME_BUNDLE };
export const TEST_APP = resolve(REPO_ROOT, 'test', 'runtime', 'apps', 'test-app.mjs');
const RUNTIME_COMPONENTS = new Set(['activator', 'autoscaler', 'queue-proxy']);

/** The runtime image as built from this checkout (rebuilt first if stale), unpacked. */
export function runtimeImageRootfs(): UnpackedImage {
  return unpackImage(ensureRuntimeImage());
}

export interface ImageRule {
  readonly description: string;
  readonly matches: (image: string) => boolean;
  /** Command and args for a container of a matching image (env is added by the agent). */
  readonly command: (container: V1Container) => Omit<ContainerCommand, 'env'>;
  /** Test tuning added on top of the pod's env (wins over it), e.g. a short queue-proxy drain. */
  readonly env?: (container: V1Container) => Readonly<Record<string, string>>;
}

export class UnknownImageError extends Error {}

function matcher(image: string | RegExp): (candidate: string) => boolean {
  return typeof image === 'string' ? (c) => c === image : (c) => image.test(c);
}

/**
 * The runtime image: `kservice-runtime <component>`. The component is the first of
 * activator|autoscaler|queue-proxy found in command+args, so both `args: [queue-proxy]` and
 * `command: [/ko-app/kservice-runtime, queue-proxy]` work. `source` is the unpacked image (the
 * default: the one `npm run image` builds), or a bundle path to run the bundle as a local process
 * on the test's node instead.
 */
export function runtimeImage(
  image: string | RegExp = DEFAULT_RUNTIME_IMAGE,
  env: Record<string, string> = {},
  source: UnpackedImage | string = runtimeImageRootfs(),
): ImageRule {
  const fromImage = typeof source !== 'string';
  return {
    description: `runtime image ${String(image)} -> ${fromImage ? `${source.digest} (${source.rootfs})` : `node ${source}`}`,
    matches: matcher(image),
    command: (container) => {
      const tokens = [...(container.command ?? []), ...(container.args ?? [])];
      const at = tokens.findIndex((t) => RUNTIME_COMPONENTS.has(t));
      if (at < 0) throw new UnknownImageError(`container ${container.name}: no runtime component (activator|autoscaler|queue-proxy) in command/args ${JSON.stringify(tokens)}`);
      return fromImage
        ? { command: 'kservice-runtime', args: tokens.slice(at), image: source }
        : { command: process.execPath, args: [source, ...tokens.slice(at)] };
    },
    env: () => env,
  };
}

/**
 * A user image run as test-app.mjs. It binds all of the pod's addresses so tests can reach it, and
 * listens on the container's first declared port unless the pod sets PORT (Knative always does).
 */
export function testAppImage(image: string | RegExp, env: Record<string, string> = {}): ImageRule {
  return {
    description: `test image ${String(image)} -> node ${TEST_APP}`,
    matches: matcher(image),
    command: () => ({ command: process.execPath, args: [TEST_APP] }),
    env: (container) => {
      const declaresPort = container.env?.some((e) => e.name === 'PORT');
      const port = container.ports?.[0]?.containerPort;
      return { HOST: '0.0.0.0', ...(!declaresPort && port ? { PORT: String(port) } : {}), ...env };
    },
  };
}

export function ruleFor(rules: readonly ImageRule[], image: string | undefined): ImageRule {
  const rule = image ? rules.find((r) => r.matches(image)) : undefined;
  if (!rule) {
    throw new UnknownImageError(`no image rule for "${image ?? ''}" (known: ${rules.map((r) => r.description).join('; ')})`);
  }
  return rule;
}
