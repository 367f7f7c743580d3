/**
 * The npm package as a user installs it, for tests that run its bins the way an operator's image
 * does: `npm pack` of this repository (its `prepare` script builds dist-lib/ and dist-runtime/, under
 * the same lock as test/package/package.test.ts so two packs never rebuild under each other), then
 * `npm install` of the tarball with the cdk8s and constructs versions this repository uses (already
 * in npm's cache after `npm ci`, so the install needs the registry only for what the cache lacks).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { REPO_ROOT } from './runtime-bundle';

export const INSTALL_TIMEOUT = 600_000;
const PACK_LOCK = join(tmpdir(), 'cdk8s-kservice-pack.lock');

export interface InstalledPackage {
  /** The project the package was installed into. */
  readonly project: string;
  /** Its node_modules/.bin, where npm put `kservice` and `kservice-runtime`. */
  readonly binDir: string;
  /** A PATH as a user's image has it: the installed bins and node, then the system's, no repository tools. */
  readonly path: string;
  readonly remove: () => void;
}

// npm runs without `npm test`'s own npm_* settings and without this repository's node_modules/.bin.
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  env.PATH = [dirname(process.execPath), ...(process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.includes('node_modules'))].join(delimiter);
  return env;
}

function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout: INSTALL_TIMEOUT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve();
    });
  });
}

function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Packs this repository and installs the tarball into a fresh project; `remove()` deletes both. */
export async function installPackage(): Promise<InstalledPackage> {
  const project = mkdtempSync(join(tmpdir(), 'kservice-installed-'));
  try {
    await run('flock', [PACK_LOCK, 'npm', 'pack', '--pack-destination', project], REPO_ROOT);
    const tarballs = readdirSync(project).filter((name) => name.endsWith('.tgz'));
    if (tarballs.length !== 1) throw new Error(`npm pack left ${tarballs.length} tarballs in ${project}`);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'installed-kservice', version: '1.0.0', private: true })}\n`);
    const peers = [`cdk8s@${installedVersion('cdk8s')}`, `constructs@${installedVersion('constructs')}`];
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(project, tarballs[0]!), ...peers], project);
  } catch (error) {
    rmSync(project, { recursive: true, force: true });
    throw error;
  }
  const binDir = join(project, 'node_modules', '.bin');
  return {
    project,
    binDir,
    path: [binDir, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(delimiter),
    remove: () => rmSync(project, { recursive: true, force: true }),
  };
}
