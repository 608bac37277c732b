import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError } from '@megabyte/core';
import { BEST_DIR, CHECKPOINTS_DIR, isStepDirectoryName, pickRunCheckpoint } from '../run-layout.js';

/**
 * The checkpoint a `--model` path names: a checkpoint directory itself (it has config.json), or a
 * run directory, whose `best/` checkpoint is used, else its newest `checkpoints/step-*`
 * (`pickRunCheckpoint`, the rule the web demo applies to dropped folders too).
 */
export async function resolveModelDirectory(path: string): Promise<string> {
  const dir = resolve(path);
  const steps = await readdir(join(dir, CHECKPOINTS_DIR)).catch(() => [] as string[]);
  const checkpoints = [
    ...((await isFile(join(dir, 'config.json'))) ? [''] : []),
    ...((await isFile(join(dir, BEST_DIR, 'config.json'))) ? [BEST_DIR] : []),
    ...steps.filter(isStepDirectoryName).map((name) => join(CHECKPOINTS_DIR, name)),
  ];
  const picked = pickRunCheckpoint(checkpoints);
  if (picked !== undefined) return join(dir, picked);
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
