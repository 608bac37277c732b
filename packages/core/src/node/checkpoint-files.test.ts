import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError } from '../checkpoint/errors.js';
import {
  readCheckpointDirectory,
  removeCheckpointLeftovers,
  writeCheckpointDirectory,
} from './checkpoint-files.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'megabyte-checkpoint-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<CheckpointError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  return error as CheckpointError;
}

const first = { configJson: '{"version":1}\n', weights: new Uint8Array([1, 2, 3]) };
const second = { configJson: '{"version":2}\n', weights: new Uint8Array([4, 5]) };

describe('writeCheckpointDirectory', () => {
  it('writes a new directory, creating its parents, and reads it back', async () => {
    const dir = join(root, 'runs', 'a', 'step-1');
    await writeCheckpointDirectory(dir, {
      ...first,
      extraFiles: { 'optimizer.json': '{}', 'state.bin': new Uint8Array([9]) },
    });
    expect((await readdir(dir)).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'optimizer.json',
      'state.bin',
    ]);
    expect(await readFile(join(dir, 'state.bin'))).toEqual(Buffer.from([9]));

    const loaded = await readCheckpointDirectory(dir);
    expect(loaded).toEqual({ config: { version: 1 }, weights: new Uint8Array([1, 2, 3]), dir });
    expect(Object.getPrototypeOf(loaded.weights)).toBe(Uint8Array.prototype);
    expect(await readdir(join(root, 'runs', 'a'))).toEqual(['step-1']);
  });

  it('replaces an existing checkpoint whole and leaves no temporary or backup directory', async () => {
    const dir = join(root, 'ckpt');
    await writeCheckpointDirectory(dir, { ...first, extraFiles: { 'old.txt': 'x' } });
    await writeCheckpointDirectory(dir, second);
    expect((await readdir(dir)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect((await readCheckpointDirectory(dir)).config).toEqual({ version: 2 });
    expect(await readdir(root)).toEqual(['ckpt']);
  });

  it('replaces an empty directory', async () => {
    const dir = join(root, 'empty');
    await mkdir(dir);
    await writeCheckpointDirectory(dir, first);
    expect((await readCheckpointDirectory(dir)).config).toEqual({ version: 1 });
  });

  it('keeps the old checkpoint when writing the new one fails', async () => {
    const dir = join(root, 'ckpt');
    await writeCheckpointDirectory(dir, first);
    const failing = writeCheckpointDirectory(dir, {
      ...second,
      extraFiles: { ['x'.repeat(300)]: 'too long a name' },
    });
    await expect(failing).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    expect((await readCheckpointDirectory(dir)).config).toEqual({ version: 1 });
    expect(await readdir(root)).toEqual(['ckpt']);
  });

  it('refuses to replace a directory that is not a checkpoint, or a file', async () => {
    const dir = join(root, 'project');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'keep me');
    const error = await rejection(writeCheckpointDirectory(dir, first));
    expect(error.message).toContain(`refusing to write checkpoint to ${dir}`);
    expect(error.problems).toEqual([
      'it is a directory that holds no checkpoint but 1 other entries (notes.txt)',
    ]);
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('keep me');

    const file = join(root, 'file');
    await writeFile(file, 'x');
    expect((await rejection(writeCheckpointDirectory(file, first))).problems).toEqual([
      'it exists and is not a directory',
    ]);
    expect((await readdir(root)).sort()).toEqual(['file', 'project']);
  });

  it('rejects extra file names that are paths or would overwrite the checkpoint', async () => {
    const error = await rejection(
      writeCheckpointDirectory(join(root, 'c'), {
        ...first,
        extraFiles: { 'config.json': '{}', '../escape': 'x', 'a/b': 'x', '': 'x', 'fine.txt': 'x' },
      }),
    );
    expect(error.problems).toEqual([
      'extra file "config.json" would overwrite the checkpoint\'s own config.json',
      'extra file "../escape" must be a plain file name, without directories',
      'extra file "a/b" must be a plain file name, without directories',
      'extra file "" must be a plain file name, without directories',
    ]);
    expect(await readdir(root)).toEqual([]);
  });
});

describe('readCheckpointDirectory', () => {
  it('says when the directory does not exist, pointing to a backup left by an interrupted write', async () => {
    const dir = join(root, 'gone');
    const error = await rejection(readCheckpointDirectory(dir));
    expect(error.message).toBe(`cannot read checkpoint ${dir}: the directory does not exist`);

    await mkdir(`${dir}.old-abc123`);
    const withBackup = await rejection(readCheckpointDirectory(dir));
    expect(withBackup.hint).toBe(
      `A checkpoint write was interrupted; the previous checkpoint is at ${dir}.old-abc123: rename it to ${dir}.`,
    );
  });

  it('lists every missing file and what the directory holds', async () => {
    const dir = join(root, 'partial');
    await mkdir(dir);
    await writeFile(join(dir, 'readme.md'), '');
    const error = await rejection(readCheckpointDirectory(dir));
    expect(error.problems).toEqual([
      `${join(dir, 'config.json')} is missing`,
      `${join(dir, 'model.safetensors')} is missing`,
    ]);
    expect(error.hint).toBe(
      'A checkpoint directory holds config.json and model.safetensors; this one has readme.md.',
    );

    await writeFile(join(dir, 'config.json'), '{}');
    expect((await rejection(readCheckpointDirectory(dir))).problems).toEqual([
      `${join(dir, 'model.safetensors')} is missing`,
    ]);
  });

  it('names the config file and the parse error when config.json is not JSON', async () => {
    const dir = join(root, 'bad');
    await writeCheckpointDirectory(dir, { ...first, configJson: '{"version": 1' });
    const error = await rejection(readCheckpointDirectory(dir));
    expect(error.message).toMatch(new RegExp(`^cannot read ${join(dir, 'config.json')}: not valid JSON: .+`));
  });

  it('says when the path is a file', async () => {
    const file = join(root, 'file');
    await writeFile(file, '');
    expect((await rejection(readCheckpointDirectory(file))).problems).toEqual(['it is not a directory']);
  });
});

describe('removeCheckpointLeftovers', () => {
  it('removes unfinished writes and finished backups, restores a backup that is the only copy', async () => {
    await writeCheckpointDirectory(join(root, 'step-1'), first);
    await mkdir(join(root, 'step-2.tmp-0123456789ab'));
    await writeFile(join(root, 'step-2.tmp-0123456789ab', 'model.safetensors'), 'half');
    await mkdir(join(root, 'step-1.old-aaaaaaaaaaaa'));
    await writeCheckpointDirectory(join(root, 'best.old-bbbbbbbbbbbb'), second);
    await mkdir(join(root, 'notes.tmp-x'));
    const actions = await removeCheckpointLeftovers(root);
    expect(actions.sort()).toEqual(
      [
        `removed ${join(root, 'step-2.tmp-0123456789ab')} (an unfinished write)`,
        `removed ${join(root, 'step-1.old-aaaaaaaaaaaa')} (the backup of a finished write)`,
        `restored ${join(root, 'best')} from the backup ${join(root, 'best.old-bbbbbbbbbbbb')} of an interrupted write`,
      ].sort(),
    );
    expect((await readdir(root)).sort()).toEqual(['best', 'notes.tmp-x', 'step-1']);
    expect((await readCheckpointDirectory(join(root, 'best'))).config).toEqual({ version: 2 });
    expect((await readCheckpointDirectory(join(root, 'step-1'))).config).toEqual({ version: 1 });
    expect(await removeCheckpointLeftovers(join(root, 'missing'))).toEqual([]);
  });
});
