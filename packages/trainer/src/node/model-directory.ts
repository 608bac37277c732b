import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError } from '@megabyte/core';

/**
 * The checkpoint a `--model` path names: a checkpoint directory itself (it has config.json), or a
 * run directory, whose `best/` checkpoint is used, else its newest `checkpoints/step-*`.
 */
export async function resolveModelDirectory(path: string): Promise<string> {
  const dir = resolve(path);
  if (await isFile(join(dir, 'config.json'))) return dir;
  if (await isFile(join(dir, 'best', 'config.json'))) return join(dir, 'best');
  const steps = await readdir(join(dir, 'checkpoints')).catch(() => [] as string[]);
  const newest = steps
    .filter((n) => /^step-\d+$/.test(n))
    .sort()
    .at(-1);
  if (newest) return join(dir, 'checkpoints', newest);
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  throw new CheckpointError(
    `no model at ${dir}`,
    exists
      ? 'the directory has no config.json, no best/ and no checkpoints/step-*'
      : 'the directory does not exist',
    {
      hint: 'Pass a checkpoint directory (with config.json and model.safetensors) or a run directory written by `megabyte train`.',
    },
  );
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
