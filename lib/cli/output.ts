/**
 * Writing the compiled result: one YAML stream, or files in an output directory, plus the history
 * file. A run's writes are one commit: everything is checked and staged on disk first (same
 * filesystem, so moving it in is rename(2)), then the output files and the history are moved in
 * together; if any move fails, the ones already made are undone. Files are renamed into place
 * one by one, so a reader never sees a half-written file.
 *
 * The output directory may hold the user's own files (a README, kustomize overlays): only the files
 * the compiler owns are ever replaced or removed. It lists them in OWNED_LIST_FILE inside the
 * directory; a generated name that already exists there without being listed is refused, never
 * overwritten.
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
/** The compiler's list of the files it wrote into OUT_DIR, one name per line. */
export const OWNED_LIST_FILE = '.kservice-output';

const OWNED_LIST_HEADER = [
  '# Written by `kservice compile -o`: the files in this directory that the compiler owns.',
  '# The next compile replaces or removes exactly these; every other file here is left alone.',
].join('\n');

/** Names the compiler writes: NAMESPACE-NAME.yaml and its two fixed files, never a path. */
const OWNED_NAME = /^[a-z0-9][a-z0-9.-]*\.yaml$/;

/** Joins serialized documents into one multi-document YAML stream. */
export function toYamlStream(documents: readonly string[]): string {
  return documents.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n');
}

/** The output directory or history file cannot be written as asked; normally nothing was changed. */
export class OutputDirError extends Error {
  constructor(message: string, readonly changedNothing = true) {
    super(message);
  }
}

export interface WritePlan {
  readonly outDir?: string;
  readonly files: readonly OutputFile[];
  readonly history?: { readonly file: string; readonly content: string };
}

/** A staged change: moved into place by `commit`, taken back by `undo`, temporary files gone after `cleanup`. */
interface Staged {
  commit(): Promise<void>;
  undo(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Writes the output directory and the history as one commit: both change, or neither does. */
export async function writeAll(plan: WritePlan): Promise<void> {
  assertHistoryApart(plan);
  const staged: Staged[] = [];
  try {
    // The history is staged first: it may live inside OUT_DIR, whose parent folders it creates.
    if (plan.history) staged.push(labelled(plan.history.file, await explained(plan.history.file, () => stageFile(plan.history!.file, plan.history!.content))));
    if (plan.outDir !== undefined) staged.unshift(labelled(plan.outDir, await explained(plan.outDir, () => stageOutputDir(plan.outDir!, plan.files))));
    await commitAll(staged);
  } finally {
    for (const s of staged) await s.cleanup().catch(() => undefined);
  }
}

/** The history must not be one of the output files: one of the two would silently replace the other. */
function assertHistoryApart(plan: WritePlan): void {
  if (plan.history === undefined || plan.outDir === undefined) return;
  const history = path.resolve(plan.history.file);
  const clash = [...plan.files.map((f) => f.name), OWNED_LIST_FILE].find((name) => path.resolve(plan.outDir!, name) === history);
  if (clash) throw new OutputDirError(`the history file ${plan.history.file} is also the output file ${clash}; keep it elsewhere`);
}

/** The same staged change, its commit's errors said in words with the path the user gave. */
function labelled(what: string, staged: Staged): Staged {
  return { ...staged, commit: () => explained(what, () => staged.commit()) };
}

/** A file system error while writing, said in words with the path the user gave. */
async function explained<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (error instanceof OutputDirError || typeof e?.code !== 'string') throw error;
    // mkdir -p answers EEXIST or ENOTDIR when a parent on the way is a file.
    if (e.syscall === 'mkdir' && (e.code === 'EEXIST' || e.code === 'ENOTDIR')) {
      throw new OutputDirError(`cannot write ${what}: ${e.path ?? 'a parent folder'} is not a directory`);
    }
    const reason = ERRNO_REASONS[e.code] ?? e.code;
    // For a rename, the destination is the path the user knows; the source is a temporary file.
    const where = (e as { dest?: string }).dest ?? e.path;
    throw new OutputDirError(`cannot write ${what}: ${reason}${where ? ` (${e.syscall ?? 'at'} ${where})` : ''}`);
  }
}

