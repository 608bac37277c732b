/**
 * Checkpoint directories on disk. Writes never leave a half-written file or directory under the
 * final name: everything goes to a temporary sibling, is fsynced, and is renamed into place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  CHECKPOINT_CONFIG_FILE,
  CHECKPOINT_WEIGHTS_FILE,
  parseCheckpointConfig,
} from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../checkpoint/errors.js';

export interface CheckpointFiles {
  /** Written as `config.json`. */
  configJson: string;
  /** Written as `model.safetensors`. */
  weights: Uint8Array;
  /** More files to keep with the checkpoint (e.g. optimizer state), by plain file name. */
  extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

export interface LoadedCheckpointDirectory {
  /** The parsed `config.json`. */
  config: Record<string, unknown>;
  /** The bytes of `model.safetensors`, for `decodeCheckpointWeights`. */
  weights: Uint8Array;
  /** The directory, as an absolute path. */
  dir: string;
}

const BACKUP_MARK = '.old-';
const TEMP_MARK = '.tmp-';
/** `<name>.tmp-<hex>` or `<name>.old-<hex>`, as writeCheckpointDirectory names its siblings. */
const LEFTOVER = /^(.+)\.(tmp|old)-[0-9a-f]{12}$/;

function randomSuffix(): string {
  return randomBytes(6).toString('hex');
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

async function writeDurably(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes renames inside `dir` durable. Some platforms (Windows) cannot fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'EBADF'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

function extraFileProblems(names: readonly string[]): string[] {
  const problems: string[] = [];
  for (const name of names) {
    if (name === CHECKPOINT_CONFIG_FILE || name === CHECKPOINT_WEIGHTS_FILE) {
      problems.push(`extra file ${JSON.stringify(name)} would overwrite the checkpoint's own ${name}`);
    } else if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name)) {
      problems.push(`extra file ${JSON.stringify(name)} must be a plain file name, without directories`);
    }
  }
  return problems;
}

/**
 * Decides whether `target` may be replaced by a checkpoint: it must be absent, empty, or already a
 * checkpoint, so that a mistyped path never deletes an unrelated directory.
 */
async function existingCheckpoint(target: string): Promise<boolean> {
  let entries: string[];
  try {
    if (!(await stat(target)).isDirectory()) {
      throw new CheckpointError(`cannot write checkpoint to ${target}`, 'it exists and is not a directory');
    }
    entries = await readdir(target);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
  if (
    entries.length > 0 &&
    !entries.includes(CHECKPOINT_CONFIG_FILE) &&
    !entries.includes(CHECKPOINT_WEIGHTS_FILE)
  ) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', ...' : '');
    throw new CheckpointError(
      `refusing to write checkpoint to ${target}`,
      `it is a directory that holds no checkpoint but ${entries.length} other entries (${shown})`,
      {
        hint: 'Writing a checkpoint replaces the whole directory: choose a new directory or an old checkpoint.',
      },
    );
  }
  return true;
}

/**
 * Writes `config.json`, `model.safetensors` and any extra files as one checkpoint directory, all or
 * nothing: they are written and fsynced in `${dir}.tmp-<random>`, which is then renamed to `dir`. An
 * existing checkpoint at `dir` is first renamed to `${dir}.old-<random>` and removed once the new one
 * is in place, so a crash leaves either the old checkpoint, the new one, or (between the two renames)
 * the old one under its backup name, which {@link readCheckpointDirectory} then points to.
 */
