/**
 * Writing the compiled result: one YAML stream, or a directory of files replaced atomically, and
 * the history file, also replaced atomically. "Atomically" means: everything is written into a
 * temporary sibling first and moved into place with rename(2), so a reader (or a crash) sees the
 * old content or the new, never a mix.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** One output file: its name inside OUT_DIR and its YAML documents, already serialized. */
export interface OutputFile {
  readonly name: string;
  readonly documents: readonly string[];
}

export const SYSTEM_FILE = 'serving-system.yaml';
export const PASSTHROUGH_FILE = 'passthrough.yaml';

/** Joins serialized documents into one multi-document YAML stream. */
export function toYamlStream(documents: readonly string[]): string {
  return documents.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n');
}

/** A directory the compiler did not write is never replaced: that would lose someone's files. */
export class OutputDirError extends Error {}

/**
 * Replaces `outDir` with a directory holding exactly `files`. The new tree is complete on disk
 * before the old one is moved aside, and the old one is deleted only after the swap.
 */
export async function writeOutputDir(outDir: string, files: readonly OutputFile[]): Promise<void> {
  const target = path.resolve(outDir);
  await assertReplaceable(target);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const staging = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.new-`));
  try {
    for (const file of files) await fs.writeFile(path.join(staging, file.name), toYamlStream(file.documents));
    await swapIn(staging, target);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function assertReplaceable(target: string): Promise<void> {
  const stat = await fs.stat(target).catch(() => undefined);
  if (stat === undefined) return;
  if (!stat.isDirectory()) throw new OutputDirError(`${target} exists and is not a directory`);
  const entries = await fs.readdir(target);
  if (entries.length > 0 && !entries.includes(SYSTEM_FILE)) {
    throw new OutputDirError(
      `refusing to replace ${target}: it is not empty and holds no ${SYSTEM_FILE}, so it was not written by kservice compile`,
    );
  }
}

async function swapIn(staging: string, target: string): Promise<void> {
  const old = `${staging.replace(/\.new-([^/]+)$/, '.old-$1')}`;
  const hadOld = await fs.rename(target, old).then(() => true, (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return false;
    throw e;
  });
  try {
    await fs.rename(staging, target);
  } catch (error) {
    if (hadOld) await fs.rename(old, target);
    throw error;
  }
  if (hadOld) await fs.rm(old, { recursive: true, force: true });
}

/** Writes a file through a temporary sibling and rename, so it is never seen half-written. */
export async function writeFileAtomically(file: string, content: string): Promise<void> {
  const target = path.resolve(file);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(temp, content);
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}
