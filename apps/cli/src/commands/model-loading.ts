import type { AnyModel } from '@megabyte/core';
import { loadModel } from '@megabyte/core/node';
import { resolveModelDirectory } from '@megabyte/trainer/node';
import { userPath } from '../options.js';

/** The model a `--model` argument names (checkpoint or run directory), and where it was found. */
export async function loadModelArgument(path: string): Promise<{ model: AnyModel; dir: string }> {
  const dir = await resolveModelDirectory(userPath(path));
  return { model: await loadModel(dir), dir };
}
