// Which checkpoint of a dropped directory to load. A `megabyte train` run directory holds several
// (best/, checkpoints/step-N/, each with an optimizer.safetensors beside model.safetensors) and its
// media.json at the top; a converted checkpoint is config.json with one .safetensors file.
import { MEDIA_FILE } from './images.js';
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
const depthOf = (folder: string) => folder.split('/').length;

/**
 * The checkpoint to load: of the directories holding config.json and weights, the shallowest
 * (a run's best/ before its checkpoints/step-N/), then the last by name (the newest step).
 * Weights are model.safetensors, else the directory's only .safetensors besides the optimizer's.
 */
export function pickCheckpoint(files: readonly NamedFile[]): CheckpointFiles | undefined {
  const candidates: CheckpointFiles[] = [];
  for (const config of files.filter((file) => baseOf(file.name) === 'config.json')) {
    const folder = directoryOf(config.name);
    const tensors = files.filter(
      (file) =>
        directoryOf(file.name) === folder &&
        file.name.endsWith('.safetensors') &&
        baseOf(file.name) !== 'optimizer.safetensors',
    );
    const weights = tensors.find((file) => baseOf(file.name) === 'model.safetensors') ?? tensors[0];
    if (weights) candidates.push({ folder, config, weights, media: mediaOf(files, folder) });
  }
  candidates.sort(
    (a, b) =>
      depthOf(a.folder) - depthOf(b.folder) || (a.folder < b.folder ? 1 : a.folder > b.folder ? -1 : 0),
  );
  return candidates[0];
}

/** media.json beside the checkpoint, else in the nearest directory above it (the run's). */
function mediaOf(files: readonly NamedFile[], folder: string): NamedFile | undefined {
  return files
    .filter((file) => baseOf(file.name) === MEDIA_FILE && folder.startsWith(directoryOf(file.name)))
    .sort((a, b) => directoryOf(b.name).length - directoryOf(a.name).length)[0];
}
