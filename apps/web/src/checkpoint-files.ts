// Which checkpoint of a dropped directory to load. A `megabyte train` run directory holds several
// (best/, checkpoints/step-N/, each with an optimizer.safetensors beside model.safetensors) and its
// media.json at the top; a converted checkpoint is config.json with one .safetensors file.
import { MEDIA_FILE } from '@megabyte/patching';
import { pickRunCheckpoint, runDirectoryOf } from '@megabyte/trainer';
import type { NamedFile } from './protocol.js';

export interface CheckpointFiles {
  /** The checkpoint's directory with a trailing slash, '' at the top of what was dropped. */
  readonly folder: string;
  readonly config: NamedFile;
  readonly weights: NamedFile;
  /** The run's media.json (an image model), or undefined for a text model. */
  readonly media: NamedFile | undefined;
}

const directoryOf = (name: string) => name.slice(0, name.lastIndexOf('/') + 1);
const baseOf = (name: string) => name.slice(name.lastIndexOf('/') + 1);

/**
 * The checkpoint to load: of the directories holding config.json and weights, the one
 * `pickRunCheckpoint` takes (a run's best/, else its newest checkpoints/step-N/), as
 * `megabyte generate --model` does on disk. Weights are model.safetensors, else the directory's
 * only .safetensors besides the optimizer's.
 */
export function pickCheckpoint(files: readonly NamedFile[]): CheckpointFiles | undefined {
  const candidates = new Map<string, CheckpointFiles>();
  for (const config of files.filter((file) => baseOf(file.name) === 'config.json')) {
    const folder = directoryOf(config.name);
    const tensors = files.filter(
      (file) =>
        directoryOf(file.name) === folder &&
        file.name.endsWith('.safetensors') &&
        baseOf(file.name) !== 'optimizer.safetensors',
    );
    const weights = tensors.find((file) => baseOf(file.name) === 'model.safetensors') ?? tensors[0];
    if (weights) candidates.set(folder, { folder, config, weights, media: mediaOf(files, folder) });
  }
  const picked = pickRunCheckpoint([...candidates.keys()]);
  return picked === undefined ? undefined : candidates.get(picked);
}

/** media.json beside the checkpoint, else in its run directory (`runDirectoryOf`). */
function mediaOf(files: readonly NamedFile[], folder: string): NamedFile | undefined {
  const run = runDirectoryOf(folder);
  const inRun = run === folder || run === '' ? run : `${run}/`;
  return [folder, inRun]
    .map((dir) => files.find((file) => file.name === `${dir}${MEDIA_FILE}`))
    .find((file) => file !== undefined);
}