const ERRNO_REASONS: Record<string, string> = {
  ENOTDIR: 'a parent folder is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'something else appeared at that path while writing',
  ENOTEMPTY: 'something else appeared at that path while writing',
  EISDIR: 'it is a directory',
};

/** Replaces the compiler's files in `outDir` with `files`, leaving every other file there alone. */
export async function writeOutputDir(outDir: string, files: readonly OutputFile[]): Promise<void> {
  await writeAll({ outDir, files });
}

/**
 * Commits in order; on a failure undoes every step tried, the failed one included (a step that
 * moves several files may have moved some). An undo that fails too is said, never hidden.
 */
async function commitAll(staged: readonly Staged[]): Promise<void> {
  const tried: Staged[] = [];
  try {
    for (const s of staged) {
      tried.push(s);
      await s.commit();
    }
  } catch (error) {
    const undoFailures: string[] = [];
    for (const s of tried.reverse()) await s.undo().catch((e: Error) => undoFailures.push(e.message));
    if (undoFailures.length === 0) throw error;
    throw new OutputDirError(`${(error as Error).message}; putting the previous files back failed as well (${undoFailures.join('; ')}): check the output and the history by hand`, false);
  }
}

/** A single file: staged as a temporary sibling, committed by rename, undone by putting the old one back. */
async function stageFile(file: string, content: string): Promise<Staged> {
  const target = path.resolve(file);
  const stat = await fs.stat(target).catch(() => undefined);
  if (stat && !stat.isFile()) throw new OutputDirError(`${file} exists and is not a regular file`);
  const created = await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.new-`));
  const backup = stat ? path.join(temp, 'old') : undefined;
  await fs.writeFile(path.join(temp, 'new'), content);
  if (backup) await fs.link(target, backup).catch(() => fs.copyFile(target, backup));
  let committed = false;
  return {
    commit: async () => {
      await fs.rename(path.join(temp, 'new'), target);
      committed = true;
    },
    undo: async () => {
      if (!committed) return;
      if (backup) await fs.rename(backup, target);
      else await fs.rm(target, { force: true });
      committed = false;
    },
    cleanup: async () => {
      await fs.rm(temp, { recursive: true, force: true });
      if (created !== undefined) await removeEmptyDirs(created, path.dirname(target));
    },
  };
}

/** Directories `mkdir -p` created for a run that then wrote nothing into them are removed again. */
async function removeEmptyDirs(top: string, deepest: string): Promise<void> {
  for (let dir = deepest; dir.length >= top.length; dir = path.dirname(dir)) {
    if (!(await fs.rmdir(dir).then(() => true, () => false))) return;
  }
}

async function stageOutputDir(outDir: string, files: readonly OutputFile[]): Promise<Staged> {
  const target = path.resolve(outDir);
  const stat = await fs.stat(target).catch(() => undefined);
  if (stat !== undefined && !stat.isDirectory()) throw new OutputDirError(`${outDir} exists and is not a directory`);
  return stat === undefined ? stageNewDir(target, files) : stageIntoDir(outDir, target, files);
}

async function writeStagedFiles(dir: string, files: readonly OutputFile[]): Promise<void> {
  for (const file of files) await fs.writeFile(path.join(dir, file.name), toYamlStream(file.documents));
  await fs.writeFile(path.join(dir, OWNED_LIST_FILE), ownedList(files.map((f) => f.name)));
}

function ownedList(names: readonly string[]): string {
  return `${OWNED_LIST_HEADER}\n${[...names].sort().join('\n')}\n`;
}

/** A directory that does not exist yet is built beside its final place and renamed in whole. */
async function stageNewDir(target: string, files: readonly OutputFile[]): Promise<Staged> {
  const parent = path.dirname(target);
  const created = await fs.mkdir(parent, { recursive: true });
  const staging = await fs.mkdtemp(path.join(parent, `.${path.basename(target)}.new-`));
  let committed = false;
  try {
    await writeStagedFiles(staging, files);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
  return {
    commit: async () => {
      await fs.rename(staging, target);
      committed = true;
    },
    undo: async () => {
      if (committed) await fs.rename(target, staging);
      committed = false;
    },
    cleanup: async () => {
      if (!committed) await fs.rm(staging, { recursive: true, force: true });
      if (created !== undefined) await removeEmptyDirs(created, parent);
    },
  };
}

/**
 * An existing directory: the files to write and the owned files no longer produced are found
 * first; a generated name that would overwrite a file the compiler does not own stops the run.
 * Staging happens in a hidden folder inside the directory (same filesystem for rename); the old
 * versions of replaced files are moved there on commit, so an undo can put them back.
 */
async function stageIntoDir(outDir: string, target: string, files: readonly OutputFile[]): Promise<Staged> {
  const owned = await readOwnedList(outDir, target);
  const names = new Set(files.map((f) => f.name));
  await assertNoForeignFiles(outDir, target, [...names], owned);
  const stale = [...owned].filter((name) => !names.has(name));
  const staging = await fs.mkdtemp(path.join(target, '.kservice-staging-'));
  const fresh = path.join(staging, 'new');
  const old = path.join(staging, 'old');
  const moves: Array<{ from: string; to: string }> = [];
  try {
    await fs.mkdir(fresh);
    await fs.mkdir(old);
    await writeStagedFiles(fresh, files);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
  const move = async (from: string, to: string) => {
    await fs.rename(from, to);
    moves.push({ from, to });
  };
  return {
    commit: async () => {
      for (const name of [...names, ...stale, OWNED_LIST_FILE]) {
        if (await exists(path.join(target, name))) await move(path.join(target, name), path.join(old, name));
      }
      for (const name of [...names, OWNED_LIST_FILE]) await move(path.join(fresh, name), path.join(target, name));
    },
    undo: async () => {
      for (const { from, to } of moves.splice(0).reverse()) await fs.rename(to, from);
    },
    cleanup: () => fs.rm(staging, { recursive: true, force: true }),
  };
}

/** The names OWNED_LIST_FILE lists; a directory without it owns nothing yet. */
async function readOwnedList(outDir: string, target: string): Promise<Set<string>> {
  const listFile = path.join(target, OWNED_LIST_FILE);
  const stat = await fs.lstat(listFile).catch(() => undefined);
  if (stat === undefined) return new Set();
  if (!stat.isFile()) throw new OutputDirError(`${path.join(outDir, OWNED_LIST_FILE)} is not a regular file; remove it`);
  const owned = new Set<string>();
  (await fs.readFile(listFile, 'utf8')).split('\n').forEach((line, i) => {
    const name = line.trim();
    if (name === '' || name.startsWith('#')) return;
    // The list decides what gets deleted, so an entry must be a plain generated name, never a path.
    if (!OWNED_NAME.test(name)) {
      throw new OutputDirError(`${path.join(outDir, OWNED_LIST_FILE)}:${i + 1}: "${name}" is not a file name kservice compile writes; the list was edited, fix or remove that line`);
    }
    owned.add(name);
  });
  return owned;
}

async function assertNoForeignFiles(outDir: string, target: string, names: readonly string[], owned: ReadonlySet<string>): Promise<void> {
  const foreign: string[] = [];
  const notFiles: string[] = [];
  for (const name of [...new Set([...names, ...owned])].sort()) {
    const stat = await fs.lstat(path.join(target, name)).catch(() => undefined);
    if (stat === undefined) continue;
    if (!stat.isFile()) notFiles.push(name);
    else if (!owned.has(name)) foreign.push(name);
  }
  if (notFiles.length > 0) {
    throw new OutputDirError(`refusing to write ${outDir}: ${notFiles.join(', ')} ${notFiles.length === 1 ? 'is' : 'are'} in the way and not a regular file`);
  }
  if (foreign.length > 0) {
    throw new OutputDirError(
      `refusing to overwrite ${foreign.map((n) => path.join(outDir, n)).join(', ')}: not written by kservice compile ` +
        `(${path.join(outDir, OWNED_LIST_FILE)} does not list ${foreign.length === 1 ? 'it' : 'them'}); move ${foreign.length === 1 ? 'it' : 'them'} away or choose another output directory`,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(() => true, () => false);
}