export async function writeCheckpointDirectory(dir: string, files: CheckpointFiles): Promise<void> {
  const target = resolve(dir);
  const extraFiles = Object.entries(files.extraFiles ?? {});
  const problems = extraFileProblems(extraFiles.map(([name]) => name));
  if (problems.length > 0) throw new CheckpointError(`cannot write checkpoint to ${target}`, problems);

  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const replacing = await existingCheckpoint(target);

  const temp = `${target}${TEMP_MARK}${randomSuffix()}`;
  await mkdir(temp);
  try {
    await writeDurably(join(temp, CHECKPOINT_CONFIG_FILE), files.configJson);
    await writeDurably(join(temp, CHECKPOINT_WEIGHTS_FILE), files.weights);
    for (const [name, data] of extraFiles) await writeDurably(join(temp, name), data);
    await syncDirectory(temp);
    if (!replacing) {
      await rename(temp, target);
      await syncDirectory(parent);
      return;
    }
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw diskFullError(error, target);
  }

  const backup = `${target}${BACKUP_MARK}${randomSuffix()}`;
  try {
    await rename(target, backup);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rename(backup, target);
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await syncDirectory(parent);
  await rm(backup, { recursive: true, force: true });
}

/** A full disk or quota, as an error naming the checkpoint and what to do; other errors unchanged. */
function diskFullError(error: unknown, target: string): unknown {
  const code = errorCode(error);
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return error;
  return new CheckpointError(`cannot write checkpoint to ${target}`, `no space left on the disk (${code})`, {
    hint: 'Free some space, or write the run elsewhere (--out); the checkpoints written before are intact.',
    cause: error,
  });
}

/**
 * Tidies what interrupted checkpoint writes left in `parent`: every `X.tmp-*` (a write that never
 * finished) is removed; an `X.old-*` backup is removed when `X` exists (the write completed) and
 * renamed back to `X` when it does not (the crash fell between the two renames, so it is the only
 * copy). Returns one line per action, with full paths. Call it only when no write is in progress.
 */
export async function removeCheckpointLeftovers(parent: string): Promise<string[]> {
  const dir = resolve(parent);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  const actions: string[] = [];
  // Temporaries first, so that a backup's target is judged after they are gone.
  const leftovers = names
    .map((name) => ({ name, match: LEFTOVER.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .sort((a, b) => (a.match[2] === b.match[2] ? 0 : a.match[2] === 'tmp' ? -1 : 1));
  for (const { name, match } of leftovers) {
    const path = join(dir, name);
    const target = join(dir, match[1]!);
    if (match[2] === 'old' && !(await stat(target).catch(() => undefined))) {
      await rename(path, target);
      actions.push(`restored ${target} from the backup ${path} of an interrupted write`);
      continue;
    }
    await rm(path, { recursive: true, force: true });
    actions.push(
      `removed ${path} (${match[2] === 'tmp' ? 'an unfinished write' : 'the backup of a finished write'})`,
    );
  }
  return actions;
}

async function findBackups(target: string): Promise<string[]> {
  const prefix = `${basename(target)}${BACKUP_MARK}`;
  try {
    const siblings = await readdir(dirname(target));
    return siblings.filter((name) => name.startsWith(prefix)).map((name) => join(dirname(target), name));
  } catch {
    return [];
  }
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Reads a checkpoint directory written by {@link writeCheckpointDirectory}: parses `config.json`
 * and returns the bytes of `model.safetensors`. Throws a {@link CheckpointError} naming the missing
 * directory or files, or the file and parse error of an invalid config.
 */
export async function readCheckpointDirectory(dir: string): Promise<LoadedCheckpointDirectory> {
  const target = resolve(dir);
  const context = `cannot read checkpoint ${target}`;
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
    const [backup] = await findBackups(target);
    throw new CheckpointError(context, 'the directory does not exist', {
      hint:
        backup === undefined
          ? undefined
          : `A checkpoint write was interrupted; the previous checkpoint is at ${backup}: rename it to ${target}.`,
    });
  }
  if (!isDirectory) throw new CheckpointError(context, 'it is not a directory');

  const configPath = join(target, CHECKPOINT_CONFIG_FILE);
  const weightsPath = join(target, CHECKPOINT_WEIGHTS_FILE);
  const [configBytes, weightBytes] = await Promise.all([
    readIfPresent(configPath),
    readIfPresent(weightsPath),
  ]);
  const problems: string[] = [];
  if (configBytes === undefined) problems.push(`${configPath} is missing`);
  if (weightBytes === undefined) problems.push(`${weightsPath} is missing`);
  if (configBytes === undefined || weightBytes === undefined) {
    const entries = await readdir(target);
    throw new CheckpointError(context, problems, {
      hint: `A checkpoint directory holds ${CHECKPOINT_CONFIG_FILE} and ${CHECKPOINT_WEIGHTS_FILE}; this one has ${
        entries.length === 0 ? 'nothing' : entries.join(', ')
      }.`,
    });
  }
  const config = parseCheckpointConfig(configBytes.toString('utf8'), configPath);
  const weights = new Uint8Array(weightBytes.buffer, weightBytes.byteOffset, weightBytes.byteLength);
  return { config, weights, dir: target };
}
