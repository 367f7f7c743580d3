// The suite's user app (test/runtime/apps/test-app.mjs) as an OCI image for the real node, which runs
// only images. It is the runtime image (its Debian libraries and Node, the same blobs, so the import
// stores nothing twice) plus one layer with /test-app/test-app.mjs, and an entrypoint that runs it.
// Written without a container engine, like scripts/build-image.mjs: an OCI image layout in a tar.
// Reproducible: sorted names, mtime 0, numeric root owners, gzip -n; so the digest changes only
// with the runtime image or test-app.mjs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_APP } from '../node-agent/images';

/** The name the test app image is imported under; manifests pin it by digest (`testAppImage.ref`). */
export const TEST_APP_IMAGE_NAME = 'kservice.test/test-app:1';
const APP_DIR = '/test-app';

export interface OciArchive {
  /** The tar (an OCI image layout). */
  readonly path: string;
  /** The manifest's digest, `sha256:...`. */
  readonly digest: string;
  /** `<name without tag>@<digest>`: what a manifest pins. */
  readonly ref: string;
}

interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string>; platform?: object }

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function writeBlob(layout: string, mediaType: string, data: Buffer): Descriptor {
  const digest = sha256(data);
  writeFileSync(blobPath(layout, digest), data);
  return { mediaType, digest, size: data.length };
}

const TAR_FLAGS = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner'];

/** The layer: /test-app/test-app.mjs, readable by everyone (the image runs as 65532). */
function appLayer(work: string): { tar: Buffer; gz: Buffer } {
  const root = join(work, 'layer-root');
  mkdirSync(join(root, APP_DIR.slice(1)), { recursive: true });
  copyFileSync(TEST_APP, join(root, APP_DIR.slice(1), 'test-app.mjs'));
  const tar = execFileSync('tar', [...TAR_FLAGS, '--mode=a+rX,u+w', '-C', root, '-cf', '-', APP_DIR.slice(1)], { maxBuffer: 1 << 26 });
  const gz = execFileSync('gzip', ['-n', '-9'], { input: tar, maxBuffer: 1 << 26 });
  return { tar, gz };
}

/** Builds `<outDir>/test-app.tar` on top of the runtime image archive `runtimeTar`. */
export function buildTestAppImage(runtimeTar: string, outDir: string): OciArchive {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(outDir, '.test-app-'));
  try {
    const layout = join(work, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', runtimeTar, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const base = JSON.parse(readFileSync(blobPath(layout, index.manifests[0].digest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
    const config = JSON.parse(readFileSync(blobPath(layout, base.config.digest), 'utf8')) as {
      config: { Entrypoint?: string[]; Cmd?: string[]; Labels?: Record<string, string> }; rootfs: { diff_ids: string[] }; history?: unknown[];
    };
    const { tar, gz } = appLayer(work);
    const layer = writeBlob(layout, 'application/vnd.oci.image.layer.v1.tar+gzip', gz);
    config.config.Entrypoint = ['/nodejs/bin/node', `${APP_DIR}/test-app.mjs`];
    delete config.config.Cmd;
    config.config.Labels = { ...config.config.Labels, 'org.opencontainers.image.title': 'kservice test app' };
    config.rootfs.diff_ids.push(sha256(tar));
    delete config.history; // the base's history would not match the extra layer
    const configDesc = writeBlob(layout, 'application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify(config)));
    const manifest = writeBlob(layout, 'application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: [...base.layers, layer],
    })));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...manifest, platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'org.opencontainers.image.ref.name': TEST_APP_IMAGE_NAME.split(':')[1], 'io.containerd.image.name': TEST_APP_IMAGE_NAME } }],
    }));
    const out = join(outDir, 'test-app.tar');
    execFileSync('tar', [...TAR_FLAGS, '-C', layout, '-cf', `${out}.tmp`, 'oci-layout', 'index.json', 'blobs']);
    renameSync(`${out}.tmp`, out);
    return { path: out, digest: manifest.digest, ref: `${TEST_APP_IMAGE_NAME.split(':')[0]}@${manifest.digest}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
